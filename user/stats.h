/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Turning the BPF counters and stall records into what a user reads: per-interval loop
 * health, stalls with their dominant cause, and the run's summary. Knows nothing of output.
 */
#ifndef __STATS_H
#define __STATS_H

#include <stdbool.h>
#include <sys/types.h>
#include <linux/types.h>
#include "frames.h"
#include "loopscope.h"

#define CAUSE_CPU LS_NR_REASONS	/* a stall's cause: one of enum ls_reason, or on-CPU */
#define NR_CAUSES (LS_NR_REASONS + 1)
#define STATS_TOP_MAX 32

struct loop_interval {
	__u32 tid;
	char comm[16];
	double secs;
	__u64 iterations;
	double busy_pct;
	double p50_ms, p99_ms, max_ms;	/* iteration (busy period) times */
	__u64 stalls;
	double blocked_ms;	/* > 0: the loop is inside a stall right now, this long */
};

struct stall_view {
	__u32 pid, tid;
	char comm[16];
	double start_wall;	/* seconds since the epoch */
	double dur_ms, oncpu_ms, offcpu_ms;
	int cause;		/* enum ls_reason or CAUSE_CPU */
	bool ongoing;		/* still blocked when loopscope stopped */
	struct ls_busy busy;
	__u64 busy_start_ns;

	/* where the loop was when it blocked longest (raw until symbolized into `blocked`) */
	struct ls_stack raw;
	double blocked_ms;
	int blocked_syscall;
	int blocked_reason;

	struct ls_py_events ev;		/* GC and imports inside this stall */
	struct ls_stack gc_raw;		/* what triggered the longest collection */

	/* filled by the session when the interpreter can be read */
	bool python;
	struct stack_text blocked;
	int nsamples;			/* on-CPU samples in this stall */
	int nstacks;
	struct stack_text oncpu[VIEW_STACKS];	/* most frequent first */
	bool has_where;
	struct frame_text where;	/* innermost frame of the user's code */
	const char *where_from;		/* "blocked" or "on-CPU" */
	char task[64];			/* the asyncio task running, "" if none known */
	char task_coro[128];
	bool has_gc_where;
	struct frame_text gc_where;	/* the user's frame whose allocation set off the GC */
};

struct summary {
	pid_t pid;
	double secs;
	int loops;
	__u64 iterations;
	double busy_pct;
	double busy_ms, idle_ms;		/* summed over loop threads */
	__u64 stalls;
	double stall_ms;			/* time the loop was unavailable */
	__u64 cause_stalls[NR_CAUSES];		/* stalls by dominant cause */
	double cause_ms[NR_CAUSES];		/* stall time by component */
	int ntop;
	struct stall_view top[STATS_TOP_MAX];	/* longest first */
	struct ls_counters counters;
	const char *end;			/* why the run ended */
	double gc_gen_ms[LS_GC_GENS];		/* every collection on loop threads */
	__u64 gc_gen_count[LS_GC_GENS];
	double gc_stall_ms;			/* collections inside stalls */
	double import_stall_ms;
	bool python;				/* stacks were available */
	struct probe_status_view {
		const char *gc, *imports, *audit;	/* "usdt", "uprobe", "none", "off" */
	} sources;
};

struct stats;

struct stats *stats__new(pid_t pid, __u64 stall_ns, int top_n);
void stats__free(struct stats *s);

/* A stall record from BPF as a view; then, once the session has added stacks, count it. */
void stats__stall_view(struct stats *s, const struct ls_stall *rec, struct stall_view *v);
void stats__count(struct stats *s, const struct stall_view *v);

/* Feed every thread after an epoch change, then read the intervals. */
void stats__thread(struct stats *s, __u32 tid, const struct ls_thread *t, __u64 ended_epoch);
int stats__intervals(struct stats *s, struct loop_interval **out);
/* A loop thread exited: keep its last counters for the summary. */
void stats__thread_exit(struct stats *s, __u32 tid, const struct ls_thread *t);

/* Loops still inside a stall at the last sample (views valid until the next sample). */
int stats__ongoing(struct stats *s, struct stall_view ***out);

int stats__loops(struct stats *s);
void stats__summary(struct stats *s, struct summary *sum);
/* The summary so far, without closing the books (progress lines). */
void stats__summary_peek(struct stats *s, struct summary *sum);

/* The upper bound of iteration-histogram bucket b (struct ls_thread.hist), microseconds. */
double stats__bucket_upper_us(int b);

double now_mono(void);		/* seconds, CLOCK_MONOTONIC = bpf_ktime_get_ns() */
double mono_to_wall(double mono);

#endif /* __STATS_H */
