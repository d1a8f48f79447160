// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include "samples.h"

#define MAX_DISTINCT 32		/* distinct stacks kept per busy period; more only count */
#define MAX_LOOPS 256

struct period {
	__u32 tid;
	__u64 busy_start;
	int n, total;
	struct sampled s[MAX_DISTINCT];
};

struct samples {
	int n;
	struct period *p[MAX_LOOPS];
};

struct samples *samples__new(void)
{
	return calloc(1, sizeof(struct samples));
}

void samples__free(struct samples *s)
{
	int i;

	if (!s)
		return;
	for (i = 0; i < s->n; i++)
		free(s->p[i]);
	free(s);
}

static struct period *period_of(struct samples *s, __u32 tid)
{
	int i;

	for (i = 0; i < s->n; i++)
		if (s->p[i]->tid == tid)
			return s->p[i];
	if (s->n == MAX_LOOPS)
		return NULL;
	s->p[s->n] = calloc(1, sizeof(struct period));
	if (!s->p[s->n])
		return NULL;
	s->p[s->n]->tid = tid;
	return s->p[s->n++];
}

static bool same_stack(const struct ls_stack *a, const struct ls_stack *b)
{
	__u32 i;

	if (a->nr != b->nr || a->nr > LS_MAX_FRAMES)
		return false;
	for (i = 0; i < a->nr; i++)
		if (a->frames[i].code != b->frames[i].code ||
		    a->frames[i].lasti != b->frames[i].lasti)
			return false;
	return true;
}

bool samples__add(struct samples *s, const struct ls_sample *rec)
{
	struct period *p = period_of(s, rec->tid);
	bool first;
	int i;

	if (!p)
		return false;
	first = p->busy_start != rec->busy_start_ns || !p->total;
	if (p->busy_start != rec->busy_start_ns) {
		/* a new busy period: the last one was no stall */
		p->busy_start = rec->busy_start_ns;
		p->n = p->total = 0;
	}
	p->total++;
	for (i = 0; i < p->n; i++) {
		if (same_stack(&p->s[i].stack, &rec->stack)) {
			p->s[i].count++;
			return first;
		}
	}
	if (p->n < MAX_DISTINCT) {
		p->s[p->n].stack = rec->stack;
		p->s[p->n++].count = 1;
	}
	return first;
}

static int by_count(const void *a, const void *b)
{
	const struct sampled *x = a, *y = b;

	return (y->count > x->count) - (y->count < x->count);
}

int samples__take(struct samples *s, __u32 tid, __u64 busy_start, const struct sampled **out,
		  int *total)
{
	struct period *p = period_of(s, tid);
	int n;

	*total = 0;
	if (!p || p->busy_start != busy_start)
		return 0;
	qsort(p->s, p->n, sizeof(p->s[0]), by_count);
	*out = p->s;
	*total = p->total;
	n = p->n;
	p->n = p->total = 0;
	p->busy_start = 0;
	return n;
}
