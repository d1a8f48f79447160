#!/usr/bin/env bash
# Install the real consumers that tests/test_flame.py checks the flamegraph writers against:
# Chromium (the SVG's script), go tool pprof (the pprof profile), and from npm the speedscope
# schema, a JSON-schema validator and a browser driver. Idempotent: does nothing (and needs no
# network) when everything is present. npm packages go to .cache/npm (git-ignored), never
# into the tree.
#   usage: sudo scripts/setup-flame-deps.sh
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
apt_want=(chromium golang-go nodejs npm zlib1g-dev)
npm_want=(speedscope ajv playwright-core)

missing=()
for p in "${apt_want[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# a node from elsewhere (nvm, NodeSource) will do as well as Debian's
if command -v node >/dev/null && command -v npm >/dev/null; then
	missing=("${missing[@]/nodejs/}")
	missing=("${missing[@]/npm/}")
fi
read -r -a missing <<<"${missing[*]}"
if [ ${#missing[@]} -gt 0 ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "setup-flame-deps: missing packages: ${missing[*]}; run as root" >&2
		exit 1
	fi
	echo "setup-flame-deps: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

cache="$root/.cache/npm"
need=()
for p in "${npm_want[@]}"; do
	[ -f "$cache/node_modules/$p/package.json" ] || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
	echo "setup-flame-deps: npm install ${need[*]} into .cache/npm"
	mkdir -p "$cache"
	[ -f "$cache/package.json" ] || echo '{"private": true}' >"$cache/package.json"
	# playwright-core drives the system chromium: it must not fetch a browser of its own
	PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --prefix "$cache" --no-audit --no-fund \
		--loglevel=error "${need[@]}"
fi
