// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "py/pytasks.h"
#include "python.h"
#include "stats.h"
#include "taskwatch.h"

#define MAX_TASKS 4096		/* tasks read in detail; the count covers them all */
#define TREND 6			/* readings the buildup rule looks at */
#define IDLE_PCT 5.0		/* a loop this busy or less is idle */

struct taskwatch {
	double hang_s;
	double interval_s;
	int skip;		/* calls to skip, to bound the readings' cost */
	struct py_task *tasks;
	__u64 *prev;		/* pending task addresses of the last reading, sorted */
	int nprev;
	double when[TREND];
	int live[TREND];
	int ntrend;
	bool buildup_said;
	double stuck_since;	/* 0: nothing stuck */
	bool hang_said;
};

struct taskwatch *taskwatch__new(double hang_s, double interval_s)
{
	struct taskwatch *tw = calloc(1, sizeof(*tw));

	if (!tw)
		return NULL;
	tw->hang_s = hang_s;
	tw->interval_s = interval_s > 0 ? interval_s : 1;
	tw->tasks = calloc(MAX_TASKS, sizeof(*tw->tasks));
	tw->prev = calloc(MAX_TASKS, sizeof(*tw->prev));
	if (!tw->tasks || !tw->prev) {
		taskwatch__free(tw);
		return NULL;
	}
	return tw;
}

void taskwatch__free(struct taskwatch *tw)
{
	if (!tw)
		return;
	free(tw->tasks);
	free(tw->prev);
	free(tw);
}

static void count(struct task_count *c, int *n, const char *what)
{
	int i, min = 0;

	for (i = 0; i < *n; i++) {
		if (!strcmp(c[i].what, what)) {
			c[i].n++;
			return;
		}
	}
	if (*n < TW_TOP) {
		snprintf(c[*n].what, sizeof(c[*n].what), "%s", what);
		c[(*n)++].n = 1;
		return;
	}
	/* full: a rough top-N, replacing the rarest when it has been seen once */
	for (i = 1; i < TW_TOP; i++)
		if (c[i].n < c[min].n)
			min = i;
	if (c[min].n == 1)
		snprintf(c[min].what, sizeof(c[min].what), "%s", what);
}

static int by_n(const void *a, const void *b)
{
	const struct task_count *x = a, *y = b;

	return (y->n > x->n) - (y->n < x->n);
}

static int cmp_u64(const void *a, const void *b)
{
	__u64 x = *(const __u64 *)a, y = *(const __u64 *)b;

	return (x > y) - (x < y);
}

/* Waiting on a lock, a semaphore, a queue, an event, another task or a bare future? */
static bool waits_on_others(const struct py_task *t)
{
	static const char *const prims[] = { "Semaphore", "Lock", "Event", "Condition",
					     "Queue", "Barrier" };
	size_t i;

	if (!t->waiter)
		return false;
	for (i = 0; i < sizeof(prims) / sizeof(prims[0]); i++)
		if (strstr(t->waiter_desc, prims[i]))
			return true;
	return !strncmp(t->waiter_desc, "Task", 4) || !strcmp(t->waiter_type, "Future");
}

static void chain_of(struct python *py, const struct py_task *t, struct task_chain *c)
{
	int i;

	memset(c, 0, sizeof(*c));
	snprintf(c->task, sizeof(c->task), "%s", t->name);
	snprintf(c->coro, sizeof(c->coro), "%s", t->coro_qualname);
	snprintf(c->waiting, sizeof(c->waiting), "%s", t->waiter_desc[0] ? t->waiter_desc :
						      t->waiter_type);
	for (i = 0; i < t->nframes && i < PY_TASK_MAX_FRAMES && c->nframes < TW_CHAIN_FRAMES;
	     i++)
		python__frame(py, &t->frames[i], &c->frames[c->nframes++]);
}

static int finished_since(struct taskwatch *tw, const __u64 *cur, int ncur)
{
	int i, gone = 0;

	for (i = 0; i < tw->nprev; i++)
		if (!bsearch(&tw->prev[i], cur, ncur, sizeof(*cur), cmp_u64))
			gone++;
	return gone;
}

static bool buildup(struct taskwatch *tw, const struct task_reading *r, struct finding *f)
{
	int i, ups = 0, first, last, n = tw->ntrend < TREND ? tw->ntrend : TREND;

	if (n < TREND)
		return false;
	/* never shrinking and growing in most readings: work arriving in bursts is steady too */
	for (i = 1; i < n; i++) {
		if (tw->live[i] < tw->live[i - 1])
			break;
		ups += tw->live[i] > tw->live[i - 1];
	}
	first = tw->live[0];
	last = tw->live[n - 1];
	if (i < n || ups < (n - 1) / 2 || last - first < 50 || last - first < first / 5) {
		tw->buildup_said = false;	/* stopped growing: a new buildup may be said */
		return false;
	}
	if (tw->buildup_said)
		return false;
	tw->buildup_said = true;
	f->kind = FIND_BUILDUP;
	f->live = last;
	f->rate_per_s = (last - first) / (tw->when[n - 1] - tw->when[0]);
	snprintf(f->top_coro, sizeof(f->top_coro), "%.127s", r->ncoro ? r->by_coro[0].what : "?");
	snprintf(f->awaiting, sizeof(f->awaiting), "%.127s", r->nawait ? r->by_await[0].what : "?");
	return true;
}

static int read_now(struct taskwatch *tw, struct python *py, double busy_pct,
		    struct task_reading *r, struct finding *f)
{
	struct py_loop_stats loops[16];
	int i, n, total = 0, nstuck = 0, nprims = 0, gone;
	__u64 *cur;
	bool partial = false, raised = false;

	memset(r, 0, sizeof(*r));
	memset(f, 0, sizeof(*f));
	r->when = now_mono();
	n = python__tasks(py, tw->tasks, MAX_TASKS, &total, &partial);
	if (n < 0)
		return n;
	r->live = total;
	r->partial = partial || n > MAX_TASKS;
	n = n > MAX_TASKS ? MAX_TASKS : n;
	r->loops = python__loops(py, loops, 16);
	r->ready_known = r->scheduled_known = r->loops > 0;
	for (i = 0; i < r->loops && i < 16; i++) {
		r->ready += loops[i].ready_known ? loops[i].ready : 0;
		r->scheduled += loops[i].scheduled_known ? loops[i].scheduled : 0;
		r->ready_known &= loops[i].ready_known;
		r->scheduled_known &= loops[i].scheduled_known;
		snprintf(r->loop_type, sizeof(r->loop_type), "%s", loops[i].type);
	}
	cur = malloc((n ?: 1) * sizeof(*cur));
	if (!cur)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		const struct py_task *t = &tw->tasks[i];

		if (t->state != 0) {
			if (t->done_exc_unretrieved && r->unretrieved < 3)
				snprintf(r->unretrieved_names[r->unretrieved], 64, "%s", t->name);
			r->unretrieved += t->done_exc_unretrieved;
			continue;
		}
		cur[nstuck++] = t->addr;	/* reused below as the list of pending addresses */
		count(r->by_coro, &r->ncoro, t->coro_qualname[0] ? t->coro_qualname : "?");
		count(r->by_await, &r->nawait, t->waiter_desc[0] ? t->waiter_desc :
					       t->waiter ? t->waiter_type : "(ready to run)");
	}
	qsort(r->by_coro, r->ncoro, sizeof(r->by_coro[0]), by_n);
	qsort(r->by_await, r->nawait, sizeof(r->by_await[0]), by_n);
	qsort(cur, nstuck, sizeof(*cur), cmp_u64);

	/* trend */
	if (tw->ntrend == TREND) {
		memmove(tw->when, tw->when + 1, (TREND - 1) * sizeof(tw->when[0]));
		memmove(tw->live, tw->live + 1, (TREND - 1) * sizeof(tw->live[0]));
		tw->ntrend--;
	}
	tw->when[tw->ntrend] = r->when;
	tw->live[tw->ntrend++] = r->live;
	if (tw->ntrend > 1)
		r->trend_per_s = (tw->live[tw->ntrend - 1] - tw->live[0]) /
				 (tw->when[tw->ntrend - 1] - tw->when[0]);
	if (buildup(tw, r, f)) {
		raised = true;
		for (i = 0; i < n && f->nchains < 2; i++)
			if (tw->tasks[i].state == 0 &&
			    !strcmp(tw->tasks[i].coro_qualname, f->top_coro))
				chain_of(py, &tw->tasks[i], &f->chains[f->nchains++]);
	}

	/* hang: tasks waiting on others, none finishing, the loop idle, for hang_s */
	gone = finished_since(tw, cur, nstuck);
	memcpy(tw->prev, cur, nstuck * sizeof(*cur));
	tw->nprev = nstuck;
	free(cur);
	nstuck = 0;
	for (i = 0; i < n; i++) {
		if (tw->tasks[i].state != 0 || !waits_on_others(&tw->tasks[i]))
			continue;
		nstuck++;
		nprims += strcmp(tw->tasks[i].waiter_type, "Future") != 0;
	}
	if (gone || busy_pct > IDLE_PCT || !(nprims || nstuck >= 2)) {
		tw->stuck_since = 0;
		tw->hang_said = false;
		return raised;
	}
	if (!tw->stuck_since)
		tw->stuck_since = r->when;
	if (raised || tw->hang_said || r->when - tw->stuck_since < tw->hang_s)
		return raised;
	tw->hang_said = true;
	f->kind = FIND_HANG;
	f->live = r->live;
	f->stuck = nstuck;
	f->stuck_s = r->when - tw->stuck_since;
	snprintf(f->why, sizeof(f->why), "%d task%s waiting on each other or on a primitive; "
		 "none finished and the loop was idle for %.0f s", nstuck, nstuck == 1 ? "" : "s",
		 f->stuck_s);
	for (i = 0; i < n && f->nchains < TW_CHAINS; i++)
		if (tw->tasks[i].state == 0 && waits_on_others(&tw->tasks[i]))
			chain_of(py, &tw->tasks[i], &f->chains[f->nchains++]);
	return 1;
}

int taskwatch__read(struct taskwatch *tw, struct python *py, double busy_pct,
		    struct task_reading *r, struct finding *f)
{
	double t0;
	int ret;

	if (tw->skip > 0) {
		tw->skip--;
		return -EAGAIN;
	}
	t0 = now_mono();
	ret = read_now(tw, py, busy_pct, r, f);
	tw->skip = (int)((now_mono() - t0) * 10 / tw->interval_s);
	return ret;
}
