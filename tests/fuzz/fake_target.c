// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Stand-ins for user/py/remote.c and user/py/procfs.c that serve a target captured in a fuzz
 * input (format: target_image.h). Linked instead of the real ones into fuzz_pyreader, so the
 * whole interpreter reader runs against garbage "remote memory" and a made-up /proc.
 */
#include <errno.h>
#include <glob.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include "py/procfs.h"
#include "py/remote.h"
#include "fake_target.h"
#include "target_image.h"

#ifndef LS_REPO
#define LS_REPO "."
#endif

/* the record lookup is the fake's plumbing, not code under test: keep it out of coverage */
#if defined(__clang__) && __clang_major__ >= 13
#define NOCOV __attribute__((no_sanitize("coverage")))
#else
#define NOCOV
#endif

struct rec {
	__u64 addr;
	__u64 len;
	const __u8 *data;	/* NULL: zeros */
};

static struct {
	const __u8 *in;
	size_t size;
	struct rec *recs;
	size_t nrecs, cap;
	unsigned int interp;
	unsigned int flags;
	unsigned int fail_after;
	__u64 map_start;
	int nspid;
	int tids[TI_MAX_TIDS];
	int ntids;
	__u64 reads, failures;
	__u8 *cov;		/* scratch coverage map for multi-record reads */
	size_t covcap;
} ft;

static char ti_paths[TI_NR_INTERPS][PATH_MAX];
static char ti_aio[TI_NR_INTERPS][PATH_MAX];
static bool resolved;

static void resolve_one(const char *pattern, char *out)
{
	char pat[PATH_MAX];
	glob_t g;

	out[0] = '\0';
	if (!pattern)
		return;
	if (pattern[0] == '@')
		snprintf(pat, sizeof(pat), "%s%s", getenv("LS_REPO") ?: LS_REPO, pattern + 1);
	else
		snprintf(pat, sizeof(pat), "%s", pattern);
	if (!glob(pat, 0, NULL, &g) && g.gl_pathc)
		snprintf(out, PATH_MAX, "%s", g.gl_pathv[g.gl_pathc - 1]);	/* newest */
	globfree(&g);
}

const char *fake_target__interp_path(unsigned int i, const char **asyncio)
{
	size_t k;

	if (!resolved) {
		for (k = 0; k < TI_NR_INTERPS; k++) {
			resolve_one(ti_interps[k].pattern, ti_paths[k]);
			resolve_one(ti_interps[k].asyncio, ti_aio[k]);
		}
		resolved = true;
	}
	if (i >= TI_NR_INTERPS)
		return NULL;
	if (asyncio)
		*asyncio = ti_aio[i][0] ? ti_aio[i] : NULL;
	return ti_paths[i][0] ? ti_paths[i] : NULL;
}

static __u64 get_le(const __u8 *p, int n)
{
	__u64 v = 0;
	int i;

	for (i = n - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

int fake_target__load(const __u8 *in, size_t size)
{
	size_t pos, len;
	__u32 lk;
	int i;

	fake_target__reset();
	if (size < TI_HDR_LEN)
		return -EINVAL;
	ft.in = in;
	ft.size = size;
	ft.interp = in[0] % TI_NR_INTERPS;
	ft.flags = in[1];
	ft.fail_after = (unsigned int)get_le(in + 2, 2);
	ft.map_start = get_le(in + 4, 8);
	ft.nspid = (int)get_le(in + 12, 4);
	ft.ntids = in[16] < TI_MAX_TIDS ? in[16] : TI_MAX_TIDS;
	pos = 17;
	for (i = 0; i < ft.ntids && pos + 4 <= size; i++, pos += 4)
		ft.tids[i] = (int)get_le(in + pos, 4);
	ft.ntids = i;
	while (pos + 12 <= size) {
		struct rec r;

		r.addr = get_le(in + pos, 8);
		lk = (__u32)get_le(in + pos + 8, 4);
		pos += 12;
		len = lk & TI_LEN_MASK;
		if (lk & TI_ZERO) {
			r.data = NULL;
		} else {
			if (len > size - pos)
				len = size - pos;
			r.data = in + pos;
			pos += len;
		}
		r.len = len;
		if (!len)
			continue;
		if (ft.nrecs == ft.cap) {
			size_t cap = ft.cap ? ft.cap * 2 : 64;
			struct rec *v = realloc(ft.recs, cap * sizeof(*v));

			if (!v)
				return -ENOMEM;
			ft.recs = v;
			ft.cap = cap;
		}
		ft.recs[ft.nrecs++] = r;
	}
	return 0;
}

void fake_target__reset(void)
{
	free(ft.recs);
	free(ft.cov);
	memset(&ft, 0, sizeof(ft));
}

unsigned int fake_target__interp(void)
{
	return ft.interp;
}

/* [a, a + n) inside record r, overflow-safe */
NOCOV static bool inside(const struct rec *r, __u64 a, __u64 n)
{
	return a >= r->addr && a - r->addr <= r->len && n <= r->len - (a - r->addr);
}

NOCOV static bool overlaps(const struct rec *r, __u64 a, __u64 n)
{
	__u64 rend = r->addr + r->len < r->addr ? ~0ULL : r->addr + r->len;
	__u64 end = a + n < a ? ~0ULL : a + n;

	return a < rend && r->addr < end;
}

NOCOV static int serve(__u64 addr, __u8 *buf, size_t len)
{
	const struct rec *r;
	size_t i, covered = 0;
	__u64 lo, hi, end = addr + len;
	ssize_t k;

	/*
	 * fast path: later records overlay earlier ones, so the newest record touching the range
	 * decides: if it holds all of it, that is the answer
	 */
	for (k = (ssize_t)ft.nrecs - 1; k >= 0; k--) {
		r = &ft.recs[k];
		if (!overlaps(r, addr, len))
			continue;
		if (inside(r, addr, len)) {
			if (r->data)
				memcpy(buf, r->data + (addr - r->addr), len);
			else
				memset(buf, 0, len);
			return 0;
		}
		break;
	}
	if (end < addr)
		return -EFAULT;
	if (ft.covcap < len) {
		free(ft.cov);
		ft.cov = malloc(len);
		ft.covcap = ft.cov ? len : 0;
		if (!ft.cov)
			return -ENOMEM;
	}
	memset(ft.cov, 0, len);
	memset(buf, 0, len);
	for (i = 0; i < ft.nrecs; i++) {
		r = &ft.recs[i];
		if (r->addr + r->len < r->addr)
			continue;
		lo = r->addr > addr ? r->addr : addr;
		hi = r->addr + r->len < end ? r->addr + r->len : end;
		if (lo >= hi)
			continue;
		if (r->data)
			memcpy(buf + (lo - addr), r->data + (lo - r->addr), hi - lo);
		else
			memset(buf + (lo - addr), 0, hi - lo);
		memset(ft.cov + (lo - addr), 1, hi - lo);
	}
	for (i = 0; i < len; i++)
		covered += ft.cov[i];
	return covered == len ? 0 : -EFAULT;
}

NOCOV int remote__read(int pid, __u64 addr, void *buf, size_t len)
{
	int err;

	ft.reads++;
	if (pid != FAKE_PID) {
		err = -ESRCH;
		goto fail;
	}
	if (!len)
		return 0;
	/* the real one never asks the kernel for the NULL page or a wrapping range */
	if (addr < 4096 || addr + len < addr) {
		err = -EFAULT;
		goto fail;
	}
	if (ft.fail_after && ft.reads > ft.fail_after) {
		err = -ESRCH;
		goto fail;
	}
	err = serve(addr, buf, len);
	if (!err)
		return 0;
fail:
	ft.failures++;
	return err;
}

int remote__read_u64(int pid, __u64 addr, __u64 *val)
{
	return remote__read(pid, addr, val, sizeof(*val));
}

void remote__stats(struct remote_stats *st)
{
	st->reads = ft.reads;
	st->failures = ft.failures;
}

/* ---- /proc ---- */

int procfs__maps(int pid, struct proc_maps *maps)
{
	const char *path, *aio = NULL;
	struct proc_map *v;
	size_t n = 0;

	maps->v = NULL;
	maps->n = 0;
	if (pid != FAKE_PID)
		return -ESRCH;
	path = fake_target__interp_path(ft.interp, &aio);
	if (!path)
		return -ESRCH;
	v = calloc(2, sizeof(*v));
	if (!v)
		return -ENOMEM;
	v[n].start = ft.map_start;
	v[n].end = ft.map_start + 0x1000;
	v[n].offset = 0;
	v[n].inode = 1;
	v[n].dev = makedev(8, 1);
	snprintf(v[n].perms, sizeof(v[n].perms), "r--p");
	v[n].path = strdup(path);
	n++;
	if (aio && (ft.flags & TI_F_ASYNCIO_MAP)) {
		v[n].start = 0x7f0000000000ULL;
		v[n].end = v[n].start + 0x1000;
		v[n].inode = 2;
		v[n].dev = makedev(8, 1);
		snprintf(v[n].perms, sizeof(v[n].perms), "r--p");
		v[n].path = strdup(aio);
		n++;
	}
	maps->v = v;
	maps->n = n;
	return 0;
}

void procfs__maps_free(struct proc_maps *maps)
{
	size_t i;

	for (i = 0; i < maps->n; i++)
		free(maps->v[i].path);
	free(maps->v);
	maps->v = NULL;
	maps->n = 0;
}

int procfs__mapped_path(int pid, const struct proc_map *m, char *buf, size_t len)
{
	if (!m->path)
		return -ENOENT;
	snprintf(buf, len, "%s", m->path);
	return 0;
}

int procfs__ns_tid(int pid, int tid, int *ns_tid)
{
	if (pid != FAKE_PID)
		return -ESRCH;
	*ns_tid = tid == FAKE_PID ? ft.nspid : tid;
	return 0;
}

int procfs__for_each_task(int pid, int (*cb)(int tid, void *ctx), void *ctx)
{
	int i, ret;

	if (pid != FAKE_PID)
		return -ESRCH;
	ret = cb(FAKE_PID, ctx);
	for (i = 0; !ret && i < ft.ntids; i++)
		ret = cb(ft.tids[i], ctx);
	return ret;
}

int procfs__host_tid(int pid, int ns_tid, int *tid)
{
	int i;

	if (pid != FAKE_PID)
		return -ESRCH;
	if (ns_tid == ft.nspid) {
		*tid = FAKE_PID;
		return 0;
	}
	for (i = 0; i < ft.ntids; i++) {
		if (ft.tids[i] == ns_tid) {
			*tid = ns_tid;
			return 0;
		}
	}
	return -ENOENT;
}

/*
 * ---- interpreter ELFs, opened once ----
 * Linked with -Wl,--wrap=elf__open,--wrap=elf__close: the reader opens the same few real
 * interpreter files on every input, and parsing them (fuzz_elf's job) would cost most of each
 * run. Other files (a mutated path cannot name one) go to the real functions.
 */
struct elf_file;
int __real_elf__open(const char *path, struct elf_file **ef);
void __real_elf__close(struct elf_file *ef);

#define ELF_CACHE 16

static struct {
	char *path;
	struct elf_file *ef;
} elf_cache[ELF_CACHE];

int __wrap_elf__open(const char *path, struct elf_file **ef)
{
	int i, err;

	for (i = 0; i < ELF_CACHE && elf_cache[i].path; i++) {
		if (!strcmp(elf_cache[i].path, path)) {
			*ef = elf_cache[i].ef;
			return 0;
		}
	}
	err = __real_elf__open(path, ef);
	if (err || i == ELF_CACHE)
		return err;
	elf_cache[i].path = strdup(path);
	elf_cache[i].ef = *ef;
	return 0;
}

void __wrap_elf__close(struct elf_file *ef)
{
	int i;

	for (i = 0; i < ELF_CACHE && elf_cache[i].path; i++)
		if (elf_cache[i].ef == ef)
			return;
	__real_elf__close(ef);
}
