#!/usr/bin/env bash
# fuzz.sh [SECONDS] [HARNESS...] - build the libFuzzer harnesses of tests/fuzz/ into
# .output/fuzz/ and run each for SECONDS (default 20) on its seed corpus
# (tests/fuzz/corpus/<harness>/). Exit 1 on any crash, leak, timeout or sanitizer report
# (the reproducer is left in .output/fuzz/artifacts/), 2 on a build failure.
#
# A harness tests/fuzz/fuzz_NAME.c says what it links in its first lines:
#   // fuzz-sources: user/py/elf.c tests/fuzz/x.c user/py/*.c -user/py/remote.c
#   // fuzz-libs: -lelf -lz
# (globs allowed; "-path" drops a file the globs matched). New inputs found while fuzzing
# go to .output/fuzz/work/NAME/ (kept between runs, never committed); to add one to the seed
# corpus, copy it into tests/fuzz/corpus/NAME/. tests/fuzz/mkcorpus.py regenerates the seeds.
#
# Environment: CLANG (default clang), FUZZ_FLAGS (extra libFuzzer flags, e.g. -jobs=2),
# FUZZ_OUT (default .output/fuzz).
set -uo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO" || exit 2
SECONDS_EACH=20
if [[ ${1:-} =~ ^[0-9]+$ ]]; then SECONDS_EACH=$1; shift; fi
CLANG=${CLANG:-clang}
OUT=${FUZZ_OUT:-$REPO/.output/fuzz}
mkdir -p "$OUT/artifacts" "$OUT/work" "$OUT/logs"

# shellcheck disable=SC2054  # the commas are clang's
CFLAGS=(-g -O1 -fno-omit-frame-pointer -std=gnu11 -D_GNU_SOURCE -Wall -Wno-unused-parameter
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
	-Iuser -Ibpf -Itests/fuzz "-DLS_REPO=\"$REPO\"")

command -v "$CLANG" >/dev/null || { echo "fuzz.sh: $CLANG not found (apt-get install clang)" >&2; exit 2; }

# what the Makefile builds into loopscope (it leaves out modules still being written): globs
# in fuzz-sources only pick files from this list
# shellcheck disable=SC2016  # $(USER_SRCS) is make's
MK_SRCS=" $(make -s --no-print-directory --eval 'ls-print-var: ; @echo $(USER_SRCS)' \
	ls-print-var 2>/dev/null) "

# sources of a harness from its "// fuzz-sources:" line
sources() {
	local spec f g drop=() out=()
	spec=$(sed -n 's|^// fuzz-sources:||p' "$1" | head -1)
	for f in $spec; do
		if [[ $f == -* ]]; then drop+=("${f#-}"); continue; fi
		if [[ $f == *[*?]* ]]; then
			for g in $f; do
				[ -e "$g" ] || continue
				[[ $g != user/* || $MK_SRCS == "  " || $MK_SRCS == *" $g "* ]] && out+=("$g")
			done
		elif [ -e "$f" ]; then
			out+=("$f")
		fi
	done
	for f in "${out[@]}"; do
		[[ " ${drop[*]} " == *" $f "* ]] || echo "$f"
	done
}
libs() { sed -n 's|^// fuzz-libs:||p' "$1" | head -1; }

build() {
	local name=$1 src=tests/fuzz/fuzz_$1.c
	# shellcheck disable=SC2046
	if ! $CLANG "${CFLAGS[@]}" "$src" $(sources "$src") $(libs "$src") -o "$OUT/fuzz_$name" \
		2>"$OUT/logs/build-$name.log"; then
		echo "fuzz.sh: building fuzz_$name failed:" >&2
		tail -20 "$OUT/logs/build-$name.log" >&2
		return 1
	fi
}

if [ $# -gt 0 ]; then
	NAMES=("$@")
else
	NAMES=()
	for f in tests/fuzz/fuzz_*.c; do
		n=${f#tests/fuzz/fuzz_}; NAMES+=("${n%.c}")
	done
fi

echo "building ${NAMES[*]} into $OUT"
for n in "${NAMES[@]}"; do
	[ -f "tests/fuzz/fuzz_$n.c" ] || { echo "fuzz.sh: no tests/fuzz/fuzz_$n.c" >&2; exit 2; }
	build "$n" || exit 2
done
# the seed capture tool (tests/fuzz/mkcorpus.py): real remote.c with its functions renamed
if [ -f tests/fuzz/pyrecord.c ]; then
	CF=(-g -O1 -std=gnu11 -D_GNU_SOURCE -Iuser -Ibpf -Itests/fuzz "-DLS_REPO=\"$REPO\"")
	PYSRC=()
	for f in user/py/*.c; do
		[[ $MK_SRCS == "  " || $MK_SRCS == *" $f "* ]] || continue
		case $f in user/py/remote.c) ;; *) PYSRC+=("$f") ;; esac
	done
	$CLANG "${CF[@]}" -c user/py/remote.c -Dremote__read=real_remote__read \
		-Dremote__read_u64=real_remote__read_u64 -Dremote__stats=real_remote__stats \
		-o "$OUT/remote_real.o" 2>"$OUT/logs/build-pyrecord.log" &&
	$CLANG "${CF[@]}" tests/fuzz/pyrecord.c "$OUT/remote_real.o" "${PYSRC[@]}" -lelf -lz \
		-o "$OUT/pyrecord" 2>>"$OUT/logs/build-pyrecord.log" ||
		echo "fuzz.sh: pyrecord did not build (only needed by mkcorpus.py)" >&2
fi

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
export LS_REPO=$REPO
status=0
printf '%-12s %10s %8s %8s %8s  %s\n' harness execs exec/s cov corpus result
for n in "${NAMES[@]}"; do
	seeds=tests/fuzz/corpus/$n
	work=$OUT/work/$n
	log=$OUT/logs/fuzz-$n.log
	mkdir -p "$work" "$seeds"
	touch "$OUT/logs/.start-$n"
	# shellcheck disable=SC2086
	"$OUT/fuzz_$n" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2560 \
		-print_final_stats=1 -artifact_prefix="$OUT/artifacts/$n-" ${FUZZ_FLAGS:-} \
		"$work" "$seeds" >"$log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
	cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1 | cut -d' ' -f2)
	corp=$(grep -oE 'corp: [0-9]+' "$log" | tail -1 | cut -d' ' -f2)
	if [ $rc -eq 0 ] && ! grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:' "$log"; then
		result=ok
	else
		result="FAILED (exit $rc): see $log"
		status=1
	fi
	printf '%-12s %10s %8s %8s %8s  %s\n' "$n" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${corp:-?}" "$result"
	if [ "$result" != ok ]; then
		grep -E 'ERROR:|runtime error:|invariant:|SUMMARY:|^    #[0-4] ' "$log" | head -8 | sed 's/^/    /'
		find "$OUT/artifacts" -name "$n-*" -newer "$OUT/logs/.start-$n" |
			sed 's/^/    reproducer: /'
	fi
done
exit $status
