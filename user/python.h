/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The target's interpreter as a session sees it: found (or not), its offsets handed to the
 * BPF walker, raw stacks turned into frames. Versions are user/py/'s business, not this one's.
 */
#ifndef __PYTHON_H
#define __PYTHON_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include "frames.h"
#include "loopscope.h"

struct python;

/*
 * Find the interpreter of pid. -EAGAIN: not initialised yet, try again later; other errors:
 * no usable interpreter, and msg says why in one line.
 */
int python__open(pid_t pid, struct python **out, char *msg, size_t len);
void python__free(struct python *py);

const struct py_offsets *python__offsets(const struct python *py);
void python__describe(const struct python *py, char *buf, size_t len);

/* Symbolize a raw stack into out (at most VIEW_FRAMES frames). */
void python__stack(struct python *py, const struct ls_stack *raw, struct stack_text *out);

/*
 * The asyncio task a stack belongs to (its running task on 3.14+, else the task whose
 * coroutine is the stack's outermost one): name ("Task-7") and coroutine. -ENOENT if none.
 */
int python__task(struct python *py, const struct ls_stack *raw, char *name, size_t nlen,
		 char *coro, size_t clen);

/*
 * Get the asyncio reader ready before a stall needs it (its first use reads the registries
 * whole). Call until it returns 0; -EAGAIN while _asyncio is not loaded yet.
 */
int python__prepare_tasks(struct python *py);

struct py_task;
struct py_loop_stats;
/* Every pending task (and finished ones whose exception nobody retrieved); see pytasks.h. */
int python__tasks(struct python *py, struct py_task *out, int max, int *total, bool *partial);
int python__loops(struct python *py, struct py_loop_stats *out, int max);
/* One frame of an await chain, symbolized. */
void python__frame(struct python *py, const struct py_raw_frame *rf, struct frame_text *out);

/* Resolve a stack's code objects now, while they live; later lookups use the cache. */
void python__warm(struct python *py, const struct ls_stack *raw);

/* Walk host thread tid's stack from userspace (a thread still blocked has no BPF stack yet). */
int python__walk(struct python *py, pid_t tid, struct ls_stack *out);

struct tracer_probes;
/* Where this interpreter's GC/import/audit probe points are (binary must outlive tp's use). */
int python__probes(struct python *py, struct tracer_probes *tp);

/* Failed remote reads so far (walks and symbols). */
__u64 python__read_failures(const struct python *py);

#endif /* __PYTHON_H */
