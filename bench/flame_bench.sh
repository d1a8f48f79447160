#!/usr/bin/env bash
# Flamegraph export benchmark (a benchmark, not a test: it prints numbers and exits 0).
# Adds N random asyncio-shaped stacks (default 1,000,000; 10 to 35 frames under the event
# loop, a call graph of 3000 functions with up to 6 callees each) through flame_convert and
# writes them as an SVG, against the budget of 2 s and 5 MB; then the other formats, and the
# same stacks read back from folded text (parsing included).
#   usage: bench/flame_bench.sh [N]
# skew 2.5: a function's first callee takes 77% of its samples (realistic; ~30% of the
# stacks distinct); skew 1.0: 68% distinct stacks, a worst case for memory.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
n=${1:-1000000}
out="$root/.output/flame"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$out"
cd "$root"
cc -O2 -g -Wall -std=gnu11 -D_GNU_SOURCE -Iuser tests/tools/flame_convert.c user/flame*.c \
	user/pb.c -lz -lm -o "$out/flame_convert"
conv="$out/flame_convert"

# wall seconds, then the tool's own line: stacks, frames, add and write times (wall and cpu)
run() {
	local start end stats
	start=$(date +%s.%N)
	stats=$("$conv" --stats "$@" 2>&1 >/dev/null)
	end=$(date +%s.%N)
	printf '%6.3fs  %s\n' "$(echo "$end - $start" | bc)" "$stats"
}

budget() {	# file seconds
	local size
	size=$(stat -c %s "$1")
	printf '    size %.2f MB (budget 5), wall %ss (budget 2): %s\n' \
		"$(echo "$size / 1048576" | bc -l)" "$2" \
		"$( (($(echo "$2 < 2" | bc) && size < 5 << 20)) && echo within || echo OVER)"
}

echo "flame_bench: $n stacks, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
for skew in 2.5 1.0; do
	echo "svg, skew $skew:"
	line=$(run --generate "$n" --skew "$skew" --unit ms --title bench -o "$tmp/b.svg")
	echo "  $line"
	budget "$tmp/b.svg" "$(echo "$line" | awk '{print $1}' | tr -d s)"
done
for fmt in folded json pb.gz; do
	printf '%-7s skew 2.5: ' "$fmt"
	run --generate "$n" --unit ms -o "$tmp/b.$fmt"
	printf '    size %.2f MB\n' "$(echo "$(stat -c %s "$tmp/b.$fmt") / 1048576" | bc -l)"
done
"$conv" --generate "$n" --unit ms --emit >"$tmp/stacks.txt"
printf 'svg from %.0f MB of folded text on stdin: ' \
	"$(echo "$(stat -c %s "$tmp/stacks.txt") / 1048576" | bc -l)"
start=$(date +%s.%N)
stats=$("$conv" --stats --unit ms -o "$tmp/t.svg" <"$tmp/stacks.txt" 2>&1)
printf '%6.3fs  %s\n' "$(echo "$(date +%s.%N) - $start" | bc)" "$stats"
