/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * asyncio state of a live CPython 3.8-3.15 process, read from outside with process_vm_readv
 * (the target is never stopped): its tasks, what each one awaits, and its running loops.
 * Works for stock asyncio and for loops such as uvloop that use _asyncio's Task; consumers
 * never see CPython structures.
 *
 * Every read races with the target. Objects are validated by type before use, iterations are
 * bounded, a registry that looks torn is read a second time, and what still does not add up is
 * reported as partial (PY_TASK_PARTIAL, pytasks__list_flags()) rather than guessed.
 *
 * Errors are negative errnos: -EAGAIN (_asyncio not imported yet), -EOPNOTSUPP (3.14+ without
 * _asyncio's AsyncioDebug section), -EPROTO (memory does not look as expected), -ESRCH (the
 * process exited), -ENOENT (no such task), -ENOMEM.
 */
#ifndef __PYTASKS_H
#define __PYTASKS_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>
#include "pyoffsets.h"

struct pyproc;
struct pytasks;

#define PY_TASK_MAX_AWAITED_BY 8
#define PY_TASK_MAX_FRAMES 32

/* struct py_task.flags */
#define PY_TASK_PARTIAL		(1U << 0)	/* some field could not be read: left empty */
#define PY_TASK_CHAIN_TRUNCATED	(1U << 1)	/* await chain longer than frames[] */

/* pytasks__list_flags() */
#define PY_TASKS_PARTIAL	(1U << 0)	/* a registry could not be read in full */
#define PY_TASKS_CAPPED		(1U << 1)	/* more tasks than the reader's bound */

enum py_task_state {
	PY_TASK_PENDING = 0,
	PY_TASK_CANCELLED = 1,
	PY_TASK_FINISHED = 2,
};

struct py_task {
	__u64 addr;			/* the Task object */
	__u64 coro;			/* its coroutine */
	__u64 loop;
	char name[64];			/* get_name(): "Task-7" for unnamed tasks */
	char coro_qualname[128];
	int state;			/* enum py_task_state */
	bool done_exc_unretrieved;	/* finished with an exception nobody retrieved */
	__u64 waiter;			/* the Future/Task it awaits (task_fut_waiter), or 0 */
	char waiter_type[64];		/* "Task", "Future", "_GatheringFuture", ... */
	char waiter_desc[128];		/* "Semaphore.acquire", "Task Task-5", "sleep", ... */
	/* 3.14+: the task's own awaited-by record; before: tasks whose waiter is this task */
	__u64 awaited_by[PY_TASK_MAX_AWAITED_BY];
	int nawaited_by;
	unsigned int flags;		/* PY_TASK_* */
	int nframes;
	/* the await chain, outermost (the task's coroutine) first; symbolize with pysym */
	struct py_raw_frame frames[PY_TASK_MAX_FRAMES];
};

/* Locate _asyncio in p's main interpreter. p must outlive t. Not thread-safe. */
int pytasks__new(struct pyproc *p, struct pytasks **out);
void pytasks__free(struct pytasks *t);

/*
 * Name of a task, given the task (any version) or its coroutine (the outermost coroutine of
 * a stack walk, for 3.8-3.13 where the thread state has no running task); either may be 0.
 * coro_qualname (may be NULL) receives the coroutine's __qualname__. Returns 0 or -ENOENT.
 * A coroutine whose task has finished since the reader last listed or indexed the tasks (a
 * stack that reached us late) gets the name that task had then.
 */
int pytasks__name(struct pytasks *t, __u64 task, __u64 coro, char *name, size_t nlen,
		  char *coro_qualname, size_t clen);

/*
 * Every pending task of every loop and thread, then (where the interpreter still registers
 * them: 3.8-3.13) finished tasks holding an exception nobody retrieved. Returns the number
 * stored in out (at most max); *total (may be NULL) is the number of pending tasks found.
 */
int pytasks__list(struct pytasks *t, struct py_task *out, int max, int *total);
/* PY_TASKS_* of the latest pytasks__list(). */
unsigned int pytasks__list_flags(const struct pytasks *t);

struct py_loop_stats {
	__u64 loop;			/* the running event loop */
	int thread_ns_tid;		/* its thread, namespace-local TID; -1 if unknown */
	__u64 running_task;		/* the task being stepped right now, 0 between steps */
	long ready;			/* len(loop._ready): callbacks due now */
	long scheduled;			/* len(loop._scheduled): timers */
	bool ready_known;		/* false when the loop keeps them in C (uvloop) */
	bool scheduled_known;
	char type[64];			/* loop class, e.g. "_UnixSelectorEventLoop", "Loop" */
};

/*
 * The loop running in each thread, and the task it is stepping (3.14+: the thread state's
 * running task; before: _asyncio's current-tasks dict). Returns the number stored (at most max).
 */
int pytasks__loops(struct pytasks *t, struct py_loop_stats *out, int max);

#endif /* __PYTASKS_H */
