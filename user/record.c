// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "flame.h"
#include "record.h"
#include "report.h"

struct recorder {
	enum record_view view;
	int freq;
	struct flame *flame;
	double sampled_ms;	/* on-CPU time the samples stand for (wall view) */
	double stall_off_ms;	/* off-CPU stall time already added (wall view) */
	int stacks;
};

static const char *const view_names[] = { "stall", "cpu", "offcpu", "wall" };

int record__parse_view(const char *s, enum record_view *v)
{
	size_t i;

	for (i = 0; i < sizeof(view_names) / sizeof(view_names[0]); i++) {
		if (!strcmp(s, view_names[i])) {
			*v = i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *record__view_name(enum record_view v)
{
	return view_names[v];
}

struct recorder *recorder__new(enum record_view view, int freq)
{
	struct recorder *rc = calloc(1, sizeof(*rc));
	char title[64];

	if (!rc)
		return NULL;
	rc->view = view;
	rc->freq = freq;
	snprintf(title, sizeof(title), "loopscope: %s view", view_names[view]);
	rc->flame = flame__new(title, view == VIEW_CPU ? "samples" : "ms");
	if (!rc->flame) {
		free(rc);
		return NULL;
	}
	return rc;
}

void recorder__free(struct recorder *rc)
{
	if (!rc)
		return;
	flame__free(rc->flame);
	free(rc);
}

/* stack_text is innermost first; a flame wants the outermost first */
static void add(struct recorder *rc, const char *root, const struct stack_text *st,
		const char *cause, double weight)
{
	struct flame_frame fr[VIEW_FRAMES + 1];
	int i, n = 0;

	if (weight <= 0)
		return;
	if (st && st->depth > st->n)
		fr[n++] = (struct flame_frame){ "...", NULL, 0 };	/* frames not kept */
	for (i = st ? st->n - 1 : -1; i >= 0; i--)
		fr[n++] = (struct flame_frame){ st->f[i].func, st->f[i].file, st->f[i].line };
	if (!n)
		fr[n++] = (struct flame_frame){ "[no Python stack]", NULL, 0 };
	if (!flame__add(rc->flame, root, fr, n, cause, weight))
		rc->stacks++;
}

/* The stack an off-CPU reason is charged to: the block's, else the most sampled one. */
static const struct stack_text *blocked_stack(const struct stall_view *v)
{
	if (v->blocked.n)
		return &v->blocked;
	return v->nstacks ? &v->oncpu[0] : NULL;
}

void record__stall_parts(const struct stall_view *v, record_part_fn fn, void *ctx)
{
	const struct stack_text *bs = blocked_stack(v);
	double gc_ms = v->ev.gc_ns / 1e6, cpu_ms = v->oncpu_ms;
	int i, total = 0;

	for (i = 0; i < LS_NR_REASONS; i++)
		fn(ctx, bs, cause__name(i), v->busy.r[i].ns / 1e6);
	if (gc_ms > cpu_ms)
		gc_ms = cpu_ms;
	cpu_ms -= gc_ms;
	for (i = 0; i < v->nstacks; i++)
		total += v->oncpu[i].count;
	if (total) {
		/* a collection runs inside the allocation that set it off: the samples show it */
		for (i = 0; i < v->nstacks; i++) {
			double share = (double)v->oncpu[i].count / total;

			fn(ctx, &v->oncpu[i], "cpu", cpu_ms * share);
			fn(ctx, &v->oncpu[i], "gc", gc_ms * share);
		}
		return;
	}
	fn(ctx, bs, "cpu", cpu_ms);
	if (v->has_gc_where) {
		struct stack_text gc = { .n = 1, .depth = 1 };

		gc.f[0] = v->gc_where;
		fn(ctx, &gc, "gc", gc_ms);
	} else {
		fn(ctx, bs, "gc", gc_ms);
	}
}

static void add_part(void *ctx, const struct stack_text *st, const char *cause, double ms)
{
	add(ctx, NULL, st, cause, ms);
}

void recorder__stall(struct recorder *rc, const struct stall_view *v)
{
	const struct stack_text *bs = blocked_stack(v);
	int i;

	for (i = 0; i < LS_NR_REASONS; i++)
		rc->stall_off_ms += v->busy.r[i].ns / 1e6;
	if (rc->view == VIEW_STALL) {
		record__stall_parts(v, add_part, rc);
		return;
	}
	/* on-CPU time comes from the samples in the other views */
	for (i = 0; i < LS_NR_REASONS; i++) {
		double ms = v->busy.r[i].ns / 1e6;

		if (rc->view == VIEW_WALL)
			add(rc, NULL, bs, cause__name(i), ms);
		else if (rc->view == VIEW_OFFCPU)
			add(rc, cause__label(i), bs, cause__name(i), ms);
	}
}

void recorder__sample(struct recorder *rc, const struct stack_text *st)
{
	if (rc->view == VIEW_CPU) {
		add(rc, NULL, st, "cpu", 1);
	} else if (rc->view == VIEW_WALL && rc->freq > 0) {
		add(rc, NULL, st, "cpu", 1000.0 / rc->freq);
		rc->sampled_ms += 1000.0 / rc->freq;
	}
}

void recorder__loop_time(struct recorder *rc, double idle_ms, double busy_ms)
{
	double rest = busy_ms - rc->sampled_ms - rc->stall_off_ms;

	if (rc->view != VIEW_WALL)
		return;
	add(rc, "[idle: waiting in the selector]", NULL, "idle", idle_ms);
	add(rc, "[busy, not sampled]", NULL, "cpu", rest);
}

int recorder__write(struct recorder *rc, const char *path, const char *fmt_name,
		    double *total, int *stacks)
{
	enum flame_format fmt;
	FILE *out;
	int err;

	if (fmt_name) {
		static const struct {
			const char *name;
			enum flame_format fmt;
		} names[] = { { "svg", FLAME_SVG }, { "folded", FLAME_FOLDED },
			      { "speedscope", FLAME_SPEEDSCOPE }, { "pprof", FLAME_PPROF } };
		size_t i;

		for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
			if (!strcmp(fmt_name, names[i].name))
				break;
		if (i == sizeof(names) / sizeof(names[0]))
			return -EINVAL;
		fmt = names[i].fmt;
	} else if (flame__format_from_path(path, &fmt)) {
		return -EINVAL;
	}
	out = strcmp(path, "-") ? fopen(path, "we") : stdout;
	if (!out)
		return -errno;
	err = flame__write(rc->flame, fmt, out);
	if (out != stdout && fclose(out) && !err)
		err = -errno;
	*total = flame__total(rc->flame);
	*stacks = rc->stacks;
	return err;
}
