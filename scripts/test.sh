#!/usr/bin/env bash
# Install what is missing, build, and run every test.   usage: scripts/test.sh [PYTEST ARGS]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test
scripts/setup-flame-deps.sh	# chromium, go (pprof), npm speedscope/ajv/playwright-core
export FLAME_REQUIRE_TOOLS=1	# in CI a missing consumer fails, never skips
# Debian's CPython 3.13-3.15 into a private root; without them those tests are skipped
scripts/fetch-pythons.sh >/dev/null || echo "test: some Debian interpreters are missing; their tests will be skipped" >&2
make -s
exec make -s test PYTEST_ARGS="$*"
