/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What a stall report adds to the numbers: its stacks symbolized, its samples merged by
 * line, the headline frame in the user's own code, what set off its GC, and its task.
 */
#ifndef __ENRICH_H
#define __ENRICH_H

#include <linux/types.h>
#include "loopscope.h"
#include "stats.h"

struct enricher;
struct python;
struct samples;

struct enricher *enricher__new(void);
void enricher__free(struct enricher *e);

/* A stack taken inside tid's busy period: name its task now, while the task exists. */
void enricher__name_task(struct enricher *e, struct python *py, __u32 tid, __u64 busy_start,
			 const struct ls_stack *st);

/* Fill v's Python parts (nothing when py is NULL); takes the period's samples. */
void enricher__stall(struct enricher *e, struct python *py, struct samples *samples,
		     struct stall_view *v);

#endif /* __ENRICH_H */
