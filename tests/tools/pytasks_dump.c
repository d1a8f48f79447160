// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * pytasks_dump PID: print the asyncio tasks and running loops of a live CPython process, read
 * from outside with user/py/pytasks.c. Test tool; one JSON object per line.
 *
 * Build (from the repository root):
 *   mkdir -p .output && cc -O2 -g -Wall -Iuser -Ibpf tests/tools/pytasks_dump.c \
 *       user/py/[a-z]*.c -lelf -lz -o .output/pytasks_dump
 *
 * Output:
 *   {"process": PID, "describe": "...", "running_task_offset": N|null}
 *   {"task": "0x...", "name": ..., "coro": "0x...", "coro_qualname": ..., "loop": "0x...",
 *    "state": "pending", "unretrieved": false, "waiter": "0x...", "waiter_type": ...,
 *    "waiter_desc": ..., "awaited_by": [...], "flags": [...],
 *    "name_by_coro": ..., "name_by_task": ...,
 *    "frames": [{"func": ..., "file": ..., "line": N}, ...]}       (outermost first)
 *   {"loop": "0x...", "tid": N, "running_task": "0x...", "type": ..., "ready": N|null,
 *    "scheduled": N|null}
 *   {"total": N, "stored": N, "flags": [...]}
 * Exit status: 0, 1 on error (message on stderr), 2 for an unsupported interpreter, 3 when
 * the process has not imported asyncio.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/types.h>
#include "py/pyproc.h"
#include "py/pysym.h"
#include "py/pytasks.h"

#define MAX_TASKS 4096
#define MAX_LOOPS 64

static const char *const states[] = { "pending", "cancelled", "finished" };

static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static void json_key_str(const char *key, const char *val)
{
	printf(", \"%s\": ", key);
	json_str(val);
}

/* pytasks__name() given only the coroutine, then only the task: null when not found. */
static void print_names(struct pytasks *t, const struct py_task *pt)
{
	char name[64], qn[128];

	printf(", \"name_by_coro\": ");
	if (pytasks__name(t, 0, pt->coro, name, sizeof(name), qn, sizeof(qn)))
		printf("null");
	else
		json_str(name);
	printf(", \"name_by_task\": ");
	if (pytasks__name(t, pt->addr, 0, name, sizeof(name), qn, sizeof(qn)))
		printf("null");
	else
		json_str(name);
}

static void print_task(struct pytasks *t, struct pysym *sym, const struct py_task *pt)
{
	struct py_frame f;
	int i;

	printf("{\"task\": \"0x%llx\"", (unsigned long long)pt->addr);
	json_key_str("name", pt->name);
	printf(", \"coro\": \"0x%llx\"", (unsigned long long)pt->coro);
	json_key_str("coro_qualname", pt->coro_qualname);
	printf(", \"loop\": \"0x%llx\", \"state\": \"%s\", \"unretrieved\": %s",
	       (unsigned long long)pt->loop, states[pt->state],
	       pt->done_exc_unretrieved ? "true" : "false");
	printf(", \"waiter\": \"0x%llx\"", (unsigned long long)pt->waiter);
	json_key_str("waiter_type", pt->waiter_type);
	json_key_str("waiter_desc", pt->waiter_desc);
	printf(", \"awaited_by\": [");
	for (i = 0; i < pt->nawaited_by; i++)
		printf("%s\"0x%llx\"", i ? ", " : "", (unsigned long long)pt->awaited_by[i]);
	printf("], \"flags\": [%s%s]", pt->flags & PY_TASK_PARTIAL ? "\"partial\"" : "",
	       pt->flags & PY_TASK_CHAIN_TRUNCATED ?
	       (pt->flags & PY_TASK_PARTIAL ? ", \"truncated\"" : "\"truncated\"") : "");
	print_names(t, pt);
	printf(", \"frames\": [");
	for (i = 0; i < pt->nframes; i++) {
		printf("%s", i ? ", " : "");
		if (pysym__resolve(sym, &pt->frames[i], &f)) {
			printf("{\"func\": null}");
			continue;
		}
		printf("{\"func\": ");
		json_str(f.func);
		json_key_str("file", f.file);
		printf(", \"line\": %u}", f.line);
	}
	printf("]}\n");
}

static void print_loop(const struct py_loop_stats *s)
{
	printf("{\"loop\": \"0x%llx\", \"tid\": %d, \"running_task\": \"0x%llx\"",
	       (unsigned long long)s->loop, s->thread_ns_tid,
	       (unsigned long long)s->running_task);
	json_key_str("type", s->type);
	if (s->ready_known)
		printf(", \"ready\": %ld", s->ready);
	else
		printf(", \"ready\": null");
	if (s->scheduled_known)
		printf(", \"scheduled\": %ld}\n", s->scheduled);
	else
		printf(", \"scheduled\": null}\n");
}

int main(int argc, char **argv)
{
	struct py_loop_stats loops[MAX_LOOPS];
	struct py_task *tasks = NULL;
	struct pytasks *t = NULL;
	struct pyproc *p = NULL;
	struct pysym *sym = NULL;
	const struct py_offsets *o;
	unsigned int lf;
	char desc[512], *end;
	int i, n, nloops, total, pid, err, ret = 1;

	if (argc != 2) {
		fprintf(stderr, "usage: pytasks_dump PID\n");
		return 1;
	}
	pid = (int)strtol(argv[1], &end, 10);
	if (*end || pid <= 0) {
		fprintf(stderr, "pytasks_dump: bad PID '%s'\n", argv[1]);
		return 1;
	}
	err = pyproc__open(pid, &p);
	if (err) {
		fprintf(stderr, "pytasks_dump: %d: %s\n", pid, pyproc__strerror(err));
		return err == -EOPNOTSUPP ? 2 : 1;
	}
	err = pytasks__new(p, &t);
	if (err) {
		fprintf(stderr, "pytasks_dump: %d: cannot read asyncio state: %s\n", pid,
			err == -EAGAIN ? "asyncio is not imported" : strerror(-err));
		ret = err == -EAGAIN ? 3 : err == -EOPNOTSUPP ? 2 : 1;
		goto cleanup;
	}
	err = pysym__new(p, &sym);
	tasks = calloc(MAX_TASKS, sizeof(*tasks));
	if (err || !tasks) {
		fprintf(stderr, "pytasks_dump: out of memory\n");
		goto cleanup;
	}
	pyproc__describe(p, desc, sizeof(desc));
	o = pyproc__offsets(p);
	printf("{\"process\": %d", pid);
	json_key_str("describe", desc);
	if (o->tstate_running_task == PY_OFF_NONE)
		printf(", \"running_task_offset\": null}\n");
	else
		printf(", \"running_task_offset\": %u}\n", o->tstate_running_task);

	n = pytasks__list(t, tasks, MAX_TASKS, &total);
	if (n < 0) {
		fprintf(stderr, "pytasks_dump: %d: cannot list tasks: %s\n", pid, strerror(-n));
		goto cleanup;
	}
	lf = pytasks__list_flags(t);
	for (i = 0; i < n; i++)
		print_task(t, sym, &tasks[i]);
	nloops = pytasks__loops(t, loops, MAX_LOOPS);
	if (nloops < 0) {
		fprintf(stderr, "pytasks_dump: %d: cannot list loops: %s\n", pid,
			strerror(-nloops));
		goto cleanup;
	}
	for (i = 0; i < nloops; i++)
		print_loop(&loops[i]);
	printf("{\"total\": %d, \"stored\": %d, \"flags\": [%s%s]}\n", total, n,
	       lf & PY_TASKS_PARTIAL ? "\"partial\"" : "",
	       lf & PY_TASKS_CAPPED ? (lf & PY_TASKS_PARTIAL ? ", \"capped\"" : "\"capped\"") :
	       "");
	ret = 0;
cleanup:
	free(tasks);
	pysym__free(sym);
	pytasks__free(t);
	pyproc__free(p);
	return ret;
}
