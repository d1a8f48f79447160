// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "py/pyproc.h"
#include "py/pyprobes.h"
#include "py/pysym.h"
#include "py/pytasks.h"
#include "python.h"
#include "tracer.h"

struct python {
	struct pyproc *proc;
	struct pysym *sym;
	struct pytasks *tasks;	/* NULL until _asyncio is loaded */
	struct py_probes probes;
};

int python__open(pid_t pid, struct python **out, char *msg, size_t len)
{
	struct python *py = calloc(1, sizeof(*py));
	int err;

	if (!py)
		return -ENOMEM;
	err = pyproc__open(pid, &py->proc);
	if (err) {
		snprintf(msg, len, "%s", pyproc__strerror(err));
		goto cleanup;
	}
	err = pysym__new(py->proc, &py->sym);
	if (err) {
		snprintf(msg, len, "symbolizer: %s", strerror(-err));
		goto cleanup;
	}
	*out = py;
	return 0;
cleanup:
	python__free(py);
	return err;
}

void python__free(struct python *py)
{
	if (!py)
		return;
	pytasks__free(py->tasks);
	pysym__free(py->sym);
	pyproc__free(py->proc);
	free(py);
}

const struct py_offsets *python__offsets(const struct python *py)
{
	return pyproc__offsets(py->proc);
}

void python__describe(const struct python *py, char *buf, size_t len)
{
	pyproc__describe(py->proc, buf, len);
}

/* Keep the end of a long name: it is the part that says which file or function. */
static void copy_tail(char *dst, size_t size, const char *src)
{
	size_t n = strlen(src);

	if (n < size) {
		memcpy(dst, src, n + 1);
		return;
	}
	memcpy(dst, "...", 3);
	memcpy(dst + 3, src + n - (size - 4), size - 3);
}

void python__stack(struct python *py, const struct ls_stack *raw, struct stack_text *out)
{
	struct py_frame pf;
	__u32 i, nr = raw->nr < LS_MAX_FRAMES ? raw->nr : LS_MAX_FRAMES;

	memset(out, 0, sizeof(*out));
	out->depth = nr;
	out->partial = raw->flags & (PY_WALK_FAULT | PY_WALK_TRUNCATED);
	for (i = 0; i < nr && out->n < VIEW_FRAMES; i++) {
		struct frame_text *ft = &out->f[out->n];

		if (pysym__resolve(py->sym, &raw->frames[i], &pf)) {
			/* freed before it could be named: say so rather than guess */
			snprintf(ft->func, sizeof(ft->func), "?");
			snprintf(ft->file, sizeof(ft->file), "<code object freed>");
			ft->line = 0;
			ft->library = true;
			out->partial = true;
			out->n++;
			continue;
		}
		copy_tail(ft->func, sizeof(ft->func), pf.func);
		copy_tail(ft->file, sizeof(ft->file), pf.file);
		ft->line = pf.line;
		ft->library = where__is_library(pf.file);
		out->n++;
	}
}

int python__prepare_tasks(struct python *py)
{
	int total, err;

	if (py->tasks)
		return 0;
	err = pytasks__new(py->proc, &py->tasks);
	if (err)
		return err;
	return pytasks__list(py->tasks, NULL, 0, &total) < 0 ? -EAGAIN : 0;
}

/* A blocked task is its loop's current task: look there when the registries miss it. */
static int current_task(struct python *py, __u64 want, char *name, size_t nlen, char *coro,
			size_t clen)
{
	struct py_loop_stats loops[16];
	int i, n;

	n = pytasks__loops(py->tasks, loops, 16);
	for (i = 0; i < n; i++)
		if (loops[i].running_task &&
		    !pytasks__name(py->tasks, loops[i].running_task, want, name, nlen, coro, clen))
			return 0;
	return -ENOENT;
}

int python__task(struct python *py, const struct ls_stack *raw, char *name, size_t nlen,
		 char *coro, size_t clen)
{
	int err;

	if (!raw->task && !raw->coro)
		return -ENOENT;
	if (!py->tasks && pytasks__new(py->proc, &py->tasks))
		return -ENOENT;	/* _asyncio not loaded (yet), or unreadable */
	err = pytasks__name(py->tasks, raw->task, raw->coro, name, nlen, coro, clen);
	if (err == -ENOENT && raw->coro)
		err = current_task(py, raw->coro, name, nlen, coro, clen);
	return err;
}

void python__warm(struct python *py, const struct ls_stack *raw)
{
	struct py_frame pf;
	__u32 i;

	for (i = 0; i < raw->nr && i < LS_MAX_FRAMES; i++)
		pysym__resolve(py->sym, &raw->frames[i], &pf);
}

int python__tasks(struct python *py, struct py_task *out, int max, int *total, bool *partial)
{
	int n, err = python__prepare_tasks(py);

	if (err)
		return err;
	n = pytasks__list(py->tasks, out, max, total);
	*partial = pytasks__list_flags(py->tasks) != 0;
	return n;
}

int python__loops(struct python *py, struct py_loop_stats *out, int max)
{
	int err = python__prepare_tasks(py);

	return err ? err : pytasks__loops(py->tasks, out, max);
}

void python__frame(struct python *py, const struct py_raw_frame *rf, struct frame_text *out)
{
	struct ls_stack one = { .nr = 1 };
	struct stack_text st;

	one.frames[0] = *rf;
	python__stack(py, &one, &st);
	*out = st.f[0];
}

int python__walk(struct python *py, pid_t tid, struct ls_stack *out)
{
	struct py_walk_info info = {};
	__u64 tstate;
	int ns_tid, n, err;

	memset(out, 0, sizeof(*out));
	err = pyproc__ns_tid(py->proc, tid, &ns_tid);
	if (!err)
		err = pyproc__thread_state(py->proc, ns_tid, &tstate);
	if (err)
		return err;
	n = pyproc__walk(py->proc, tstate, out->frames, LS_MAX_FRAMES, &info);
	if (n < 0)
		return n;
	out->nr = n;
	out->flags = info.flags;
	out->coro = info.coro;
	return 0;
}

int python__probes(struct python *py, struct tracer_probes *tp)
{
	int err = pyprobes__find(py->proc, &py->probes);

	if (err)
		return err;
	tp->binary = py->probes.binary;
	tp->usdt_gc = py->probes.usdt_gc;
	tp->usdt_import = py->probes.usdt_import;
	tp->usdt_audit = py->probes.usdt_audit;
	tp->gc_symbol = py->probes.gc_symbol;
	tp->gc_gen_arg = py->probes.gc_gen_arg;
	return 0;
}

__u64 python__read_failures(const struct python *py)
{
	struct pyproc_stats st;

	pyproc__stats(py->proc, &st);
	return st.read_failures;
}
