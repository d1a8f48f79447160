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
# The suite is pointed at the binary with LOOPSCOPE_BIN (read by tests/conftest.py once it
# supports it) and, until then, by a small pytest plugin that rebinds conftest.LOOPSCOPE.
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
mkvar() {
	make -s --no-print-directory OUTPUT="$OUT" SANITIZE=1 \
		--eval "ls-print-var: ; @echo \$($1)" ls-print-var
}
read -r -a OBJS <<<"$(mkvar USER_OBJS)"
[ ${#OBJS[@]} -gt 0 ] || die "cannot read USER_OBJS from the Makefile"
read -r -a LDFLAGS_MK <<<"$(mkvar LDFLAGS)"
read -r -a LDLIBS_MK <<<"$(mkvar LDLIBS)"
echo "sanitize-test: building $BIN (make OUTPUT=$OUT SANITIZE=1)"
make -s OUTPUT="$OUT" SANITIZE=1 "${OBJS[@]}" || die "build failed"
${CC:-cc} "${LDFLAGS_MK[@]}" "${OBJS[@]}" "${LDLIBS_MK[@]}" -o "$BIN" || die "link failed"
nm "$BIN" 2>/dev/null | grep __asan_init >/dev/null || die "$BIN is not instrumented"

# --- run
REPORTS=$OUT/reports
rm -rf "$REPORTS"
mkdir -p "$REPORTS" "$OUT/plugin"
cat >"$OUT/plugin/ls_sanitized_bin.py" <<'PY'
"""pytest plugin: run the suite against $LOOPSCOPE_BIN (rebinds conftest.LOOPSCOPE before the
test modules import it)."""
import os
import sys

BIN = os.environ["LOOPSCOPE_BIN"]


def _rebind():
    m = sys.modules.get("conftest")
    if m is not None and getattr(m, "LOOPSCOPE", BIN) != BIN:
        m.LOOPSCOPE = BIN


def pytest_configure(config):
    _rebind()


def pytest_collectstart(collector):
    _rebind()


def pytest_report_header(config):
    return "loopscope binary: %s" % BIN
PY

export LOOPSCOPE_BIN=$BIN
# log_path: one file per process that reported; abort_on_error turns a report into a failure
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:log_path=$REPORTS/asan:${ASAN_EXTRA:-}"
export LSAN_OPTIONS="log_path=$REPORTS/lsan"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$REPORTS/ubsan"
export PYTHONPATH="$OUT/plugin${PYTHONPATH:+:$PYTHONPATH}"
[ $# -gt 0 ] || set -- tests/
"$PYTHON" -m pytest -rs -p no:cacheprovider -p ls_sanitized_bin "$@"
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
