// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include "flame.h"
#include "flight.h"
#include "record.h"

#define MAX_ITEMS 8192		/* parts kept; the oldest go first */
#define MAX_STRINGS 65536	/* distinct function and file names kept */
#define MAX_DUMPS 4096

struct fl_frame {
	const char *func, *file;	/* interned */
	__u32 line;
};

struct fl_item {
	double mono;
	double ms;
	const char *cause;		/* a static name from record.c */
	int n;
	bool more;			/* frames beyond those kept */
	struct fl_frame f[VIEW_FRAMES];
};

struct flight {
	struct flight_opts o;
	char dir[512], service[64];
	struct fl_item *items;	/* ring */
	int head, count;
	char **strs;		/* open-addressing set of interned strings */
	int nstrs;
	double mono_now;	/* of the stall being added */
};

static unsigned hash(const char *s)
{
	unsigned h = 2166136261u;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 16777619u;
	return h;
}

/* The same name from many stacks is stored once: a dump window holds thousands of stacks. */
static const char *intern(struct flight *fl, const char *s)
{
	unsigned i = hash(s) & (2 * MAX_STRINGS - 1);

	while (fl->strs[i]) {
		if (!strcmp(fl->strs[i], s))
			return fl->strs[i];
		i = (i + 1) & (2 * MAX_STRINGS - 1);
	}
	if (fl->nstrs >= MAX_STRINGS)
		return "?";
	fl->strs[i] = strdup(s);
	if (!fl->strs[i])
		return "?";
	fl->nstrs++;
	return fl->strs[i];
}

struct flight *flight__new(const struct flight_opts *o)
{
	struct flight *fl = calloc(1, sizeof(*fl));

	if (!fl)
		return NULL;
	fl->o = *o;
	snprintf(fl->dir, sizeof(fl->dir), "%s", o->dir);
	snprintf(fl->service, sizeof(fl->service), "%s", o->service);
	fl->o.dir = fl->dir;
	fl->o.service = fl->service;
	fl->items = calloc(MAX_ITEMS, sizeof(*fl->items));
	fl->strs = calloc(2 * MAX_STRINGS, sizeof(*fl->strs));
	if (!fl->items || !fl->strs) {
		flight__free(fl);
		return NULL;
	}
	return fl;
}

void flight__free(struct flight *fl)
{
	int i;

	if (!fl)
		return;
	for (i = 0; fl->strs && i < 2 * MAX_STRINGS; i++)
		free(fl->strs[i]);
	free(fl->strs);
	free(fl->items);
	free(fl);
}

static void keep_part(void *ctx, const struct stack_text *st, const char *cause, double ms)
{
	struct flight *fl = ctx;
	struct fl_item *it;
	int i;

	if (ms <= 0)
		return;
	it = &fl->items[(fl->head + fl->count) % MAX_ITEMS];
	if (fl->count == MAX_ITEMS)
		fl->head = (fl->head + 1) % MAX_ITEMS;
	else
		fl->count++;
	it->mono = fl->mono_now;
	it->ms = ms;
	it->cause = cause;
	it->n = st ? st->n : 0;
	it->more = st && st->depth > st->n;
	for (i = 0; i < it->n; i++) {
		it->f[i].func = intern(fl, st->f[i].func);
		it->f[i].file = intern(fl, st->f[i].file);
		it->f[i].line = st->f[i].line;
	}
}

void flight__stall(struct flight *fl, const struct stall_view *v)
{
	fl->mono_now = now_mono();
	record__stall_parts(v, keep_part, fl);
}

static int build(struct flight *fl, struct flame *fm, double since, int *stacks)
{
	struct flame_frame fr[VIEW_FRAMES + 1];
	int i, j, n, err;

	*stacks = 0;
	for (i = 0; i < fl->count; i++) {
		const struct fl_item *it = &fl->items[(fl->head + i) % MAX_ITEMS];

		if (it->mono < since)
			continue;
		n = 0;
		if (it->more)
			fr[n++] = (struct flame_frame){ "...", NULL, 0 };
		for (j = it->n - 1; j >= 0; j--)	/* outermost first */
			fr[n++] = (struct flame_frame){ it->f[j].func, it->f[j].file,
							it->f[j].line };
		if (!n)
			fr[n++] = (struct flame_frame){ "[no Python stack]", NULL, 0 };
		err = flame__add(fm, NULL, fr, n, it->cause, it->ms);
		if (err == -ENOMEM)
			return err;
		if (!err)
			(*stacks)++;
	}
	return 0;
}

static int write_one(struct flame *fm, const char *path, enum flame_format fmt)
{
	char tmp[700];
	FILE *f;
	int err;

	/* a dump appears whole or not at all: readers may pick it up at any time */
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "we");
	if (!f)
		return -errno;
	err = flame__write(fm, fmt, f);
	if (fclose(f) && !err)
		err = -errno;
	if (!err && rename(tmp, path))
		err = -errno;
	if (err)
		unlink(tmp);
	return err;
}

struct dump_file {
	char name[256];
	time_t mtime;
	long nsec;
	long long size;
};

static int by_age(const void *a, const void *b)
{
	const struct dump_file *x = a, *y = b;

	if (x->mtime != y->mtime)
		return x->mtime < y->mtime ? -1 : 1;
	return x->nsec < y->nsec ? -1 : x->nsec > y->nsec;
}

/* Remove the oldest of our dumps until the directory's dumps fit the limit. */
static void rotate(struct flight *fl, struct flight_dump *d)
{
	struct dump_file *files = calloc(MAX_DUMPS, sizeof(*files));
	char path[800];
	struct dirent *de;
	struct stat sb;
	long long total = 0;
	int n = 0, i;
	DIR *dir;

	if (!files || !(dir = opendir(fl->dir))) {
		free(files);
		return;
	}
	while ((de = readdir(dir)) && n < MAX_DUMPS) {
		if (strncmp(de->d_name, "loopscope-", 10) || strstr(de->d_name, ".tmp"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", fl->dir, de->d_name);
		if (stat(path, &sb) || !S_ISREG(sb.st_mode))
			continue;
		snprintf(files[n].name, sizeof(files[n].name), "%s", de->d_name);
		files[n].mtime = sb.st_mtim.tv_sec;
		files[n].nsec = sb.st_mtim.tv_nsec;
		files[n].size = sb.st_size;
		total += sb.st_size;
		n++;
	}
	closedir(dir);
	qsort(files, n, sizeof(*files), by_age);
	for (i = 0; i < n && total > fl->o.max_bytes; i++) {
		snprintf(path, sizeof(path), "%s/%s", fl->dir, files[i].name);
		if (!unlink(path)) {
			total -= files[i].size;
			d->removed++;
		}
	}
	d->dir_bytes = total;
	free(files);
}

int flight__dump(struct flight *fl, const char *why, struct flight_dump *d)
{
	static const struct {
		const char *ext;
		enum flame_format fmt;
	} kinds[] = { { "folded", FLAME_FOLDED }, { "pb.gz", FLAME_PPROF } };
	struct flame *fm;
	char stamp[32], base[640];
	struct timespec ts;
	struct tm tm;
	int i, err;

	memset(d, 0, sizeof(*d));
	if (mkdir(fl->dir, 0750) && errno != EEXIST)
		return -errno;
	fm = flame__new("loopscope flight recorder: stall time by stack", "ms");
	if (!fm)
		return -ENOMEM;
	err = build(fl, fm, now_mono() - fl->o.keep_s, &d->stacks);
	if (!err && !d->stacks)
		err = flame__add(fm, "[no stall in the window]", NULL, 0, "idle", 1);
	if (err)
		goto cleanup;
	d->ms = d->stacks ? flame__total(fm) : 0;
	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", &tm);
	/* milliseconds in the name: two dumps in one second must not overwrite each other */
	snprintf(base, sizeof(base), "%s/loopscope-%s-%s.%03ld-%s", fl->dir, fl->service, stamp,
		 ts.tv_nsec / 1000000, why);
	for (i = 0; i < 2; i++) {
		if ((i == 0 && !fl->o.folded) || (i == 1 && !fl->o.pprof))
			continue;
		snprintf(d->path[d->nfiles], sizeof(d->path[0]), "%s.%s", base, kinds[i].ext);
		err = write_one(fm, d->path[d->nfiles], kinds[i].fmt);
		if (err)
			goto cleanup;
		d->nfiles++;
	}
	rotate(fl, d);
cleanup:
	flame__free(fm);
	return err;
}
