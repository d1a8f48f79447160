#!/usr/bin/env bash
# sanitize-test.sh [PYTEST-ARGS...] - build loopscope with ASan+UBSan (the Makefile's
# SANITIZE=1 flags) into its own OUTPUT directory, without touching ./loopscope or .output/,
# then run the pytest suite against that binary. Fails (exit 1) if a test fails or if the
# sanitized loopscope reported anything (ASan, LeakSanitizer, UBSan), even in a test that
# passed. Needs root, like the suite.
#
#   scripts/sanitize-test.sh                      # the whole suite
#   scripts/sanitize-test.sh tests/test_faults.py -k flood
#
# Environment: SAN_OUT (default /tmp/loopscope-sanitize): objects, binary and reports.
# The suite is pointed at the binary with LOOPSCOPE_BIN, which tests/conftest.py reads.
set -uo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=${SAN_OUT:-/tmp/loopscope-sanitize}
PYTHON=${PYTHON:-/usr/bin/python3}
die() { echo "sanitize-test: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root (the suite loads BPF programs)"

cd "$REPO" || exit 1
mkdir -p "$OUT"
BIN=$OUT/loopscope

# --- build: the Makefile's own rules and variables, objects only (its link rule always
# writes ./loopscope); the link line is the Makefile's with another output
echo "sanitize-test: building $BIN (make OUTPUT=$OUT BIN=$BIN SANITIZE=1)"
make -s OUTPUT="$OUT" BIN="$BIN" SANITIZE=1 || die "build failed"
nm "$BIN" 2>/dev/null | grep __asan_init >/dev/null || die "$BIN is not instrumented"

REPORTS=$OUT/reports
rm -rf "$REPORTS"
mkdir -p "$REPORTS"

export LOOPSCOPE_BIN=$BIN
# log_path: one file per process that reported; abort_on_error turns a report into a failure
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:log_path=$REPORTS/asan:${ASAN_EXTRA:-}"
export LSAN_OPTIONS="log_path=$REPORTS/lsan"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$REPORTS/ubsan"
[ $# -gt 0 ] || set -- tests/
"$PYTHON" -m pytest -rs -p no:cacheprovider "$@"	# conftest runs $LOOPSCOPE_BIN
rc=$?

found=$(find "$REPORTS" -type f -size +0 | sort)
if [ -n "$found" ]; then
	echo "sanitize-test: sanitizer reports:" >&2
	for f in $found; do
		echo "==== $f" >&2
		head -60 "$f" >&2
	done
	exit 1
fi
[ $rc -eq 0 ] || die "pytest failed (exit $rc)"
echo "sanitize-test: suite passed, no sanitizer report ($BIN)"
