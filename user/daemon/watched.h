/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * One process the daemon watches: its interpreter, its loop threads' counters and stalls,
 * its pending tasks. The daemon owns the tracer; this owns everything per process.
 */
#ifndef __WATCHED_H
#define __WATCHED_H

#include <stdbool.h>
#include <sys/types.h>
#include "loopscope.h"
#include "stats.h"
#include "taskwatch.h"
#include "tracer.h"

struct python;
struct samples;
struct enricher;

struct loop_thread {
	__u32 tid;
	char comm[16];
	bool seen;			/* in the last reading of the threads map */
	double busy_pct;		/* last interval */
	double busy_since;		/* mono seconds: in a busy period since then, 0 if idle */
	__u64 iterations, busy_ns, idle_ns;
	__u64 hist[LS_HIST_BUCKETS];
	__u64 gc_ns[LS_GC_GENS], gc_count[LS_GC_GENS];
	__u64 stalls[NR_CAUSES];	/* by dominant cause */
	double stall_s[NR_CAUSES];
};

struct watched {
	pid_t pid;
	unsigned long long start;	/* with pid: this process, not a later one with its PID */
	char comm[16];
	double since;			/* mono seconds it has been watched */
	bool announced;			/* its "attached" line is out */
	bool seen;			/* chosen by the selectors in the last scan */
	struct python *py;
	bool py_done;
	double py_deadline;		/* stop waiting for the interpreter to come up */
	double exec_deadline;		/* stop waiting for a young process to exec Python */
	double next_try;
	char py_what[192];		/* "CPython 3.11.2 (...)" or why not */
	struct probe_status probes;
	struct stats *st;
	struct samples *samples;
	struct enricher *en;
	struct taskwatch *tw;
	bool tasks_ready;
	bool have_reading;
	struct task_reading reading;
	int nloops;
	struct loop_thread loops[64];	/* event-loop threads; more are counted, not kept */
};

struct watch_opts {
	double threshold_ms;
	bool tasks, audit;
	double interval_s;
	double hang_s;
};

struct watched *watched__new(pid_t pid, unsigned long long start, const struct watch_opts *o);
void watched__free(struct watched *w);

/*
 * Find the interpreter; 0 once done (found, or not usable: py_what says), -EAGAIN to try
 * again later, -ENOEXEC when this is not a Python process at all.
 */
int watched__find_python(struct watched *w, struct tracer *tr, const struct watch_opts *o);

/* A stall record of this process: enriched into v (stacks, task), and counted. */
void watched__stall(struct watched *w, const struct ls_stall *rec, struct stall_view *v);
void watched__sample(struct watched *w, const struct ls_sample *rec);
void watched__stack(struct watched *w, const struct ls_sample *rec);

/* The threads map, read each interval: call thread() for each entry, then end_reading(). */
void watched__thread(struct watched *w, __u32 tid, const struct ls_thread *t, __u64 epoch);
/* Between readings: counters and busy state fresh for a scrape, intervals untouched. */
void watched__refresh(struct watched *w, __u32 tid, const struct ls_thread *t);
void watched__thread_exit(struct watched *w, __u32 tid, const struct ls_thread *t);
void watched__end_reading(struct watched *w);

/* Read the pending tasks (taskwatch skips some to bound the cost); 1 with a finding. */
int watched__read_tasks(struct watched *w, struct finding *f);

enum loop_state { LOOP_HEALTHY, LOOP_BUSY, LOOP_WEDGED };
/* From the age of the busy period in progress: the loop is alive while it iterates. */
enum loop_state watched__loop_state(const struct loop_thread *l, double now, double stall_s,
				    double wedged_s, double *age);
const char *loop_state__name(enum loop_state s);

#endif /* __WATCHED_H */
