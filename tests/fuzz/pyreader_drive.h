/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What loopscope asks of the interpreter reader for one target, in the same order: open it,
 * list its threads, walk each stack, symbolize each frame (twice: the second is a cache hit),
 * find thread states by TID, load the AsyncioDebug section. Shared by the fuzz harness
 * (fake remote memory) and pyrecord (a live process, to capture seeds).
 */
#ifndef __PYREADER_DRIVE_H
#define __PYREADER_DRIVE_H

#include <stdlib.h>
#include <string.h>
#include "py/pyproc.h"
#include "py/pysym.h"
#include "py/pyinternal.h"

#define DRIVE_THREADS 16
#define DRIVE_FRAMES 64
#define DRIVE_TASKS 16

/* asyncio tasks (pytasks.c), when the reader has them */
#if defined(__has_include)
#if __has_include("py/pytasks.h") && !defined(DRIVE_NO_TASKS)
#define DRIVE_TASKS_API 1
#include "py/pytasks.h"
#endif
#if __has_include("py/pyprobes.h") && !defined(DRIVE_NO_PROBES)
#define DRIVE_PROBES_API 1
#include "py/pyprobes.h"
#endif
#endif

static void drive__check_frame(const struct py_frame *f)
{
	/* the symbolizer's strings are always terminated inside their buffers */
	if (!memchr(f->func, '\0', sizeof(f->func)) || !memchr(f->file, '\0', sizeof(f->file)))
		abort();
}

static void drive__str(const char *s, size_t size)
{
	if (!memchr(s, '\0', size))
		abort();
}

#ifdef DRIVE_TASKS_API

/* List the tasks and loops, name each task, symbolize each await chain. */
static int drive__tasks(struct pyproc *p, struct pysym *s, const __u64 *coros, int ncoros,
			int verbose)
{
	struct py_loop_stats loops[8];
	struct py_task *tasks = calloc(DRIVE_TASKS, sizeof(*tasks));
	struct pytasks *t = NULL;
	struct py_frame out;
	char name[64], qual[128];
	int n = 0, i, j, total = 0;

	if (!tasks || pytasks__new(p, &t))
		goto cleanup;
	n = pytasks__list(t, tasks, DRIVE_TASKS, &total);
	if (n > DRIVE_TASKS)
		abort();
	for (i = 0; i < n; i++) {
		drive__str(tasks[i].name, sizeof(tasks[i].name));
		drive__str(tasks[i].coro_qualname, sizeof(tasks[i].coro_qualname));
		drive__str(tasks[i].waiter_type, sizeof(tasks[i].waiter_type));
		drive__str(tasks[i].waiter_desc, sizeof(tasks[i].waiter_desc));
		if (tasks[i].nframes < 0 || tasks[i].nframes > PY_TASK_MAX_FRAMES ||
		    tasks[i].nawaited_by < 0 || tasks[i].nawaited_by > PY_TASK_MAX_AWAITED_BY)
			abort();
		if (verbose)
			fprintf(stderr, "task %s (%s) waits on %s %s\n", tasks[i].name,
				tasks[i].coro_qualname, tasks[i].waiter_type, tasks[i].waiter_desc);
		for (j = 0; j < tasks[i].nframes; j++)
			if (!pysym__resolve(s, &tasks[i].frames[j], &out))
				drive__check_frame(&out);
		if (!pytasks__name(t, tasks[i].addr, tasks[i].coro, name, sizeof(name), qual,
				   sizeof(qual))) {
			drive__str(name, sizeof(name));
			drive__str(qual, sizeof(qual));
		}
	}
	for (i = 0; i < ncoros; i++)
		if (!pytasks__name(t, 0, coros[i], name, sizeof(name), NULL, 0))
			drive__str(name, sizeof(name));
	(void)pytasks__list_flags(t);
	i = pytasks__loops(t, loops, 8);
	if (i > 8)
		abort();
cleanup:
	pytasks__free(t);
	free(tasks);
	return n;
}
#endif

/* Returns pyproc__open()'s error, or the number of frames symbolized. */
static int drive(int pid, int verbose)
{
	struct py_thread th[DRIVE_THREADS];
	struct py_raw_frame fr[DRIVE_FRAMES];
	struct py_walk_info wi;
	struct pyproc_stats pst;
	struct pysym_stats sst;
	struct pysym *s = NULL;
	struct pyproc *p = NULL;
	struct py_frame out;
	__u64 coros[DRIVE_THREADS];
	int ncoros = 0;
	char desc[512];
	int n, i, j, k, err, ns, frames = 0;
	__u64 ts;

	err = pyproc__open(pid, &p);
	if (err) {
		const char *m = pyproc__strerror(err);

		if (!m || !memchr(m, '\0', 4096))
			abort();
		if (verbose)
			fprintf(stderr, "pyproc__open: %s\n", m);
		return err;
	}
	pyproc__describe(p, desc, sizeof(desc));
	if (verbose)
		fprintf(stderr, "%s\n", desc);
	(void)pyproc__offsets(p);
	if (pysym__new(p, &s))
		goto cleanup;
	n = pyproc__threads(p, th, DRIVE_THREADS);
	if (n > DRIVE_THREADS)
		abort();
	for (i = 0; i < n; i++) {
		k = pyproc__walk(p, th[i].tstate, fr, DRIVE_FRAMES, &wi);
		if (k > DRIVE_FRAMES || (k >= 0 && wi.nr_frames != (__u32)k))
			abort();
		if (k >= 0 && wi.coro)
			coros[ncoros++] = wi.coro;
		for (j = 0; j < k; j++) {
			memset(&out, 0x55, sizeof(out));
			if (!pysym__resolve(s, &fr[j], &out)) {
				drive__check_frame(&out);
				frames++;
				if (verbose)
					fprintf(stderr, "  %s (%s:%u)\n", out.func, out.file, out.line);
			}
			if (!pysym__resolve(s, &fr[j], &out))
				drive__check_frame(&out);
		}
		if (th[i].ns_tid >= 0 && !pyproc__thread_state(p, th[i].ns_tid, &ts) && !ts)
			abort();
		if (th[i].ns_tid >= 0 && !pyproc__host_tid(p, th[i].ns_tid, &ns))
			pyproc__ns_tid(p, ns, &ns);
	}
	if (pyproc__load_asyncio_debug(p) == 0 && verbose)
		fprintf(stderr, "AsyncioDebug applied\n");
#ifdef DRIVE_TASKS_API
	drive__tasks(p, s, coros, ncoros, verbose);
#endif
#ifdef DRIVE_PROBES_API
	{
		struct py_probes pr;

		if (!pyprobes__find(p, &pr)) {
			drive__str(pr.binary, sizeof(pr.binary));
			drive__str(pr.gc_symbol, sizeof(pr.gc_symbol));
		}
	}
#endif
	pyproc__stats(p, &pst);
	pysym__stats(s, &sst);
	if (sst.hits > sst.lookups)
		abort();
cleanup:
	pysym__free(s);
	pyproc__free(p);
	return frames;
}

#endif
