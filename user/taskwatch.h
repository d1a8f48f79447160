/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Pending-task health, read from outside every interval: ready queue, timers, live tasks by
 * coroutine and by what they await, the trend, and two findings: a buildup (live tasks
 * growing steadily) and a hang (tasks waiting on each other or on a primitive, nothing
 * finishing, the loop idle).
 */
#ifndef __TASKWATCH_H
#define __TASKWATCH_H

#include <stdbool.h>
#include "frames.h"

#define TW_TOP 5
#define TW_CHAINS 6
#define TW_CHAIN_FRAMES 6

struct python;

struct task_count {
	char what[128];
	int n;
};

/* One task and what it waits for, its await chain outermost first. */
struct task_chain {
	char task[64];
	char coro[128];
	char waiting[128];
	int nframes;
	struct frame_text frames[TW_CHAIN_FRAMES];
};

struct task_reading {
	double when;
	int live;			/* pending tasks */
	bool partial;			/* a registry was not read in full */
	int loops;
	long ready, scheduled;		/* summed over running loops */
	bool ready_known, scheduled_known;
	char loop_type[64];
	int unretrieved;		/* finished with an exception nobody retrieved */
	char unretrieved_names[3][64];
	int ncoro, nawait;
	struct task_count by_coro[TW_TOP];
	struct task_count by_await[TW_TOP];
	double trend_per_s;		/* live tasks per second over the last readings */
};

enum finding_kind { FIND_BUILDUP, FIND_HANG };

struct finding {
	enum finding_kind kind;
	int live;
	double rate_per_s;		/* buildup */
	char top_coro[128];
	char awaiting[128];
	double stuck_s;			/* hang */
	int stuck;
	char why[160];
	int nchains;
	struct task_chain chains[TW_CHAINS];
};

struct taskwatch;

/* interval_s: how often taskwatch__read is called; readings are kept under a tenth of it. */
struct taskwatch *taskwatch__new(double hang_s, double interval_s);
void taskwatch__free(struct taskwatch *tw);

/*
 * Read the tasks, once per interval. busy_pct: how busy the loops were since the last
 * reading. A reading over thousands of tasks takes milliseconds of loopscope's time (never
 * the target's): after a costly one, calls return -EAGAIN, r untouched, until the readings
 * are back under a tenth of the time. Returns < 0 if nothing was read, 0 for a reading, 1
 * when it also raised a finding.
 */
int taskwatch__read(struct taskwatch *tw, struct python *py, double busy_pct,
		    struct task_reading *r, struct finding *f);

#endif /* __TASKWATCH_H */
