#!/usr/bin/env bash
# Install what is missing, build, and run every test.   usage: sudo scripts/test.sh [PYTEST ARGS]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test
make -s
exec make -s test PYTEST_ARGS="$*"
