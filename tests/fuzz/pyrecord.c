// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * pyrecord PID INTERP OUT [-a]: capture a live CPython process as a fuzz_pyreader seed
 * (target_image.h): run the same reader calls as the harness (pyreader_drive.h) against the
 * real process and store every successful remote read, so that replaying the seed takes the
 * same paths. INTERP is the index of the interpreter in target_image.h's table; -a also maps
 * its _asyncio module. Built with the real remote.c (its functions renamed) and procfs.c.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include "py/procfs.h"
#include "py/remote.h"
#include "fake_target.h"
#include "target_image.h"
#include "pyreader_drive.h"

int real_remote__read(int pid, __u64 addr, void *buf, size_t len);

struct logged {
	__u64 addr;
	size_t len;
	__u8 *data;
};

static struct logged *lg;
static size_t nlg, caplg;

int remote__read(int pid, __u64 addr, void *buf, size_t len)
{
	int err = real_remote__read(pid, addr, buf, len);
	size_t i;

	if (err || !len)
		return err;
	for (i = 0; i < nlg; i++)
		if (lg[i].addr == addr && lg[i].len == len)
			return 0;
	if (nlg == caplg) {
		caplg = caplg ? caplg * 2 : 256;
		lg = realloc(lg, caplg * sizeof(*lg));
		if (!lg)
			abort();
	}
	lg[nlg].addr = addr;
	lg[nlg].len = len;
	lg[nlg].data = malloc(len);
	memcpy(lg[nlg].data, buf, len);
	nlg++;
	return 0;
}

int remote__read_u64(int pid, __u64 addr, __u64 *val)
{
	return remote__read(pid, addr, val, sizeof(*val));
}

void remote__stats(struct remote_stats *st)
{
	st->reads = st->failures = 0;
}

/* the fake's table paths, resolved the same way (the fake is not linked here) */
#include <glob.h>
static int interp_path(unsigned int i, char *out)
{
	char pat[PATH_MAX];
	const char *p = ti_interps[i].pattern;
	glob_t g;
	int ret = -ENOENT;

	if (p[0] == '@')
		snprintf(pat, sizeof(pat), "%s%s", getenv("LS_REPO") ?: LS_REPO, p + 1);
	else
		snprintf(pat, sizeof(pat), "%s", p);
	if (!glob(pat, 0, NULL, &g) && g.gl_pathc && realpath(g.gl_pathv[g.gl_pathc - 1], out))
		ret = 0;
	globfree(&g);
	return ret;
}

static void put(FILE *f, __u64 v, int n)
{
	int i;

	for (i = 0; i < n; i++)
		fputc((int)(v >> (8 * i)) & 0xff, f);
}

static void put_rec(FILE *f, __u64 addr, __u32 len, const __u8 *data)
{
	put(f, addr, 8);
	put(f, data ? len : (len | TI_ZERO), 4);
	if (data)
		fwrite(data, 1, len, f);
}

/* big reads: one zero record, then the non-zero runs (gaps under 32 bytes kept) */
static void write_read(FILE *f, const struct logged *r)
{
	size_t i = 0, start, last;

	if (r->len <= 256) {
		put_rec(f, r->addr, (__u32)r->len, r->data);
		return;
	}
	put_rec(f, r->addr, (__u32)r->len, NULL);
	while (i < r->len) {
		while (i < r->len && !r->data[i])
			i++;
		if (i == r->len)
			break;
		start = last = i;
		while (i < r->len && i - last < 32) {
			if (r->data[i])
				last = i;
			i++;
		}
		put_rec(f, r->addr + start, (__u32)(last + 1 - start), r->data + start);
	}
}

struct tids {
	int pid, nspid, v[TI_MAX_TIDS], n;
};

static int add_tid(int tid, void *ctx)
{
	struct tids *t = ctx;
	int ns;

	if (t->n < TI_MAX_TIDS && !procfs__ns_tid(t->pid, tid, &ns) && ns != t->nspid)
		t->v[t->n++] = ns;
	return 0;
}

int main(int argc, char **argv)
{
	char want[PATH_MAX], real[PATH_MAX];
	struct proc_maps maps;
	struct tids t = { 0 };
	__u64 map_start = 0;
	unsigned int interp;
	size_t i;
	FILE *f;
	int pid, frames;

	if (argc < 4) {
		fprintf(stderr, "usage: pyrecord PID INTERP OUT [-a]\n");
		return 2;
	}
	pid = atoi(argv[1]);
	interp = (unsigned int)atoi(argv[2]);
	if (interp >= TI_NR_INTERPS || interp_path(interp, want)) {
		fprintf(stderr, "pyrecord: interpreter %u not installed\n", interp);
		return 1;
	}
	if (procfs__maps(pid, &maps))
		return 1;
	for (i = 0; i < maps.n; i++) {
		if (maps.v[i].path && maps.v[i].offset == 0 && realpath(maps.v[i].path, real) &&
		    !strcmp(real, want)) {
			map_start = maps.v[i].start;
			break;
		}
	}
	procfs__maps_free(&maps);
	if (!map_start) {
		fprintf(stderr, "pyrecord: %s is not mapped by %d\n", want, pid);
		return 1;
	}
	t.pid = pid;
	if (procfs__ns_tid(pid, pid, &t.nspid))
		return 1;
	procfs__for_each_task(pid, add_tid, &t);

	frames = drive(pid, 1);
	if (frames <= 0) {
		fprintf(stderr, "pyrecord: the reader found no frame (%d)\n", frames);
		return 1;
	}
	f = fopen(argv[3], "wb");
	if (!f)
		return 1;
	put(f, interp, 1);
	put(f, argc > 4 && !strcmp(argv[4], "-a") ? TI_F_ASYNCIO_MAP : 0, 1);
	put(f, 0, 2);
	put(f, map_start, 8);
	put(f, (__u32)t.nspid, 4);
	put(f, (__u64)t.n, 1);
	for (i = 0; i < (size_t)t.n; i++)
		put(f, (__u32)t.v[i], 4);
	for (i = 0; i < nlg; i++)
		write_read(f, &lg[i]);
	fclose(f);
	fprintf(stderr, "pyrecord: %d frames, %zu reads -> %s\n", frames, nlg, argv[3]);
	return 0;
}
