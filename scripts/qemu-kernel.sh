#!/usr/bin/env bash
# qemu-kernel.sh - load loopscope's BPF objects and run the foundation scenario
# (5 x time.sleep(0.2) in a coroutine: 5 stalls, cause sleep) on Debian's own
# older kernels, booted under qemu: bookworm's 6.1 and bullseye's 5.10.
#
# Nothing is installed on the host but qemu, busybox-static, cpio and the
# compressors (apt-get).  The kernel packages are fetched with a PRIVATE apt
# configuration (own sources, lists and cache under .cache/qemu/apt) and
# unpacked with dpkg-deb -x, never installed.  Each kernel boots with a tiny
# busybox initramfs that loads the 9p modules from that kernel's own package,
# mounts the HOST's root filesystem read-only over virtio-9p, puts tmpfs on
# /tmp /run /var/tmp /root, mounts proc, sys, devtmpfs, debugfs, tracefs, bpffs
# and cgroup2 over it, and chroots into it to run this same script with
# --in-guest: the host's loopscope, python3.11 and libraries, the guest's
# kernel.  Results come back through a second, writable 9p share
# (.cache/qemu/out/KERNEL/), then the guest powers off (busybox poweroff -f;
# panic=-1 with -no-reboot and a host-side timeout as backstops).
#
# Usage:
#   scripts/qemu-kernel.sh [--update] [KERNEL...]   KERNEL: 6.1 (default: 6.1 5.10)
#
#   --update   refresh the private package lists (otherwise fetched once)
#
# Environment:
#   LOOPSCOPE_DEBIAN_URI  archive address; by default read at run time from
#                         this machine's apt sources (never written in here)
#   LOOPSCOPE_DEBIAN_SECURITY_URI  same, for the security archive (optional)
#   QEMU_TIMEOUT          seconds before a guest is killed (default 300)
#   QEMU_ACCEL            auto (default: kvm if /dev/kvm opens and the CPU has
#                         VMX/SVM, else tcg), kvm or tcg
#
# Output: per kernel, the guest's uname -r and /proc/version, loopscope's
# output, and "PASS KERNEL ..." or "FAIL KERNEL ...".  When loopscope fails it
# is run again with -v and libbpf's error lines are printed (the full log is
# .cache/qemu/out/KERNEL/verbose.log).  Exit status: 0 if 6.1 passed (older
# kernels may fail: that is what is being recorded), 1 otherwise.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$SCRIPT_DIR/.." && pwd)
CACHE=$REPO/.cache/qemu
SELF=$SCRIPT_DIR/$(basename "${BASH_SOURCE[0]}")

# ======================================================================
# Inside the guest (chrooted into the host's root, guest kernel).
# ======================================================================
guest_main() {
	local out=$1 prog=$2 n rc
	export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
	export HOME=/tmp PYTHONDONTWRITEBYTECODE=1 LC_ALL=C.UTF-8
	cd /tmp
	{
		echo "uname -r: $(uname -r)"
		echo "kernel: $(cat /proc/version)"
		if [ -e /sys/kernel/btf/vmlinux ]; then
			echo "btf: /sys/kernel/btf/vmlinux $(stat -c %s /sys/kernel/btf/vmlinux) bytes"
		else
			echo "btf: /sys/kernel/btf/vmlinux MISSING"
		fi
		echo "--- loopscope run -d 4 -- python3.11 $prog"
	} >"$out/result.txt"
	rc=0
	timeout 90 "$REPO/loopscope" run -d 4 -- /usr/bin/python3.11 "$prog" >"$out/run.log" 2>&1 || rc=$?
	cat "$out/run.log" >>"$out/result.txt"
	echo "--- loopscope exit status $rc" >>"$out/result.txt"
	n=$(grep -c '^STALL .*cause: sleep' "$out/run.log" || true)
	if [ "$rc" = 0 ] && [ "$n" = 5 ]; then
		echo "VERDICT PASS $(uname -r): loopscope loaded and reported 5 stalls, cause sleep" >>"$out/result.txt"
	else
		# Again with -v, for libbpf's loader and verifier messages.
		timeout 90 "$REPO/loopscope" run -v -d 4 -- /usr/bin/python3.11 "$prog" >"$out/verbose.log" 2>&1 || true
		dmesg >"$out/dmesg.log" 2>&1 || true
		echo "VERDICT FAIL $(uname -r): loopscope exit status $rc, $n stalls with cause sleep (want 5)" >>"$out/result.txt"
	fi
	sync
}

if [ "${1:-}" = --in-guest ]; then
	shift
	guest_main "$@"
	exit 0
fi

# ======================================================================
# On the host.
# ======================================================================
die() { echo "qemu-kernel: $*" >&2; exit 1; }
log() { echo "qemu-kernel: $*" >&2; }

UPDATE=; KERNELS=()
while [ $# -gt 0 ]; do
	case $1 in
	--update) UPDATE=1 ;;
	-h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	6.1|5.10) KERNELS+=("$1") ;;
	*) die "unknown argument $1 (kernels: 6.1 5.10; see --help)" ;;
	esac
	shift
done
[ ${#KERNELS[@]} -gt 0 ] || KERNELS=(6.1 5.10)
[ "$(id -u)" = 0 ] || die "run as root (apt-get, and loopscope inside the guest)"
[ "$(uname -m)" = x86_64 ] || die "only x86_64 is supported"
T0=$(date +%s)

mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"
flock 9

# ---------------------------------------------------------------- host tools
need=()
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
[ -x /bin/busybox ] && file -L /bin/busybox 2>/dev/null | grep -q 'statically linked' || need+=(busybox-static)
command -v cpio >/dev/null || need+=(cpio)
command -v xz >/dev/null || need+=(xz-utils)
command -v zstd >/dev/null || need+=(zstd)
command -v file >/dev/null || need+=(file)
command -v depmod >/dev/null || [ -x /sbin/depmod ] || need+=(kmod)
if [ ${#need[@]} -gt 0 ]; then
	log "installing ${need[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}" >"$CACHE/apt-install.log" 2>&1 ||
		{ apt-get update -q >>"$CACHE/apt-install.log" 2>&1 &&
		  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}" >>"$CACHE/apt-install.log" 2>&1; } ||
		{ tail -20 "$CACHE/apt-install.log" >&2; die "apt-get install ${need[*]} failed"; }
fi
BUSYBOX=/bin/busybox
export PATH=$PATH:/usr/sbin:/sbin
[ -x "$REPO/loopscope" ] || { log "building loopscope"; make -C "$REPO" -j2 >/dev/null; }

# ---------------------------------------------------------------- private apt
# shellcheck source=lib/apt-archive.sh
. "$SCRIPT_DIR/lib/apt-archive.sh"
find_uri() { apt_archive_uri "$@"; }

APTDIR=$CACHE/apt
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
private_apt_opts "$APTDIR"
papt() { apt-get -q "${APT_OPTS[@]}" "$@"; }
pcache() { apt-cache "${APT_OPTS[@]}" "$@"; }

setup_apt() {
	local uri suri
	local host_cn
	# shellcheck disable=SC1091
	host_cn=$( (. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}") || true)
	uri=${LOOPSCOPE_DEBIAN_URI:-$(find_uri "${host_cn:-bookworm}" || find_uri bookworm || true)}
	[ -n "$uri" ] || die "no Debian archive in /etc/apt/sources.list{,.d/} (set LOOPSCOPE_DEBIAN_URI)"
	suri=${LOOPSCOPE_DEBIAN_SECURITY_URI:-$(find_uri "${host_cn:-bookworm}-security" || find_uri bookworm-security || true)}
	[ -r "$KEYRING" ] || die "keyring $KEYRING not readable"
	mkdir -p "$APTDIR"/{state,lists/partial,cache/archives/partial,log,debs}
	[ -f "$APTDIR/state/status" ] || : >"$APTDIR/state/status"
	{
		echo "deb [signed-by=$KEYRING] $uri bookworm main"
		echo "deb [signed-by=$KEYRING] $uri bullseye main"
		if [ -n "$suri" ]; then
			echo "deb [signed-by=$KEYRING] $suri bookworm-security main"
			echo "deb [signed-by=$KEYRING] $suri bullseye-security main"
		fi
	} >"$APTDIR/sources.list.new"
	if ! cmp -s "$APTDIR/sources.list.new" "$APTDIR/sources.list" 2>/dev/null; then
		mv "$APTDIR/sources.list.new" "$APTDIR/sources.list"; UPDATE=1
	else
		rm -f "$APTDIR/sources.list.new"
	fi
	if id _apt >/dev/null 2>&1; then chown _apt "$APTDIR/debs"; fi
	ls "$APTDIR"/lists/*_dists_bullseye_InRelease >/dev/null 2>&1 || UPDATE=1
	if [ -n "$UPDATE" ]; then
		log "updating private package lists (bookworm, bullseye)"
		papt update >"$APTDIR/log/update.log" 2>&1 || { cat "$APTDIR/log/update.log" >&2; die "apt-get update (private lists) failed"; }
		grep -E '^(W|E): ' "$APTDIR/log/update.log" >&2 || true
		UPDATE=
	fi
}

# Debian release of a kernel series, and the image package for it: the
# dependency of linux-image-amd64 in that release (the newest of the release
# and its security suite), its -unsigned twin when there is one.
release_of() { case $1 in 6.1) echo bookworm ;; 5.10) echo bullseye ;; esac; }
image_pkg() {
	local rel=$1 ver dep
	ver=$(pcache madison linux-image-amd64 | awk -F' *[|] *' -v r="$rel" '
		{ split($3, a, " "); split(a[2], s, "/"); if (s[1] == r || s[1] == r "-security") print $2 }' |
		sort -V | tail -1)
	[ -n "$ver" ] || return 1
	dep=$(pcache show "linux-image-amd64=$ver" 2>/dev/null | sed -n 's/^Depends: //p' | head -1 |
		tr ',' '\n' | sed -n 's/^ *\(linux-image-[0-9][^ ]*\).*/\1/p' | head -1)
	[ -n "$dep" ] || return 1
	if pcache show "$dep-unsigned" >/dev/null 2>&1; then dep=$dep-unsigned; fi
	local pver
	pver=$(pcache madison "$dep" | awk -F' *[|] *' '{gsub(/ /, "", $2); print $2}' | sort -V | tail -1)
	echo "$dep $pver"
}

# Fetch and unpack one kernel series; sets KDIR (the unpacked root) and KREL.
fetch_kernel() {
	local series=$1 rel pkg pver deb stamp
	rel=$(release_of "$series")
	read -r pkg pver <<<"$(image_pkg "$rel" || true)"
	if [ -z "${pkg:-}" ]; then
		setup_apt_update_forced
		read -r pkg pver <<<"$(image_pkg "$rel" || true)"
	fi
	[ -n "${pkg:-}" ] || { log "no linux-image for $rel in the archive"; return 1; }
	deb=$(compgen -G "$APTDIR/debs/${pkg}_${pver//:/%3a}_amd64.deb" | head -1 || true)
	if [ -z "$deb" ]; then
		log "downloading $pkg $pver ($rel)"
		(cd "$APTDIR/debs" && papt download "$pkg=$pver") >"$APTDIR/log/download-$series.log" 2>&1 ||
			{ tail -5 "$APTDIR/log/download-$series.log" >&2; log "apt-get download $pkg=$pver failed"; return 1; }
		deb=$(compgen -G "$APTDIR/debs/${pkg}_${pver//:/%3a}_amd64.deb" | head -1)
	fi
	KDIR=$CACHE/kernel/$pkg-$pver
	stamp=$KDIR/.unpacked
	if [ ! -f "$stamp" ]; then
		log "unpacking $(basename "$deb")"
		rm -rf "$KDIR"; mkdir -p "$KDIR"
		# Only what the guest needs: the kernel, the module indexes, and the
		# trees holding virtio-pci and 9p with their dependencies (a full
		# dpkg-deb -x is ~350 MB per kernel).
		dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$KDIR" --wildcards --no-same-owner \
			'./boot/vmlinuz-*' './boot/config-*' './lib/modules/*/modules.*' \
			'./lib/modules/*/kernel/drivers/virtio/*' './lib/modules/*/kernel/net/9p/*' \
			'./lib/modules/*/kernel/fs/9p/*' './lib/modules/*/kernel/fs/netfs/*' \
			'./lib/modules/*/kernel/fs/fscache/*' 2>&1 | grep -vE 'Not found in archive|Exiting with failure' >&2 || true
		# (not every kernel has every tree: netfs is 5.13+; checked below)
	fi
	KREL=$(basename "$(compgen -G "$KDIR/boot/vmlinuz-*" | head -1)")
	KREL=${KREL#vmlinuz-}
	if [ -z "$KREL" ] || [ ! -d "$KDIR/lib/modules/$KREL" ]; then log "no vmlinuz/modules in $deb"; return 1; fi
	if [ ! -f "$stamp" ]; then
		# modules.dep is made at install time (depmod), not shipped.
		depmod -b "$KDIR" "$KREL" || { log "depmod failed for $KREL"; return 1; }
		touch "$stamp"
	fi
	KDEBVER=$pver
}
setup_apt_update_forced() { UPDATE=1; setup_apt; }

# ---------------------------------------------------------------- initramfs
# Modules to load, dependencies first (from the kernel's modules.dep); a
# module built into the kernel is skipped.
module_order() {
	local mdir=$1; shift
	local -A seen=()
	local out=()
	visit() {
		local name=$1 path deps d i
		path=$(awk -F: -v n="$name" '{ f = $1; sub(/.*\//, "", f); sub(/\.ko(\.[a-z]+)?$/, "", f); gsub(/-/, "_", f)
			if (f == n) { print $1; exit } }' "$mdir/modules.dep")
		[ -n "$path" ] || return 0   # built in, or not in this kernel
		[ -z "${seen[$path]:-}" ] || return 0
		seen[$path]=1
		read -r -a deps <<<"$(awk -F': *' -v p="$path" '$1 == p { print $2; exit }' "$mdir/modules.dep")"
		for ((i = ${#deps[@]} - 1; i >= 0; i--)); do
			d=${deps[$i]}; d=${d##*/}; d=${d%%.ko*}; visit "${d//-/_}"
		done
		out+=("$path")
	}
	for m in "$@"; do visit "$m"; done
	printf '%s\n' "${out[@]}"
}

build_initrd() {
	local series=$1 dir mdir m f base
	mdir=$KDIR/lib/modules/$KREL
	grep -qE '(^|/)9p\.ko' "$mdir/modules.dep" "$mdir/modules.builtin" ||
		{ log "$KREL has no 9p filesystem (module or built in)"; return 1; }
	INITRD=$CACHE/initrd-$KREL.cpio.gz
	dir=$CACHE/initrd-$KREL
	rm -rf "$dir"; mkdir -p "$dir"/{bin,dev,proc,sys,newroot,modules}
	cp "$BUSYBOX" "$dir/bin/busybox"
	: >"$dir/modules/order"
	for m in $(module_order "$mdir" virtio_pci virtio_ring virtio 9pnet_virtio 9p); do
		base=${m##*/}; f=$mdir/$m
		case $base in
		*.ko.xz) xz -dc "$f" >"$dir/modules/${base%.xz}"; base=${base%.xz} ;;
		*.ko.zst) zstd -qdc "$f" >"$dir/modules/${base%.zst}"; base=${base%.zst} ;;
		*.ko.gz) gzip -dc "$f" >"$dir/modules/${base%.gz}"; base=${base%.gz} ;;
		*) cp "$f" "$dir/modules/$base" ;;
		esac
		echo "$base" >>"$dir/modules/order"
	done
	cat >"$dir/init" <<EOF
#!/bin/busybox sh
# initramfs of scripts/qemu-kernel.sh for $KREL
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in \$(cat /modules/order); do insmod /modules/\$m || echo "qemu-kernel: insmod \$m failed"; done
R=/newroot
if ! mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144,cache=loose,ro hostroot \$R; then
	echo "qemu-kernel: cannot mount the host root over 9p"; poweroff -f
fi
mount -t proc proc \$R/proc
mount -t sysfs sys \$R/sys
mount -t devtmpfs dev \$R/dev
mkdir -p \$R/dev/pts \$R/dev/shm
mount -t devpts devpts \$R/dev/pts 2>/dev/null
mount -t tmpfs shm \$R/dev/shm 2>/dev/null
for d in /tmp /run /var/tmp /root /var/log /var/cache; do mount -t tmpfs -o mode=1777 tmpfs \$R\$d; done
mount -t debugfs debugfs \$R/sys/kernel/debug
mount -t tracefs tracefs \$R/sys/kernel/tracing 2>/dev/null || mount -t tracefs tracefs \$R/sys/kernel/debug/tracing
mount -t bpf bpf \$R/sys/fs/bpf
mount -t cgroup2 cgroup2 \$R/sys/fs/cgroup
# the checkout may live under /tmp (a CI clone), now hidden by the tmpfs: share it again
mkdir -p \$R$REPO 2>/dev/null
mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144,cache=loose,ro repo \$R$REPO ||
	echo "qemu-kernel: cannot mount the checkout over 9p"
if mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144,cache=none,rw out \$R$OUT; then
	echo "qemu-kernel: guest $KREL up, running the scenario"
	timeout 240 chroot \$R /bin/bash $SELF --in-guest $OUT $PROG
	echo "qemu-kernel: guest done"
else
	echo "qemu-kernel: cannot mount the output share"
fi
sync
poweroff -f
EOF
	chmod 755 "$dir/init"
	(cd "$dir" && find . | cpio -o -H newc --quiet | gzip -1) >"$INITRD"
}

# ---------------------------------------------------------------- boot
# KVM only when the CPU has VMX/SVM: a /dev/kvm without them (e.g. a nested
# "kvm-pvm" host) cannot run a stock kernel, which then hangs at boot.
ACCEL_NAME=tcg ACCEL=(-accel "tcg,thread=multi" -cpu max)
case ${QEMU_ACCEL:-auto} in
auto) if [ -c /dev/kvm ] && (exec 3<>/dev/kvm) 2>/dev/null && grep -qwE 'vmx|svm' /proc/cpuinfo; then
	      ACCEL_NAME=kvm ACCEL=(-enable-kvm -cpu host)
      fi ;;
kvm) ACCEL_NAME=kvm ACCEL=(-enable-kvm -cpu host) ;;
tcg) ;;
*) die "QEMU_ACCEL must be auto, kvm or tcg" ;;
esac

PROG=$CACHE/stall5.py
cat >"$PROG.new" <<'EOF'
# loopscope's foundation scenario: a coroutine blocks the loop 5 times.
import asyncio, time

async def blocker():
    await asyncio.sleep(0.1)
    for _ in range(5):
        time.sleep(0.2)          # the bug: a synchronous sleep in a coroutine
        await asyncio.sleep(0.05)

asyncio.run(blocker())
EOF
mv "$PROG.new" "$PROG"

setup_apt
declare -A VERDICT
RC=0
for series in "${KERNELS[@]}"; do
	KT0=$(date +%s)
	echo "=================================================================="
	if ! fetch_kernel "$series"; then
		VERDICT[$series]="FAIL $series: kernel package could not be fetched or unpacked"
		echo "${VERDICT[$series]}"
		[ "$series" != 6.1 ] || RC=1
		continue
	fi
	OUT=$CACHE/out/$KREL
	rm -rf "$OUT"; mkdir -p "$OUT"
	if ! build_initrd "$series"; then
		VERDICT[$series]="FAIL $series: no initramfs for $KREL"
		echo "${VERDICT[$series]}"
		[ "$series" != 6.1 ] || RC=1
		continue
	fi
	echo "kernel $series: Debian $(release_of "$series") linux-image $KDEBVER ($KREL), qemu $ACCEL_NAME"
	rc=0
	timeout "${QEMU_TIMEOUT:-300}" qemu-system-x86_64 "${ACCEL[@]}" -m 1024 -smp 2 \
		-nographic -no-reboot -nodefaults -serial stdio \
		-kernel "$KDIR/boot/vmlinuz-$KREL" -initrd "$INITRD" \
		-append "console=ttyS0 panic=-1 quiet loglevel=3" \
		-virtfs "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap" \
		-virtfs "local,path=$REPO,mount_tag=repo,security_model=none,readonly=on,multidevs=remap" \
		-virtfs "local,path=$OUT,mount_tag=out,security_model=none" \
		</dev/null >"$OUT/console.log" 2>&1 || rc=$?
	[ "$rc" = 0 ] || log "qemu exit status $rc$([ "$rc" != 124 ] || echo ' (timed out)')"
	if [ -f "$OUT/result.txt" ]; then
		grep -v '^VERDICT ' "$OUT/result.txt"
		v=$(sed -n 's/^VERDICT //p' "$OUT/result.txt")
		if [ -f "$OUT/verbose.log" ]; then
			echo "--- loopscope -v (key lines; full log $OUT/verbose.log)"
			# libbpf's error lines, and the last lines of each verifier log
			# (where the verifier says what it refused).
			awk '/BEGIN PROG LOAD LOG/ { inlog = 1; n = 0; print; next }
			     /END PROG LOAD LOG/ { for (i = (n > 8 ? n - 8 : 0); i < n; i++) print buf[i % 8]
			                           inlog = 0; print; next }
			     inlog { buf[n++ % 8] = $0; next }
			     /^libbpf: .*(fail|rror|nvalid|unknown|not supported|missing)|^loopscope:/' \
				"$OUT/verbose.log" | head -60
		fi
	else
		v="FAIL $series: the guest wrote no result (console: $OUT/console.log)"
		tail -30 "$OUT/console.log"
	fi
	[ -n "$v" ] || v="FAIL $series: no verdict"
	VERDICT[$series]="$v ($(( $(date +%s) - KT0 )) s)"
	echo "${VERDICT[$series]}"
	case $v in PASS*) ;; *) [ "$series" != 6.1 ] || RC=1 ;; esac
done
echo "=================================================================="
for series in "${KERNELS[@]}"; do echo "${VERDICT[$series]}"; done
echo "total $(( $(date +%s) - T0 )) s"
exit $RC
