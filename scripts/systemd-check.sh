#!/usr/bin/env bash
# systemd-check.sh - start the shipped unit (scripts/systemd/loopscope.service, hardening
# and all) under a REAL systemd 252 booted in a systemd-nspawn container (scripts/
# systemd-run.sh), and show that systemd sees READY=1 and keeps getting WATCHDOG=1: the
# service is active/running with loopscope's status text, survives several watchdog
# periods, and when loopscope is frozen (SIGSTOP) systemd kills it for the watchdog and
# restarts it. Prints PASS or FAIL; exit 0 on PASS.
#
# The container has its own PID namespace, which loopscope cannot watch across: here it
# watches nothing (the point is the unit's contract with systemd). In production the unit
# runs in the host's PID namespace, like any system service.
#
#   usage: scripts/systemd-check.sh          (root; about 20 s)
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
[ "$(id -u)" = 0 ] || { echo "systemd-check: needs root" >&2; exit 2; }
[ -x "$REPO/loopscope" ] || { echo "systemd-check: build first (make)" >&2; exit 2; }
command -v systemd-nspawn >/dev/null || {
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -qq --no-install-recommends systemd-container >/dev/null ||
		{ apt-get update -qq && apt-get install -y -qq --no-install-recommends \
			systemd-container >/dev/null; }
}

WORK=$(mktemp -d /tmp/loopscope-systemd.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
# the shipped unit, with a 2 s watchdog so freezing shows quickly; the binary and config
# are copied into the container (its overlay, not the host) where the unit expects them
sed -e 's|^WatchdogSec=.*|WatchdogSec=2s|' -e 's|^RestartSec=.*|RestartSec=1s|' \
    "$REPO/scripts/systemd/loopscope.service" >"$WORK/loopscope.service"
grep -q "^ExecStart=/usr/local/bin/loopscope daemon --config /etc/loopscope/loopscope.conf" \
	"$WORK/loopscope.service" ||
	{ echo "systemd-check: ExecStart line of the unit changed; update this script" >&2; exit 1; }
cat >"$WORK/loopscope.conf" <<'EOF'
match = ^no-such-process-here$
service = systemd-check
listen = 127.0.0.1:9464
EOF

# after the first report: 6 s more (3 watchdog periods), report; freeze; report
check='
show() { systemctl show loopscope.service -p ActiveState,SubState,Result,StatusText,NRestarts,WatchdogUSec,MainPID; }
sleep 6; echo "== after 6 more seconds"; show
systemctl kill -s SIGSTOP --kill-who=main loopscope.service
sleep 5; echo "== 5 s after SIGSTOP"; show
journalctl -u loopscope.service --no-pager -o cat | grep -E "watchdog|Watchdog|ready|Started|listening" | head -12
'
out=$(WAIT=3 "$REPO/scripts/systemd-run.sh" "$WORK/loopscope.service" \
	"$REPO/loopscope=/usr/local/bin/loopscope" "$WORK/loopscope.conf=/etc/loopscope/loopscope.conf" \
	-- sh -c "$check" 2>&1) || true
echo "$out"

first=$(echo "$out" | sed -n '/systemctl show loopscope.service (after/,/^== after/p')
later=$(echo "$out" | sed -n '/^== after 6 more/,/^== 5 s after/p')
frozen=$(echo "$out" | sed -n '/^== 5 s after SIGSTOP/,$p')
fail() { echo "FAIL systemd-check: $*"; exit 1; }
echo "$first" | grep -q '^ActiveState=active' || fail "not active after start (READY=1 not seen?)"
echo "$first" | grep -q '^StatusText=watching 0 processes' || fail "no STATUS= text"
echo "$later" | grep -q '^ActiveState=active' || fail "not active after 3 watchdog periods"
echo "$later" | grep -q '^NRestarts=0' || fail "restarted while pinging"
echo "$frozen" | grep -q 'Watchdog timeout' || fail "frozen loopscope was not caught by the watchdog"
echo "$frozen" | grep -q '^NRestarts=[1-9]' || fail "not restarted after the watchdog"
echo "PASS systemd-check: READY=1 and STATUS seen by systemd 252, WATCHDOG=1 kept it up for 3 periods, a frozen loopscope was killed by the watchdog and restarted"
