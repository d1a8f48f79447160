#!/usr/bin/env bash
# verifier-budget.sh [OBJ] - load every BPF program of OBJ (default .output/loopscope.bpf.o, as
# `make` builds it; built into a temporary OUTPUT if missing) into the running kernel one at a
# time, with read-only data at its defaults, and print how many instructions the verifier
# processed for each, against the kernel's limit of 1M per program load.
#
# Fails (exit 1) if a program does not load or uses more than BUDGET_PCT percent of the limit.
# Needs root. Environment:
#   BUDGET_PCT   share of the limit a program may use (default 25)
#   INSN_LIMIT   the verifier's limit (default 1000000, BPF_COMPLEXITY_LIMIT_INSNS)
#   CC           compiler for the loader (tests/fuzz/verifier_stats.c, default cc)
set -uo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUDGET_PCT=${BUDGET_PCT:-25}
INSN_LIMIT=${INSN_LIMIT:-1000000}
CC=${CC:-cc}
OUT=$REPO/.output/fuzz
OBJ=${1:-$REPO/.output/loopscope.bpf.o}

die() { echo "verifier-budget: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root (loads BPF programs)"

if [ ! -f "$OBJ" ]; then
	[ $# -eq 0 ] || die "$OBJ not found"
	TMP=$(mktemp -d /tmp/verifier-budget.XXXXXX)
	trap 'rm -rf "$TMP"' EXIT
	echo "verifier-budget: no $OBJ; building it into $TMP" >&2
	make -s -C "$REPO" OUTPUT="$TMP" "$TMP/loopscope.bpf.o" >&2 || die "building the BPF object failed"
	OBJ=$TMP/loopscope.bpf.o
fi

mkdir -p "$OUT"
LOADER=$OUT/verifier_stats
if [ ! -x "$LOADER" ] || [ "$REPO/tests/fuzz/verifier_stats.c" -nt "$LOADER" ]; then
	$CC -O2 -g -Wall -std=gnu11 -D_GNU_SOURCE "$REPO/tests/fuzz/verifier_stats.c" \
		-lbpf -lelf -lz -o "$LOADER" || die "building the loader failed"
fi

ERRLOG=$(mktemp /tmp/verifier-budget-log.XXXXXX)
STATS=$("$LOADER" "$OBJ" 2>"$ERRLOG")
rc=$?

echo "BPF verifier budget: $OBJ (kernel $(uname -r), limit $INSN_LIMIT insns, budget $BUDGET_PCT%)"
awk -F'\t' -v limit="$INSN_LIMIT" -v pct="$BUDGET_PCT" '
BEGIN {
	printf "%-16s %-28s %7s %9s %7s %6s %8s  %s\n", "program", "section", "insns", "verified",
	       "share", "peak", "time", "status"
	bad = 0
}
{
	share = $4 > 0 ? 100.0 * $4 / limit : 0
	status = $7
	if (status == "ok" && share > pct) { status = "OVER BUDGET"; bad = 1 }
	if ($7 != "ok") bad = 1
	printf "%-16s %-28s %7d %9s %6.2f%% %6s %6.1fms  %s\n", $1, $2, $3, ($4 < 0 ? "?" : $4), share,
	       ($5 < 0 ? "?" : $5), ($6 < 0 ? 0 : $6 / 1000.0), status
	if ($4 > max) { max = $4; maxname = $1 }
	n++
}
END {
	printf "%d programs; largest %s: %d verified insns (%.2f%% of the limit)\n", n, maxname, max,
	       100.0 * max / limit
	exit bad
}' <<<"$STATS"
verdict=$?
if [ -s "$ERRLOG" ]; then cat "$ERRLOG" >&2; fi
rm -f "$ERRLOG"
if [ $rc -ne 0 ] || [ $verdict -ne 0 ] || [ -z "$STATS" ]; then
	echo "verifier-budget: FAILED" >&2
	exit 1
fi
