/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * `loopscope record`: where the loop's time went, as one flamegraph. Turns stalls, samples
 * and idle time into weighted stacks for user/flame.c; knows nothing of Python versions.
 */
#ifndef __RECORD_H
#define __RECORD_H

#include "frames.h"
#include "stats.h"

enum record_view {
	VIEW_STALL,	/* ms the loop was unavailable, by stack, coloured by cause */
	VIEW_CPU,	/* on-CPU samples of loop threads */
	VIEW_OFFCPU,	/* blocked time by stack, the cause as the root frame */
	VIEW_WALL,	/* all of the loop's time, idle included */
};

struct recorder;

int record__parse_view(const char *s, enum record_view *v);
const char *record__view_name(enum record_view v);

struct recorder *recorder__new(enum record_view view, int freq);
void recorder__free(struct recorder *rc);

void recorder__stall(struct recorder *rc, const struct stall_view *v);

/* A stall's time as weighted stacks, as the stall view adds them (the flight recorder too). */
typedef void (*record_part_fn)(void *ctx, const struct stack_text *st, const char *cause,
			       double ms);
void record__stall_parts(const struct stall_view *v, record_part_fn fn, void *ctx);
/* An on-CPU sample of a loop thread (any busy period), symbolized. */
void recorder__sample(struct recorder *rc, const struct stack_text *st);
/* Loop time outside stalls and samples, for the wall view. */
void recorder__loop_time(struct recorder *rc, double idle_ms, double busy_ms);

/* Write to path in the format its extension says (or fmt_name); returns 0 or -errno. */
int recorder__write(struct recorder *rc, const char *path, const char *fmt_name,
		    double *total, int *stacks);

#endif /* __RECORD_H */
