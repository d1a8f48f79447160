// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "enrich.h"
#include "python.h"
#include "samples.h"

#define PERIOD_TASKS 64

struct enricher {
	/* tasks end soon after their stall: named when a busy period's first stack arrives */
	struct period_task {
		__u32 tid;
		__u64 busy_start;
		char name[64], coro[128];
	} tasks[PERIOD_TASKS];
	unsigned int next_task;
};

struct enricher *enricher__new(void)
{
	return calloc(1, sizeof(struct enricher));
}

void enricher__free(struct enricher *e)
{
	free(e);
}

static bool same_text(const struct stack_text *a, const struct stack_text *b)
{
	int i;

	if (a->n != b->n)
		return false;
	for (i = 0; i < a->n; i++)
		if (a->f[i].line != b->f[i].line || strcmp(a->f[i].func, b->f[i].func) ||
		    strcmp(a->f[i].file, b->f[i].file))
			return false;
	return true;
}

/* Samples differing only in the instruction within a line are one stack to a reader. */
static void merge_samples(struct python *py, struct stall_view *v, const struct sampled *sm,
			  int n)
{
	struct stack_text *st = malloc(sizeof(*st));
	int i, j;

	for (i = 0; st && i < n; i++) {
		python__stack(py, &sm[i].stack, st);
		st->count = sm[i].count;
		for (j = 0; j < v->nstacks && !same_text(&v->oncpu[j], st); j++)
			;
		if (j < v->nstacks) {
			v->oncpu[j].count += st->count;
			/* keep most frequent first */
			for (; j > 0 && v->oncpu[j].count > v->oncpu[j - 1].count; j--) {
				*st = v->oncpu[j];
				v->oncpu[j] = v->oncpu[j - 1];
				v->oncpu[j - 1] = *st;
			}
		} else if (v->nstacks < VIEW_STACKS) {
			v->oncpu[v->nstacks++] = *st;
		}
	}
	free(st);
}

void enricher__stall(struct enricher *e, struct python *py, struct samples *samples,
		     struct stall_view *v)
{
	const struct stack_text *from = NULL;
	const struct frame_text *where;
	const struct sampled *sm;
	int n, total;
	size_t i;

	if (!py)
		return;
	v->python = true;
	if (v->ongoing && !v->raw.nr)
		python__walk(py, v->tid, &v->raw);	/* still blocked: walk it now */
	if (v->raw.nr)
		python__stack(py, &v->raw, &v->blocked);
	n = samples__take(samples, v->tid, v->busy_start_ns, &sm, &total);
	v->nsamples = total;
	merge_samples(py, v, sm, n);
	/* on-CPU stalls are named by where the samples were, blocked ones by the block */
	if (v->cause == CAUSE_CPU && v->nstacks)
		from = &v->oncpu[0];
	else if (v->blocked.n)
		from = &v->blocked;
	else if (v->nstacks)
		from = &v->oncpu[0];
	if (v->ev.gc_stack_ns && v->gc_raw.nr) {
		struct stack_text *gc = malloc(sizeof(*gc));

		if (gc) {
			python__stack(py, &v->gc_raw, gc);
			if (gc->n) {
				v->gc_where = *(stack__where(gc) ?: &gc->f[0]);
				v->has_gc_where = true;
			}
			free(gc);
		}
	}
	for (i = 0; i < sizeof(e->tasks) / sizeof(e->tasks[0]); i++) {
		if (e->tasks[i].tid == v->tid && e->tasks[i].busy_start == v->busy_start_ns) {
			snprintf(v->task, sizeof(v->task), "%s", e->tasks[i].name);
			snprintf(v->task_coro, sizeof(v->task_coro), "%s", e->tasks[i].coro);
		}
	}
	if (!v->task[0] && v->ongoing && v->raw.nr)	/* still running: ask now */
		python__task(py, &v->raw, v->task, sizeof(v->task), v->task_coro,
			     sizeof(v->task_coro));
	if (!from || !from->n)
		return;
	where = stack__where(from) ?: &from->f[0];
	v->where = *where;
	v->has_where = true;
	v->where_from = from == &v->blocked ? "blocked" : "on-CPU";
}

void enricher__name_task(struct enricher *e, struct python *py, __u32 tid, __u64 busy_start,
			 const struct ls_stack *st)
{
	struct period_task *pt;
	size_t i;

	for (i = 0; i < sizeof(e->tasks) / sizeof(e->tasks[0]); i++)
		if (e->tasks[i].tid == tid && e->tasks[i].busy_start == busy_start)
			return;
	pt = &e->tasks[e->next_task++ % (sizeof(e->tasks) / sizeof(e->tasks[0]))];
	memset(pt, 0, sizeof(*pt));
	if (python__task(py, st, pt->name, sizeof(pt->name), pt->coro, sizeof(pt->coro)))
		return;
	pt->tid = tid;
	pt->busy_start = busy_start;
}

