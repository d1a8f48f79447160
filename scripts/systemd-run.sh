#!/bin/bash
# Run a unit under a REAL systemd (Debian's /lib/systemd/systemd, v252) on a host
# whose PID 1 is not systemd, report its state after $WAIT s, then tear down.
#
# usage: systemd-run.sh UNIT-FILE [FILE...] [-- COMMAND...]
#   UNIT-FILE  the unit to install (under its basename) and start
#   FILE...    nspawn mode: extra files (e.g. the unit's executable) copied into
#              the container at the same absolute path, or SRC=DEST at DEST.  Only
#              needed for paths the container does not already see: it sees the
#              host's root fs through an overlay, but has its own empty /tmp, /run, /dev.
#   -- CMD...  optional command run next to the unit after the report
#              (nspawn: inside the container, all its namespaces), e.g. -- bpftool prog list
# env:
#   MODE=nspawn  (default) boot the host's own root as a systemd-nspawn container
#                (systemd is PID 1 of a new PID namespace: MainPIDs are container PIDs)
#   MODE=user    `systemd --user` as root in the HOST PID namespace (private mount
#                namespace only): services see host PIDs, no seccomp, full root caps
#   WAIT=5       seconds between `systemctl start` and the report
#   CAPS=all     nspawn: extra capabilities for the container ("" = nspawn's default set)
#   SYSCALLS="bpf perf_event_open"  nspawn: syscalls added to nspawn's seccomp
#                allow-list (nspawn's filter makes bpf() fail with EPERM otherwise)
#   HOST_PROC=1  nspawn: bind the host's /proc read-only at /run/host-proc
#   NSPAWN_EXTRA="..."  nspawn: more systemd-nspawn options (word-split)
#   KEEP_LOG=1   keep the boot / manager log in this directory
set -euo pipefail

[ "$(id -u)" = 0 ] || { echo "systemd-run.sh: must run as root" >&2; exit 2; }
[ $# -ge 1 ] || { sed -n '2,24p' "$0" >&2; exit 2; }
UNIT_SRC=$(readlink -f "$1"); shift
[ -f "$UNIT_SRC" ] || { echo "systemd-run.sh: no such unit file: $UNIT_SRC" >&2; exit 2; }
UNIT=$(basename "$UNIT_SRC")
FILES=(); CMD=()
while [ $# -gt 0 ]; do
	if [ "$1" = -- ]; then shift; CMD=("$@"); break; fi
	case $1 in
	*=*) FILES+=("$(readlink -f "${1%%=*}")=${1#*=}") ;;
	*) FILES+=("$(readlink -f "$1")") ;;
	esac
	shift
done
MODE=${MODE:-nspawn}
WAIT=${WAIT:-5}
CAPS=${CAPS-all}
SYSCALLS=${SYSCALLS-bpf perf_event_open}
HOST_PROC=${HOST_PROC:-1}
case $MODE in nspawn|user) ;; *) echo "systemd-run.sh: MODE must be nspawn or user" >&2; exit 2;; esac

HERE=$(cd "$(dirname "$0")" && pwd)
T0=$(date +%s%N)
log() { local ms=$(( ($(date +%s%N) - T0) / 1000000 )); printf '[systemd-run.sh %3d.%01ds] %s\n' $((ms/1000)) $((ms%1000/100)) "$*"; }

# --- 1. packages ---------------------------------------------------------------
need=()
[ -x /lib/systemd/systemd ] || need+=(systemd)
[ $MODE = nspawn ] && ! command -v systemd-nspawn >/dev/null && need+=(systemd-container)
command -v nsenter >/dev/null || need+=(util-linux)
if [ ${#need[@]} -gt 0 ]; then
	log "apt-get install ${need[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -qq "${need[@]}" >/dev/null 2>&1 ||
		{ apt-get update -qq && apt-get install -y -qq "${need[@]}" >/dev/null; }
fi

# --- 2. scratch state ----------------------------------------------------------
M=lsc$$                                # machine name, also our cgroup's name
ROOT=$HERE/root.$M                     # nspawn: non-recursive bind of / = container tree
UDIR=$HERE/user.$M                     # user: XDG dirs of the user manager
LOGF=$HERE/$MODE.$M.log                # nspawn boot log / user manager log
CG_DIRS=()
if [ -f /sys/fs/cgroup/cgroup.controllers ]; then      # pure cgroup v2 host
	CG_DIRS=(/sys/fs/cgroup/$M)
else                                                    # hybrid / legacy host
	for h in /sys/fs/cgroup/systemd /sys/fs/cgroup/unified; do
		[ -d "$h" ] && CG_DIRS+=("$h/$M")
	done
fi
had_nspawn_run=0; [ -d /run/systemd/nspawn ] && had_nspawn_run=1
had_nspawn_root=0; [ -d /run/systemd/nspawn-root ] && had_nspawn_root=1
had_run_systemd=0; [ -d /run/systemd ] && had_run_systemd=1
CAT_PID=""    # user: copies the manager's log FIFO into $LOGF
MAIN_PID=""   # nspawn: the systemd-nspawn process; user: the user manager
LEADER=""     # the systemd we talk to (nspawn: container PID 1, host pid)

rmcg() {  # remove a cgroup tree depth-first (only empty cgroups can go)
	[ -d "$1" ] || return 0
	find "$1" -depth -type d -exec rmdir {} + 2>/dev/null || true
	[ ! -d "$1" ] || echo "[systemd-run.sh] warning: cgroup $1 not removed (processes left?)" >&2
}

teardown() {
	set +e
	if [ -n "$MAIN_PID" ] && kill -0 "$MAIN_PID" 2>/dev/null; then
		# nspawn: SIGTERM = orderly halt of the container; user manager: exits,
		# stopping its units first
		log "stopping (SIGTERM to $MODE pid $MAIN_PID)"
		kill -TERM "$MAIN_PID"
		for _ in $(seq 100); do kill -0 "$MAIN_PID" 2>/dev/null || break; sleep 0.2; done
		if kill -0 "$MAIN_PID" 2>/dev/null; then
			log "not down after 20s: second SIGTERM, then SIGKILL"
			kill -TERM "$MAIN_PID"; sleep 2
			kill -KILL "$MAIN_PID" 2>/dev/null
		fi
		wait "$MAIN_PID" 2>/dev/null
	fi
	[ -n "${CAT_PID:-}" ] && kill "$CAT_PID" 2>/dev/null && wait "$CAT_PID" 2>/dev/null
	local p cg
	for cg in "${CG_DIRS[@]}"; do      # anything left in our cgroups: kill by pid
		[ -d "$cg" ] || continue
		for p in $(find "$cg" -name cgroup.procs -exec cat {} + 2>/dev/null); do
			echo "[systemd-run.sh] warning: leftover pid $p ($(cat /proc/$p/comm 2>/dev/null)), killing" >&2
			kill -KILL "$p" 2>/dev/null
		done
	done
	sleep 0.2
	for cg in "${CG_DIRS[@]}"; do rmcg "$cg"; done
	if [ $MODE = nspawn ]; then
		rmdir "$ROOT" 2>/dev/null
		# host /run is not a tmpfs here: nspawn refuses to rm -rf its propagate dir
		rm -rf --one-file-system "/run/systemd/nspawn/propagate/$M" "/run/systemd/nspawn/locks/machine-$M" 2>/dev/null
		[ $had_nspawn_run = 0 ] && rm -rf --one-file-system /run/systemd/nspawn 2>/dev/null
		[ $had_nspawn_root = 0 ] && rmdir /run/systemd/nspawn-root 2>/dev/null
	else
		rm -rf --one-file-system "$UDIR"
		[ $had_run_systemd = 0 ] && rmdir /run/systemd 2>/dev/null
	fi
	[ "${KEEP_LOG:-0}" = 1 ] || rm -f "$LOGF"
	local left
	left=$(grep -F -e "$M" -e nspawn /proc/self/mountinfo || true)
	[ -z "$left" ] || echo "[systemd-run.sh] warning: leftover mounts: $left" >&2
	log "torn down"
}
trap teardown EXIT
trap 'exit 130' INT TERM

[ ${#CG_DIRS[@]} -gt 0 ] || { echo "systemd-run.sh: no cgroup hierarchy found under /sys/fs/cgroup" >&2; exit 1; }
# systemd (container PID 1 or user manager) moves every process of the cgroup
# it starts in, RECURSIVELY, into <cgroup>/init.scope: it must start in a fresh
# cgroup of its own, never in the host's root cgroup.
for cg in "${CG_DIRS[@]}"; do mkdir -p "$cg"; done
join_cgroups='for cg in '"${CG_DIRS[*]}"'; do echo $$ > $cg/cgroup.procs; done'

if [ $MODE = nspawn ]; then
	# --- 3n. boot the host's root as a container --------------------------------
	# nspawn refuses -D / ("Spawning container on root directory is not
	# supported"), and a recursive bind of / carries the host's populated /dev
	# ("pre-mounted and pre-populated").  A NON-recursive bind of / is the same
	# tree with empty /dev /proc /sys /run /tmp, and --volatile=overlay puts a
	# tmpfs over it: nothing the container writes reaches the host.  The bind is
	# made in a private mount namespace (unshare -m), so the host never sees it.
	mkdir -p "$ROOT"
	args=(
		-D "$ROOT" --volatile=overlay -M "$M"
		--register=no --keep-unit          # no systemd/machined on the host
		--private-network                  # only lo inside; host network untouched
		--link-journal=no --tmpfs=/var/log/journal
		--console=passive -q
	)
	[ -n "$CAPS" ] && args+=(--capability="$CAPS")
	for s in $SYSCALLS; do args+=(--system-call-filter="$s"); done
	[ "$HOST_PROC" = 1 ] && args+=(--bind-ro=/proc:/run/host-proc)
	# shellcheck disable=SC2206
	args+=(${NSPAWN_EXTRA:-})
	# boot only to basic.target: no getty, no multi-user services of the host
	# (postgresql, ...).  systemd in a container reads these from its argv.
	init_args=(systemd.unit=basic.target systemd.show_status=no)
	log "booting: systemd-nspawn ${args[*]} -b ${init_args[*]}"
	sh -c "$join_cgroups"' && exec "$@"' sh \
		unshare -m --propagation private -- \
		sh -c 'mount --bind / "$0" && exec systemd-nspawn "$@"' "$ROOT" \
		"${args[@]}" -b "${init_args[@]}" </dev/null >"$LOGF" 2>&1 &
	MAIN_PID=$!
	for _ in $(seq 100); do       # container PID 1 = child of nspawn running systemd
		for c in $(cat /proc/$MAIN_PID/task/*/children 2>/dev/null); do
			[ "$(cat /proc/$c/comm 2>/dev/null)" = systemd ] && LEADER=$c
		done
		[ -n "$LEADER" ] && break
		kill -0 $MAIN_PID 2>/dev/null || break
		sleep 0.1
	done
	[ -n "$LEADER" ] || { echo "systemd-run.sh: container did not start:"; cat "$LOGF"; exit 1; }
	inside() { nsenter -t "$LEADER" -a -- "$@"; }   # mount/pid/net/ipc/uts/cgroup ns
	sctl() { inside systemctl "$@"; }
	SOCK=/run/systemd/private
	UNIT_DIR=/etc/systemd/system
else
	# --- 3u. systemd --user, as root, in the host PID namespace -----------------
	# `systemd --user` refuses to run unless /run/systemd/system/ exists ("Trying
	# to run as user instance, but the system has not been booted with systemd"):
	# give it one in a private mount namespace, without touching the host's /run.
	# No journald: the manager logs to "kmsg", which in that namespace is a FIFO
	# that we copy into the log (its "console" target would need a real tty), and
	# the units' stdout/stderr are inherited from the manager (user.conf).
	mkdir -p "$UDIR"/{xdg,config/systemd/user,data,state,cache}
	chmod 700 "$UDIR/xdg"
	printf '[Manager]\nDefaultStandardOutput=inherit\nDefaultStandardError=inherit\n' \
		>"$UDIR/config/systemd/user.conf"
	: >"$LOGF"
	mkfifo "$UDIR/kmsg"
	cat 0<>"$UDIR/kmsg" >>"$LOGF" &      # O_RDWR: no EOF when the manager reopens it
	CAT_PID=$!
	[ -d /run/systemd ] || mkdir /run/systemd
	export XDG_RUNTIME_DIR=$UDIR/xdg XDG_CONFIG_HOME=$UDIR/config XDG_DATA_HOME=$UDIR/data \
		XDG_STATE_HOME=$UDIR/state XDG_CACHE_HOME=$UDIR/cache
	log "starting: unshare -m /lib/systemd/systemd --user --unit=basic.target (cgroup ${CG_DIRS[*]})"
	sh -c "$join_cgroups"' && exec unshare -m --propagation private sh -c "
		mount -t tmpfs -o mode=755 lsc-$0 /run/systemd && mkdir /run/systemd/system &&
		mount --bind $1/kmsg /dev/kmsg &&
		exec /lib/systemd/systemd --user --unit=basic.target --log-target=kmsg"' \
		"$M" "$UDIR" </dev/null >>"$LOGF" 2>&1 &
	MAIN_PID=$!            # every step exec()s: this becomes the manager's pid
	LEADER=$MAIN_PID
	inside() { "$@"; }
	# same mount ns as the manager, so that systemctl sees /run/systemd/system
	sctl() { nsenter -t "$LEADER" -m -- systemctl --user "$@"; }
	SOCK=$XDG_RUNTIME_DIR/systemd/private
	UNIT_DIR=$XDG_CONFIG_HOME/systemd/user
fi

for _ in $(seq 200); do          # systemctl needs the manager's private socket
	inside test -S "$SOCK" 2>/dev/null && break
	kill -0 $MAIN_PID 2>/dev/null || { echo "systemd-run.sh: systemd exited:"; cat "$LOGF"; exit 1; }
	sleep 0.1
done
state=$(sctl is-system-running --wait 2>&1 || true)
log "systemd up ($MODE): pid $LEADER on the host, is-system-running: $state"
[ "$state" = running ] || sctl --failed --no-pager --no-legend || true

# --- 4. install and start the unit ---------------------------------------------
inside sh -c "cat > $UNIT_DIR/$UNIT" <"$UNIT_SRC"
if [ $MODE = nspawn ]; then
	for f in "${FILES[@]}"; do
		src=${f%%=*} dst=${f#*=}
		inside sh -c "mkdir -p '$(dirname "$dst")' && cat > '$dst' && chmod $(stat -c %a "$src") '$dst'" <"$src"
	done
fi
sctl daemon-reload
log "systemctl start --no-block $UNIT"
START_LINE=$(wc -l <"$LOGF")
sctl start --no-block "$UNIT"
sleep "$WAIT"

# --- 5. report ------------------------------------------------------------------
log "systemctl show $UNIT (after ${WAIT}s)"
sctl show "$UNIT" -p ActiveState,SubState,Result,StatusText,NRestarts,WatchdogUSec,MainPID,ExecMainStatus
if [ $MODE = nspawn ]; then
	log "journalctl -u $UNIT"
	inside journalctl -u "$UNIT" --no-pager -o short-monotonic || true
else
	# no journald: the manager's log + the unit's stdout/stderr (inherit)
	log "manager log (kmsg format) + unit output since start"
	tail -n +"$((START_LINE + 1))" "$LOGF" || true
fi
if [ ${#CMD[@]} -gt 0 ]; then
	log "run: ${CMD[*]}"
	inside "${CMD[@]}" || echo "[systemd-run.sh] (command exited $?)"
fi
exit 0
