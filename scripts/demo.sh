#!/usr/bin/env bash
# The whole story on a fresh machine: install, build, start a demo aiohttp service with a
# real blocking bug, put load on it, attach loopscope for a few seconds, print the report.
#   usage: scripts/demo.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-8}
port=${DEMO_PORT:-8765}

scripts/setup.sh --demo
make -s

/usr/bin/python3 scripts/demo/service.py --port "$port" &
svc=$!
trap 'kill $svc $load 2>/dev/null || true' EXIT
for _ in $(seq 50); do
	python3 -c "import socket; socket.create_connection(('127.0.0.1', $port))" 2>/dev/null && break
	sleep 0.1
done
/usr/bin/python3 scripts/demo/load.py "$port" "$((secs + 2))" &
load=$!

echo "== loopscope attach $svc --duration $secs =="
./loopscope attach "$svc" --duration "$secs"
