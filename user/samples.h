/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * On-CPU samples of loop threads, grouped by the busy period they fell in, until that period
 * turns out to be a stall (its record arrives) or not (the next period starts).
 */
#ifndef __SAMPLES_H
#define __SAMPLES_H

#include <stdbool.h>
#include <linux/types.h>
#include "loopscope.h"

struct sampled {
	struct ls_stack stack;
	int count;
};

struct samples;

struct samples *samples__new(void);
void samples__free(struct samples *s);
/* Returns true for the first sample of a busy period. */
bool samples__add(struct samples *s, const struct ls_sample *rec);

/*
 * The distinct stacks sampled in tid's busy period that started at busy_start, most frequent
 * first, valid until the next call; *total counts every sample. Returns how many stacks.
 */
int samples__take(struct samples *s, __u32 tid, __u64 busy_start, const struct sampled **out,
		  int *total);

#endif /* __SAMPLES_H */
