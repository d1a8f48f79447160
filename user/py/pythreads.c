// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Python threads: walking the thread-state lists and matching them to OS threads. */
#include <errno.h>
#include <stdlib.h>
#include "procfs.h"
#include "pyinternal.h"
#include "pyproc.h"

#define MAX_INTERPS 64
#define PTHREAD_SCAN 2048	/* bytes of glibc's struct pthread searched for the TID */
#define PTHREAD_TID_GLIBC 720	/* where glibc 2.x on x86_64 keeps it: tried first */
#define MAX_TASKS 4096

/* Visit every PyThreadState of every interpreter, both lists bounded. */
int pythreads__for_each(const struct pyproc *p, int (*cb)(__u64 ts, void *ctx), void *ctx)
{
	const struct py_offsets *o = &pyproc__layout(p)->off;
	__u64 interp, ts;
	int i, j, ret;

	if (pyproc__read_u64(p, o->runtime_addr + o->runtime_interp_head, &interp))
		return -EFAULT;
	for (i = 0; interp && i < MAX_INTERPS; i++) {
		if (pyproc__read_u64(p, interp + o->interp_tstate_head, &ts))
			return -EFAULT;
		for (j = 0; ts && j < PY_MAX_THREADS; j++) {
			ret = cb(ts, ctx);
			if (ret)
				return ret;
			if (pyproc__read_u64(p, ts + o->tstate_next, &ts))
				return -EFAULT;
		}
		if (pyproc__read_u64(p, interp + o->interp_next, &interp))
			return -EFAULT;
	}
	return 0;
}

/* The namespace-local TID of a thread state, following PY_F_TID_PTHREAD. */
static int tstate_tid_at(const struct pyproc *p, __u64 ts, __u16 pthread_tid, int *tid)
{
	const struct py_offsets *o = &pyproc__layout(p)->off;
	__u32 v32;
	__u64 v;

	if (pyproc__read_u64(p, ts + o->tstate_tid, &v))
		return -EFAULT;
	if (!(o->flags & PY_F_TID_PTHREAD)) {
		*tid = (int)v;
		return 0;
	}
	if (pthread_tid == PY_OFF_NONE)
		return -ENOENT;
	if (pyproc__read(p, v + pthread_tid, &v32, sizeof(v32)))
		return -EFAULT;
	*tid = (int)v32;
	return 0;
}

static int tstate_ns_tid(const struct pyproc *p, __u64 ts, int *tid)
{
	return tstate_tid_at(p, ts, pyproc__layout(p)->off.pthread_tid, tid);
}

struct tid_query {
	const struct pyproc *p;
	int ns_tid;
	__u64 ts;
};

static int match_tstate(__u64 ts, void *ctx)
{
	struct tid_query *q = ctx;
	int tid;

	if (tstate_ns_tid(q->p, ts, &tid) || tid != q->ns_tid)
		return 0;
	q->ts = ts;
	return 1;
}

int pyproc__thread_state(const struct pyproc *p, int ns_tid, __u64 *tstate)
{
	struct tid_query q = { .p = p, .ns_tid = ns_tid };
	int ret;

	ret = pythreads__for_each(p, match_tstate, &q);
	if (ret < 0)
		return ret;
	if (ret != 1)
		return -ENOENT;
	*tstate = q.ts;
	return 0;
}

struct thread_list {
	const struct pyproc *p;
	struct py_thread *v;
	int n;
	int max;
};

static int add_thread(__u64 ts, void *ctx)
{
	struct thread_list *l = ctx;

	if (l->n >= l->max)
		return 1;
	l->v[l->n].tstate = ts;
	if (tstate_ns_tid(l->p, ts, &l->v[l->n].ns_tid))
		l->v[l->n].ns_tid = -1;
	l->n++;
	return 0;
}

int pyproc__threads(const struct pyproc *p, struct py_thread *threads, int max)
{
	struct thread_list l = { .p = p, .v = threads, .max = max };
	int ret;

	ret = pythreads__for_each(p, add_thread, &l);
	return ret < 0 ? ret : l.n;
}

/* Namespace-local TIDs of the target's threads, for calibration. */
struct task_set {
	int pid;
	int v[MAX_TASKS];
	int n;
};

static int add_task(int tid, void *ctx)
{
	struct task_set *s = ctx;

	if (s->n < MAX_TASKS && !procfs__ns_tid(s->pid, tid, &s->v[s->n]))
		s->n++;
	return 0;
}

struct calib {
	const struct pyproc *p;
	const struct task_set *tasks;
	__u16 pthread_tid;	/* candidate */
	int ok;
	int bad;
};

static int check_tstate_tid(__u64 ts, void *ctx)
{
	struct calib *c = ctx;
	int tid, i;

	if (tstate_tid_at(c->p, ts, c->pthread_tid, &tid)) {
		c->bad++;
		return 1;
	}
	for (i = 0; i < c->tasks->n; i++) {
		if (c->tasks->v[i] == tid) {
			c->ok++;
			return 0;
		}
	}
	c->bad++;
	return 1;
}

/*
 * Before 3.11 a thread state stores only pthread_self(). On x86_64 glibc that is the thread's
 * struct pthread, which holds the TID: find where by looking for the main thread's TID (the
 * namespace PID) in the main thread's struct pthread, and keep the first candidate that maps
 * every thread state to a live thread of the target.
 */
__u16 pythreads__pthread_tid(const struct pyproc *p)
{
	const struct py_layout *l = pyproc__layout(p);
	struct task_set *tasks = NULL;
	__u16 found = PY_OFF_NONE;
	__u32 words[PTHREAD_SCAN / 4];
	struct calib c;
	__u64 main_pt;
	int i, cand;

	if (!(l->off.flags & PY_F_TID_PTHREAD) ||
	    pyproc__read_u64(p, l->off.runtime_addr + l->runtime_main_thread, &main_pt) ||
	    pyproc__read(p, main_pt, words, sizeof(words)))
		return PY_OFF_NONE;
	tasks = calloc(1, sizeof(*tasks));
	if (!tasks)
		return PY_OFF_NONE;
	tasks->pid = pyproc__pid(p);
	procfs__for_each_task(tasks->pid, add_task, tasks);
	for (i = -1; i < PTHREAD_SCAN / 4 && found == PY_OFF_NONE; i++) {
		cand = i < 0 ? PTHREAD_TID_GLIBC : i * 4;
		if (words[cand / 4] != (__u32)pyproc__nspid(p) ||
		    (i >= 0 && cand == PTHREAD_TID_GLIBC))
			continue;
		c = (struct calib){ .p = p, .tasks = tasks, .pthread_tid = (__u16)cand };
		if (!pythreads__for_each(p, check_tstate_tid, &c) && c.ok && !c.bad)
			found = (__u16)cand;
	}
	free(tasks);
	return found;
}
