#!/usr/bin/env bash
# fetch-pythons.sh - install Debian's newer CPython builds (python3.13, 3.14,
# 3.15 from sid, falling back to experimental) into a PRIVATE root inside the
# project, for loopscope's tests.  The host's apt state and installed packages
# are never touched: apt-get runs with its own lists, cache, dpkg status,
# sources and preferences under $ROOT/.apt, and the .debs are unpacked with
# dpkg-deb (no maintainer scripts run).
#
# Usage:
#   scripts/fetch-pythons.sh [--update] [--force] [--dbg] [VERSION...]
#                                  install (default versions: 3.13 3.14 3.15)
#   scripts/fetch-pythons.sh --list    print "VERSION WRAPPER" per installed one
#   scripts/fetch-pythons.sh --check [VERSION...]  re-run the checks, print facts
#   scripts/fetch-pythons.sh --chroot [--pidns] VERSION [ARGS...]
#                                  same as scripts/pyroot-chroot.sh
#
#   --update  refresh the private package lists (otherwise fetched only once;
#             also refreshed automatically when a download fails)
#   --force   re-unpack and re-check even if the stamp says all is done
#   --dbg     also fetch python3.X-dbg (about 60 MB each: off by default) and
#             unpack only its /usr/lib/debug, which holds the DWARF of the
#             release interpreter ($ROOT/usr/lib/debug/.build-id/xx/yyy.debug);
#             its dependencies (debug interpreter, tk, X11) are not fetched
#
# Environment:
#   LOOPSCOPE_PYROOT      the private root (default: <repo>/.cache/pyroot)
#   LOOPSCOPE_APT_KEYRING keyring that signs the archive
#                         (default: /usr/share/keyrings/debian-archive-keyring.gpg)
#   LOOPSCOPE_DEBIAN_URI  archive address; by default it is read at run time
#                         from this machine's apt sources (the entry for the
#                         host's own release), never written in this file.
#
# Result:
#   $ROOT/bin/python3.X      wrapper: execs the interpreter through the root's
#                            own loader ($ROOT/lib64/ld-linux-x86-64.so.2), so the
#                            caller's PID is the interpreter; /proc/PID/exe is the
#                            loader, the python ELF is $ROOT/usr/bin/python3.X
#                            (see /proc/PID/maps).  sys.executable is the wrapper.
#   $ROOT/usr/bin/python3.X  the real interpreter (runs as is under chroot)
#   $ROOT/.loopscope-pythons stamp: "VERSION DEB-VERSION SUITE" per interpreter
#   $ROOT/.facts/python3.X.txt  facts recorded by the check (version, CONFIG_ARGS,
#                            USDT probes, ELF holding _PyRuntime, _asyncio)
#
# Output: one line per interpreter, "FULL-VERSION WRAPPER-PATH"; for one that
# cannot be had, "MISSING python3.X: reason" on stderr, and exit status 1
# (the others are still installed).
set -euo pipefail

die() { echo "fetch-pythons: $*" >&2; exit 1; }
log() { [ -n "${QUIET:-}" ] || echo "fetch-pythons: $*" >&2; }

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(git -C "$SCRIPT_DIR" rev-parse --show-toplevel 2>/dev/null || (cd "$SCRIPT_DIR/.." && pwd))
ROOT=${LOOPSCOPE_PYROOT:-$REPO/.cache/pyroot}
APTDIR=$ROOT/.apt
STAMP=$ROOT/.loopscope-pythons
FACTS=$ROOT/.facts
DEFAULT_VERSIONS="3.13 3.14 3.15"
SUITES="sid experimental"
# Pulled in by dependencies but not needed to run python (only for maintainer
# scripts, or iconv charsets python does not use).
EXCLUDE=" debconf perl-base dpkg libc-gconv-modules-extra "
KEYRING=${LOOPSCOPE_APT_KEYRING:-/usr/share/keyrings/debian-archive-keyring.gpg}
MULTIARCH=x86_64-linux-gnu
LDSO_NAME=ld-linux-x86-64.so.2

# ---------------------------------------------------------------- arguments
MODE=install; UPDATE=; FORCE=; DBG=; VERSIONS=()
while [ $# -gt 0 ]; do
	case $1 in
	--list) MODE=list ;;
	--check) MODE=check ;;
	--update) UPDATE=1 ;;
	--force) FORCE=1 ;;
	--dbg) DBG=1 ;;
	--chroot) shift; exec "$SCRIPT_DIR/pyroot-chroot.sh" "$@" ;;
	-h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	-*) die "unknown option $1 (see --help)" ;;
	*) v=${1#python}; [[ $v =~ ^3\.[0-9]+$ ]] || die "bad version '$1' (want e.g. 3.14)"
	   VERSIONS+=("$v") ;;
	esac
	shift
done
[ ${#VERSIONS[@]} -gt 0 ] || read -r -a VERSIONS <<<"$DEFAULT_VERSIONS"

wrapper() { echo "$ROOT/bin/python$1"; }
stamped() { [ -f "$STAMP" ] && awk -v v="$1" '$1==v{f=1} END{exit !f}' "$STAMP"; }

if [ "$MODE" = list ]; then
	[ -f "$STAMP" ] || exit 0
	while read -r v _; do
		[ -x "$(wrapper "$v")" ] && echo "$v $(wrapper "$v")"
	done <"$STAMP"
	exit 0
fi

[ "$(uname -m)" = x86_64 ] || die "only x86_64 (amd64) is supported"
for tool in apt-get apt-cache dpkg-deb tar flock; do
	command -v "$tool" >/dev/null || die "$tool is needed"
done

mkdir -p "$ROOT"
exec 9>"$ROOT/.lock"
flock 9   # one run at a time on this root

# ---------------------------------------------------------------- checks
# Prints the full version if the wrapper works.
quick_ok() { "$(wrapper "$1")" -I -S -c 'import sys; print(sys.version.split()[0])' 2>/dev/null; }

# Run the checks of one interpreter; write $FACTS/python$v.txt; 0 if it works.
check_version() {
	local v=$1 w py out rt f probes bid
	w=$(wrapper "$v"); py=$ROOT/usr/bin/python$v
	mkdir -p "$FACTS"
	{
		echo "# python$v in $ROOT, checked $(date -u +%FT%TZ)"
		echo "wrapper: $w"
		echo "interpreter ELF: $py"
		out=$("$w" -c '
import sys, sysconfig
print("version:", sys.version.replace("\n", " "))
print("executable:", sys.executable)
print("prefix:", sys.prefix)
print("CONFIG_ARGS:", sysconfig.get_config_var("CONFIG_ARGS"))
import asyncio, ssl, json, socket, sqlite3, ctypes
print("imports: asyncio ssl json socket sqlite3 ctypes ok;", ssl.OPENSSL_VERSION, "; sqlite", sqlite3.sqlite_version)
import _asyncio
print("_asyncio:", "built-in" if "_asyncio" in sys.builtin_module_names else _asyncio.__file__)
async def tick(n):
    await asyncio.sleep(0.01)
    return n * 2
async def main():
    return sum(await asyncio.gather(*(asyncio.create_task(tick(i)) for i in range(5))))
print("asyncio.run:", "ok" if asyncio.run(main()) == 20 else "WRONG")
' 2>&1) || { echo "CHECK FAILED"; echo "$out"; return 1; }
		echo "$out"
		if command -v readelf >/dev/null; then
			probes=$(readelf -n "$py" 2>/dev/null | awk '/stapsdt/{s=1} s&&/Name:/{print $2; s=0}' | sort -u | tr '\n' ' ')
			echo "usdt (.note.stapsdt): ${probes:-none}"
			rt=
			for f in "$py" "$ROOT"/usr/lib/"$MULTIARCH"/libpython"$v"*.so*; do
				[ -f "$f" ] || continue
				if readelf -Ws --dyn-syms "$f" 2>/dev/null | awk '$NF=="_PyRuntime"{f=1} END{exit !f}'; then
					rt="$rt $f"
				fi
			done
			echo "_PyRuntime in:${rt:- (not found)}"
			bid=$(readelf -n "$py" 2>/dev/null | awk '/Build ID:/{print $3; exit}')
			f=$ROOT/usr/lib/debug/.build-id/${bid:0:2}/${bid:2}.debug
			echo "build-id: $bid; DWARF: $([ -n "$bid" ] && [ -f "$f" ] && echo "$f" || echo "none (see --dbg)")"
			echo "_PyRuntime dynsym: $(readelf -W --dyn-syms "$py" | awk '$NF=="_PyRuntime"{print "yes, value 0x"$2", size "$3; f=1} END{if(!f)print "no"}')"
		else
			echo "usdt: readelf not available"
		fi
	} >"$FACTS/python$v.txt"
}

print_line() { echo "$(quick_ok "$1") $(wrapper "$1")"; }

if [ "$MODE" = check ]; then
	rc=0
	for v in "${VERSIONS[@]}"; do
		if stamped "$v" && check_version "$v"; then cat "$FACTS/python$v.txt"
		else echo "MISSING python$v: not installed or check failed" >&2; rc=1; fi
	done
	exit $rc
fi

# ---------------------------------------------------------------- fast path
TODO=()
for v in "${VERSIONS[@]}"; do
	if [ -z "$FORCE" ] && stamped "$v" && [ -x "$(wrapper "$v")" ] && [ -n "$(quick_ok "$v")" ] &&
		{ [ -z "$DBG" ] || grep -q '^build-id: .*DWARF: /' "$FACTS/python$v.txt" 2>/dev/null; }; then
		continue
	fi
	TODO+=("$v")
done
if [ ${#TODO[@]} -eq 0 ]; then
	for v in "${VERSIONS[@]}"; do print_line "$v"; done
	exit 0
fi

# ---------------------------------------------------------------- private apt
# shellcheck source=lib/apt-archive.sh
. "$SCRIPT_DIR/lib/apt-archive.sh"
find_archive_uri() {
	local codename
	[ -n "${LOOPSCOPE_DEBIAN_URI:-}" ] && { echo "$LOOPSCOPE_DEBIAN_URI"; return; }
	# shellcheck disable=SC1091
	codename=$( (. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}") || true)
	: "${codename:=bookworm}"
	apt_archive_uri "$codename"
}

private_apt_opts "$APTDIR"
papt() { apt-get -q "${APT_OPTS[@]}" "$@"; }
pcache() { apt-cache "${APT_OPTS[@]}" "$@"; }

setup_apt() {
	local uri suite
	uri=$(find_archive_uri) || die "no Debian archive for this release found in /etc/apt/sources.list{,.d/} (set LOOPSCOPE_DEBIAN_URI)"
	# The host's archive keyring (Debian 12's debian-archive-keyring) holds the
	# bookworm and trixie automatic signing keys, which also sign sid's and
	# experimental's InRelease: apt checks the signature against this keyring
	# only (signed-by), and refuses the lists if it cannot.  No trusted=yes.
	[ -r "$KEYRING" ] || die "keyring $KEYRING not readable (set LOOPSCOPE_APT_KEYRING)"
	mkdir -p "$APTDIR"/{state,lists/partial,cache/archives/partial,log,debs}
	[ -f "$APTDIR/state/status" ] || : >"$APTDIR/state/status"   # empty private dpkg status
	{
		for suite in $SUITES; do echo "deb [signed-by=$KEYRING] $uri $suite main"; done
	} >"$APTDIR/sources.list.new"
	if ! cmp -s "$APTDIR/sources.list.new" "$APTDIR/sources.list" 2>/dev/null; then
		mv "$APTDIR/sources.list.new" "$APTDIR/sources.list"; UPDATE=1
	else
		rm -f "$APTDIR/sources.list.new"
	fi
	# apt-get drops to the _apt user to download: let it write the .deb dir.
	if [ "$(id -u)" = 0 ] && id _apt >/dev/null 2>&1; then chown _apt "$APTDIR/debs"; fi
	ls "$APTDIR"/lists/*_dists_sid_InRelease >/dev/null 2>&1 || UPDATE=1
	[ -z "$UPDATE" ] || apt_update
}
apt_update() {
	log "updating private package lists ($SUITES)"
	papt update >"$APTDIR/log/update.log" 2>&1 || { cat "$APTDIR/log/update.log" >&2; die "apt-get update (private lists) failed"; }
	if grep -qE '^(W|E): ' "$APTDIR/log/update.log"; then grep -E '^(W|E): ' "$APTDIR/log/update.log" >&2; fi
	UPDATE=
	LISTS_FETCHED=$(awk '/^Fetched /{print $2, $3}' "$APTDIR/log/update.log")
}

# Fill CAND[pkg]="VERSION SUITE" for the candidates of packages "$@" (one
# apt-cache run each for policy and madison: every run re-reads the lists).
declare -A CAND
query_candidates() {
	local p ver suite
	CAND=()
	while read -r p ver; do
		[ "$ver" = "(none)" ] || CAND[$p]=$ver
	done < <(pcache policy "$@" 2>/dev/null | awk '/^[^ ].*:$/{p=substr($0, 1, length($0)-1)} /Candidate:/{print p, $2}')
	while read -r p ver suite; do
		[ "${CAND[$p]:-}" = "$ver" ] && CAND[$p]="$ver $suite"
	done < <(pcache madison "$@" 2>/dev/null | awk -F' *[|] *' '{gsub(/ /, "", $1); n = split($3, a, " "); split(a[n-2], s, "/"); print $1, $2, s[1]}')
	return 0
}

pkgs_for() { echo "python$1-minimal libpython$1-minimal libpython$1-stdlib"; }

# Full closure (name=version lines) of the packages in "$@", from an empty status.
resolve() {
	papt install -s "$@" 2>&1 | awk -v ex="$EXCLUDE" '
		/^Inst / { v = $3; sub(/^\(/, "", v); if (index(ex, " " $2 " ") == 0) print $2 "=" v }
		/^E: / { print > "/dev/stderr"; bad = 1 }
		END { exit bad }'
}

# ---------------------------------------------------------------- install
T0=$(date +%s.%N)
setup_apt

MISSING=()
declare -A SUITE_OF DEBVER_OF
AVAIL=()
qp=()
for v in "${TODO[@]}"; do qp+=("python$v-minimal" "libpython$v-stdlib"); done
query_candidates "${qp[@]}"
for v in "${TODO[@]}"; do
	c=${CAND[python$v-minimal]:-} c2=${CAND[libpython$v-stdlib]:-}
	if [ -z "$c" ] || [ -z "$c2" ]; then
		MISSING+=("python$v: not in Debian ${SUITES// / or }"); continue
	fi
	DEBVER_OF[$v]=${c%% *}; SUITE_OF[$v]=${c#* }
	[ "${c2%% *}" = "${DEBVER_OF[$v]}" ] || log "warning: python$v-minimal ${DEBVER_OF[$v]} vs libpython$v-stdlib ${c2%% *}"
	AVAIL+=("$v")
done

resolve_all() {   # sets CLOSURE for AVAIL, dropping versions that do not resolve
	local pk=() p=() v ok=() dv
	for v in "${AVAIL[@]}"; do read -r -a p <<<"$(pkgs_for "$v")"; pk+=("${p[@]}"); done
	[ ${#pk[@]} -gt 0 ] || { CLOSURE=; return 0; }
	if CLOSURE=$(resolve "${pk[@]}" 2>"$APTDIR/log/resolve.err"); then return 0; fi
	# Find the versions that resolve alone, from sid or else with experimental
	# preferred (a python only in experimental may need its newer libraries).
	for v in "${AVAIL[@]}"; do
		read -r -a p <<<"$(pkgs_for "$v")"
		if resolve "${p[@]}" >/dev/null 2>&1 || resolve -t experimental "${p[@]}" >/dev/null 2>"$APTDIR/log/resolve.err"; then
			ok+=("$v")
		else
			MISSING+=("python$v: dependencies do not resolve ($(head -1 "$APTDIR/log/resolve.err"))")
		fi
	done
	AVAIL=("${ok[@]}")
	pk=()
	for v in "${AVAIL[@]}"; do read -r -a p <<<"$(pkgs_for "$v")"; pk+=("${p[@]}"); done
	[ ${#pk[@]} -gt 0 ] || { CLOSURE=; return 0; }
	CLOSURE=$(resolve "${pk[@]}" 2>/dev/null) || CLOSURE=$(resolve -t experimental "${pk[@]}") ||
		die "dependencies of python ${AVAIL[*]} do not resolve together"
	# -t experimental may have picked other versions than the candidates.
	for v in "${AVAIL[@]}"; do
		dv=$(printf '%s\n' "$CLOSURE" | sed -n "s/^python$v-minimal=//p")
		if [ -n "$dv" ] && [ "$dv" != "${DEBVER_OF[$v]}" ]; then DEBVER_OF[$v]=$dv; SUITE_OF[$v]=experimental; fi
	done
}
CLOSURE=
[ ${#AVAIL[@]} -eq 0 ] || resolve_all
dbg_list() {   # python3.X-dbg at the interpreter's version, without its dependencies
	DBGLIST=
	[ -n "$DBG" ] || return 0
	local v
	for v in "${AVAIL[@]}"; do
		if pcache madison "python$v-dbg" | awk -F' *[|] *' -v x="${DEBVER_OF[$v]}" '$2==x{f=1} END{exit !f}'; then
			DBGLIST="$DBGLIST python$v-dbg=${DEBVER_OF[$v]}"
		else
			log "warning: no python$v-dbg ${DEBVER_OF[$v]}: no debug info for python$v"
		fi
	done
}
dbg_list

deb_file() {  # name=version -> file name apt-get download writes
	local n=${1%%=*} ver=${1#*=}
	echo "${n}_${ver//:/%3a}_"
}
DL_BYTES=0
download() {
	local need=() p f
	for p in $CLOSURE $DBGLIST; do
		compgen -G "$APTDIR/debs/$(deb_file "$p")*.deb" >/dev/null || need+=("$p")
	done
	[ ${#need[@]} -gt 0 ] || return 0
	log "downloading ${#need[@]} packages"
	(cd "$APTDIR/debs" && papt download "${need[@]}") >"$APTDIR/log/download.log" 2>&1 || return 1
	for p in "${need[@]}"; do
		for f in "$APTDIR/debs/$(deb_file "$p")"*.deb; do
			[ -f "$f" ] && DL_BYTES=$((DL_BYTES + $(stat -c %s "$f")))
		done
	done
}
if [ -n "$CLOSURE" ]; then
	if ! download; then
		# sid moves fast: cached lists may name files already gone from the pool.
		log "download failed; refreshing the private lists and retrying"
		apt_update; resolve_all; dbg_list
		download || { cat "$APTDIR/log/download.log" >&2; die "apt-get download failed"; }
	fi
fi

# Unpack (no maintainer scripts).  The root is merged-/usr for lib, lib64 and
# sbin, but $ROOT/bin is a real directory that holds only our wrappers.
unpack() {
	local p f done_list=$APTDIR/state/unpacked
	mkdir -p "$ROOT"/{usr/bin,usr/sbin,usr/lib/$MULTIARCH,usr/lib64,bin,etc,dev,proc,sys,root,var/tmp,tmp}
	for d in lib lib64 sbin; do [ -e "$ROOT/$d" ] || ln -s "usr/$d" "$ROOT/$d"; done
	chmod 1777 "$ROOT/tmp" "$ROOT/var/tmp"
	touch "$done_list"
	[ -z "$FORCE" ] || : >"$done_list"
	for p in $CLOSURE $DBGLIST; do
		grep -qxF "$p" "$done_list" && continue
		f=$(compgen -G "$APTDIR/debs/$(deb_file "$p")*.deb" | head -1)
		[ -n "$f" ] || die "no .deb for $p"
		only=()
		case $p in python3.*-dbg=*) only=(./usr/lib/debug) ;; esac
		dpkg-deb --fsys-tarfile "$f" | tar -x -C "$ROOT" --keep-directory-symlink --no-same-owner \
			--exclude=./usr/share/doc --exclude=./usr/share/man --exclude=./usr/share/info \
			--exclude=./usr/share/lintian --exclude=./usr/share/locale "${only[@]}" \
			|| die "unpacking $f failed"
		echo "$p" >>"$done_list"
	done
	[ -e "$ROOT/usr/lib64/$LDSO_NAME" ] || ln -sf "../lib/$MULTIARCH/$LDSO_NAME" "$ROOT/usr/lib64/$LDSO_NAME"
	# Minimal /etc for the chroot case (resolving "localhost", pwd lookups).
	[ -e "$ROOT/etc/hosts" ] || printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$ROOT/etc/hosts"
	[ -e "$ROOT/etc/passwd" ] || printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n' >"$ROOT/etc/passwd"
	[ -e "$ROOT/etc/group" ] || printf 'root:x:0:\nnogroup:x:65534:\n' >"$ROOT/etc/group"
}
[ -z "$CLOSURE$DBGLIST" ] || unpack

sq() { printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"; }
write_wrapper() {
	local v=$1 w
	w=$(wrapper "$v")
	# --argv0 makes sys.executable the wrapper (so subprocess/multiprocessing
	# re-exec through the loader too); Python then finds its prefix, $ROOT,
	# from it ($ROOT/lib -> usr/lib).  --inhibit-cache keeps the host's
	# /etc/ld.so.cache out.  No PYTHONHOME: it would leak into child processes.
	cat >"$w.new" <<EOF
#!/bin/sh
# python$v from the private root $ROOT
# (generated by scripts/fetch-pythons.sh).  exec: the caller's PID is the
# interpreter's; /proc/PID/exe is the loader, the python ELF is
# $ROOT/usr/bin/python$v.
exec $(sq "$ROOT/lib64/$LDSO_NAME") --inhibit-cache \\
	--library-path $(sq "$ROOT/usr/lib/$MULTIARCH:$ROOT/usr/lib") \\
	--argv0 $(sq "$w") $(sq "$ROOT/usr/bin/python$v") "\$@"
EOF
	chmod 755 "$w.new"; mv "$w.new" "$w"
}

RC=0
for v in "${AVAIL[@]}"; do
	[ -x "$ROOT/usr/bin/python$v" ] || { MISSING+=("python$v: interpreter not unpacked"); continue; }
	write_wrapper "$v"
	if check_version "$v"; then
		{ [ -f "$STAMP" ] && awk -v v="$v" '$1!=v' "$STAMP"; echo "$v ${DEBVER_OF[$v]} ${SUITE_OF[$v]}"; } >"$STAMP.new"
		mv "$STAMP.new" "$STAMP"
	else
		sed 's/^/  /' "$FACTS/python$v.txt" >&2
		MISSING+=("python$v: installed but the check failed (see $FACTS/python$v.txt)")
	fi
done

for v in "${VERSIONS[@]}"; do stamped "$v" && print_line "$v"; done
T1=$(date +%s.%N)
log "$(awk -v b="$DL_BYTES" -v t0="$T0" -v t1="$T1" -v l="${LISTS_FETCHED:-0 B}" 'BEGIN{printf "downloaded %.1f MB of packages (+ %s of package lists); %.1f s", b/1e6, l, t1-t0}')"
for m in "${MISSING[@]}"; do echo "MISSING $m" >&2; RC=1; done
exit $RC
