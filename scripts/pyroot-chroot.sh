#!/usr/bin/env bash
# pyroot-chroot.sh - run one of the private root's interpreters under chroot,
# as in a container: /usr/bin/python3.X inside $ROOT, with its own loader and
# libraries and no wrapper.  The root is made by scripts/fetch-pythons.sh.
#
# Usage: scripts/pyroot-chroot.sh [--pidns] VERSION [PYTHON-ARGS...]
#   e.g. scripts/pyroot-chroot.sh 3.14 -c 'import asyncio; asyncio.run(asyncio.sleep(5))'
#
# Needs root (chroot, mount).  It runs in a private mount namespace
# (unshare -m, propagation private) where it mounts a fresh proc on
# $ROOT/proc and rbinds the host's /dev on $ROOT/dev; these mounts vanish
# with the process and are never seen by the host.  $ROOT/tmp is a plain
# directory (mode 1777) of the root: the host sees it at $ROOT/tmp, the
# chrooted python at /tmp, so put scripts there and pass /tmp/NAME.py.
# chroot changes the working directory to the root's /, so relative paths
# given on the command line resolve inside the root.
#
# Without --pidns the process stays in the host's PID namespace and every
# step execs (unshare, sh, chroot, python): the PID the caller gets ($!) is
# the interpreter's.  Its /proc/PID/exe is $ROOT/usr/bin/python3.X,
# /proc/PID/root is $ROOT, and paths in /proc/PID/maps are host paths.
#
# With --pidns python runs in a new PID namespace (unshare -p --fork), as
# PID 1 there; the caller's PID is the unshare parent, the interpreter is
# its only child (/proc/PID/task/PID/children), and /proc/CHILD/status has
# "NSpid: <host pid> 1".
#
# Environment: LOOPSCOPE_PYROOT (default <repo>/.cache/pyroot), as for
# fetch-pythons.sh.  The caller's environment passes through as is.
set -euo pipefail

die() { echo "pyroot-chroot: $*" >&2; exit 1; }

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(git -C "$SCRIPT_DIR" rev-parse --show-toplevel 2>/dev/null || (cd "$SCRIPT_DIR/.." && pwd))
ROOT=${LOOPSCOPE_PYROOT:-$REPO/.cache/pyroot}

PIDNS=
if [ "${1:-}" = --pidns ]; then PIDNS=1; shift; fi
[ $# -ge 1 ] || die "usage: $0 [--pidns] VERSION [PYTHON-ARGS...]"
V=${1#python}; shift
[[ $V =~ ^3\.[0-9]+$ ]] || die "bad version '$V' (want e.g. 3.14)"
[ -x "$ROOT/usr/bin/python$V" ] || die "python$V is not in $ROOT: run scripts/fetch-pythons.sh $V"
[ "$(id -u)" = 0 ] || die "needs root (chroot and mounts)"
ROOT=$(cd "$ROOT" && pwd -P)
mkdir -p "$ROOT/proc" "$ROOT/dev" "$ROOT/tmp"

# Runs inside the new mount namespace, then becomes python.
# $0 = root, $1 = version, $2 = 1 if proc is already mounted, rest = args.
# shellcheck disable=SC2016
INNER='
r=$0 v=$1 have_proc=$2; shift 2
if [ "$have_proc" != 1 ]; then
	mount -t proc proc "$r/proc" 2>/dev/null || mount --rbind /proc "$r/proc" || exit 125
fi
mount --rbind /dev "$r/dev" || exit 125
exec chroot "$r" "/usr/bin/python$v" "$@"
'
if [ -n "$PIDNS" ]; then
	exec unshare --mount --propagation private --pid --fork --mount-proc="$ROOT/proc" \
		/bin/sh -c "$INNER" "$ROOT" "$V" 1 "$@"
else
	exec unshare --mount --propagation private \
		/bin/sh -c "$INNER" "$ROOT" "$V" 0 "$@"
fi
