#!/usr/bin/env bash
# Regenerate vmlinux/<arch>/vmlinux_<ver>.h from a kernel's BTF and point vmlinux.h at it.
# CO-RE relocates field accesses at load time, so one header from a recent kernel serves older
# kernels too; regenerate only to use types or fields that the checked-in header lacks.
#   usage: scripts/gen-vmlinux.sh [BTF_FILE]   (default: this kernel's /sys/kernel/btf/vmlinux)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
btf=${1:-/sys/kernel/btf/vmlinux}
arch=$(uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')
ver=$(uname -r | sed -E 's/^([0-9]+\.[0-9]+).*/\1/')
[ -r "$btf" ] || { echo "gen-vmlinux: no BTF at $btf (kernel needs CONFIG_DEBUG_INFO_BTF=y)" >&2; exit 1; }
mkdir -p "$top/vmlinux/$arch"
tmp=$(mktemp)
bpftool btf dump file "$btf" format c >"$tmp"
out="$top/vmlinux/$arch/vmlinux_$ver.h"
if cmp -s "$tmp" "$out"; then rm -f "$tmp"; else mv "$tmp" "$out"; fi
ln -sf "vmlinux_$ver.h" "$top/vmlinux/$arch/vmlinux.h"
echo "vmlinux/$arch/vmlinux.h -> vmlinux_$ver.h"
