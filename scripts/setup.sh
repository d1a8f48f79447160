#!/usr/bin/env bash
# Install what loopscope needs to build and test, from Debian's archive. Idempotent: does
# nothing (and needs no network) when everything is present.
#   usage: scripts/setup.sh [--test|--demo]   adds what the tests or the demo run
set -euo pipefail

build=(make gcc clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev pkg-config)
# libclang-rt-14-dev: libFuzzer for scripts/fuzz.sh (clang only recommends it); prometheus,
# gunicorn, python3-uvicorn, systemd: the daemon's tests (a real scrape, a pre-fork server,
# systemd-analyze verify of the unit, and a real systemd in systemd-nspawn)
test=(python3 python3-pytest python3-uvloop util-linux procps iproute2 libclang-rt-14-dev
      prometheus gunicorn python3-uvicorn systemd systemd-container)

demo=(python3 python3-aiohttp)

want=("${build[@]}")
case "${1:-}" in
--test) want+=("${test[@]}") ;;
--demo) want+=("${demo[@]}") ;;
esac

missing=()
for p in "${want[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "setup: missing packages: ${missing[*]}; run as root (sudo $0 $*)" >&2
	exit 1
fi
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
