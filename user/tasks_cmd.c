// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A one-shot dump of the tasks of every loop, read with process_vm_readv: no BPF, no
 * Python of the target's version, the target never stopped. The tree has the shape of
 * CPython 3.14's `python -m asyncio pstree`: a task, its await chain, and under the
 * innermost frame the tasks it awaits.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "json.h"
#include "py/pytasks.h"
#include "python.h"
#include "tasks_cmd.h"
#include "target.h"

#define MAX_TASKS 100000
#define OPEN_TRIES 20		/* an interpreter still starting: wait up to 2 s */

struct dump {
	struct python *py;
	struct py_task *t;
	int n;
	bool *shown;		/* printed already: a task awaited twice (gather) prints once */
};

static bool awaits(const struct py_task *child, __u64 parent)
{
	int i;

	for (i = 0; i < child->nawaited_by && i < PY_TASK_MAX_AWAITED_BY; i++)
		if (child->awaited_by[i] == parent)
			return true;
	return false;
}

static void print_task(struct dump *d, int idx, const char *indent, bool last)
{
	const struct py_task *t = &d->t[idx];
	char pad[512];
	int i, j, depth = 0, next;

	d->shown[idx] = true;
	printf("%s%s (T) %s\n", indent, last ? "\u2514\u2500\u2500" : "\u251c\u2500\u2500", t->name);
	snprintf(pad, sizeof(pad), "%s%s", indent, last ? "    " : "\u2502   ");
	for (i = 0; i < t->nframes && i < PY_TASK_MAX_FRAMES; i++, depth++) {
		struct frame_text f;

		python__frame(d->py, &t->frames[i], &f);
		printf("%s\u2514\u2500\u2500  %s %s:%u\n", pad, f.func, f.file, f.line);
		if (strlen(pad) + 4 < sizeof(pad))
			strcat(pad, "    ");
	}
	if (!t->nframes && t->waiter_desc[0])
		printf("%s(awaiting %s)\n", pad, t->waiter_desc);
	/* the tasks it awaits, under its innermost frame */
	for (j = 0; j < d->n; j = next) {
		if (d->shown[j] || d->t[j].state != PY_TASK_PENDING || !awaits(&d->t[j], t->addr)) {
			next = j + 1;
			continue;
		}
		for (next = j + 1; next < d->n; next++)
			if (!d->shown[next] && d->t[next].state == PY_TASK_PENDING &&
			    awaits(&d->t[next], t->addr))
				break;
		print_task(d, j, pad, next >= d->n);
	}
}

static void print_json(struct dump *d, const struct py_loop_stats *loops, int nloops)
{
	struct json j;
	int i, k, l;

	for (l = 0; l < nloops; l++) {
		json__begin(&j, stdout);
		json__str(&j, "type", "loop");
		json__str(&j, "class", loops[l].type);
		json__int(&j, "tid", loops[l].thread_ns_tid);
		if (loops[l].ready_known)
			json__int(&j, "ready", loops[l].ready);
		if (loops[l].scheduled_known)
			json__int(&j, "scheduled", loops[l].scheduled);
		json__end(&j);
	}
	for (i = 0; i < d->n; i++) {
		const struct py_task *t = &d->t[i];

		json__begin(&j, stdout);
		json__str(&j, "type", "task");
		json__str(&j, "name", t->name);
		json__uint(&j, "addr", t->addr);
		json__str(&j, "state", t->state == PY_TASK_PENDING ? "pending" :
				      t->state == 1 ? "cancelled" : "finished");
		json__str(&j, "coro", t->coro_qualname);
		json__str(&j, "awaiting", t->waiter_desc);
		json__str(&j, "waiter_type", t->waiter_type);
		json__bool(&j, "exception_unretrieved", t->done_exc_unretrieved);
		json__arr_open(&j, "awaited_by");
		for (k = 0; k < d->n; k++)
			if (awaits(t, d->t[k].addr))
				json__str(&j, NULL, d->t[k].name);
		json__arr_close(&j);
		json__arr_open(&j, "chain");
		for (k = 0; k < t->nframes && k < PY_TASK_MAX_FRAMES; k++) {
			struct frame_text f;

			python__frame(d->py, &t->frames[k], &f);
			json__obj_open(&j, NULL);
			json__str(&j, "func", f.func);
			json__str(&j, "file", f.file);
			json__uint(&j, "line", f.line);
			json__obj_close(&j);
		}
		json__arr_close(&j);
		json__bool(&j, "partial", t->flags != 0);
		json__end(&j);
	}
}

int tasks__run(const struct env *env)
{
	struct py_loop_stats loops[16];
	struct dump d = {};
	struct target tgt;
	char err[512] = "", msg[256] = "";
	int ret = 1, total = 0, nloops, i, tries;
	bool partial = false;

	if (target__attach(&tgt, env->pid, err, sizeof(err))) {
		fprintf(stderr, "loopscope: %s\n", err);
		return 1;
	}
	for (tries = 0; tries < OPEN_TRIES; tries++) {
		ret = python__open(env->pid, &d.py, msg, sizeof(msg));
		if (ret != -EAGAIN)
			break;
		usleep(100000);
	}
	if (ret) {
		fprintf(stderr, "loopscope: pid %d: cannot read its interpreter: %s%s\n", env->pid,
			msg, ret == -EPERM || ret == -EACCES ? " (needs root or CAP_SYS_PTRACE)" : "");
		ret = 1;
		goto cleanup;
	}
	d.t = calloc(MAX_TASKS, sizeof(*d.t));
	if (!d.t) {
		ret = 1;
		goto cleanup;
	}
	d.n = python__tasks(d.py, d.t, MAX_TASKS, &total, &partial);
	if (d.n < 0) {
		fprintf(stderr, "loopscope: pid %d: cannot read its asyncio tasks: %s\n", env->pid,
			d.n == -EAGAIN ? "asyncio is not imported" : strerror(-d.n));
		ret = 1;
		goto cleanup;
	}
	d.shown = calloc(d.n ?: 1, sizeof(*d.shown));
	nloops = python__loops(d.py, loops, 16);
	if (nloops < 0)
		nloops = 0;
	if (env->json) {
		print_json(&d, loops, nloops);
	} else {
		printf("pid %d: %d pending task%s on %d running loop%s%s\n", env->pid, total,
		       total == 1 ? "" : "s", nloops, nloops == 1 ? "" : "s",
		       partial ? " (partial: a registry changed while read)" : "");
		for (i = 0; i < nloops; i++)
			printf("loop %s in thread %d: %s%ld ready, %s%ld timers\n", loops[i].type,
			       loops[i].thread_ns_tid, loops[i].ready_known ? "" : "? (in C) ",
			       loops[i].ready_known ? loops[i].ready : 0,
			       loops[i].scheduled_known ? "" : "? (in C) ",
			       loops[i].scheduled_known ? loops[i].scheduled : 0);
		for (i = 0; i < d.n; i++)
			if (d.t[i].state == PY_TASK_PENDING && !d.t[i].nawaited_by && !d.shown[i])
				print_task(&d, i, "", true);
		for (i = 0; i < d.n; i++)	/* cycles: tasks awaiting each other */
			if (d.t[i].state == PY_TASK_PENDING && !d.shown[i])
				print_task(&d, i, "", true);
		for (i = 0; i < d.n; i++)
			if (d.t[i].done_exc_unretrieved)
				printf("finished with an exception nobody retrieved: %s (%s)\n",
				       d.t[i].name, d.t[i].coro_qualname);
	}
	ret = 0;
cleanup:
	free(d.shown);
	free(d.t);
	python__free(d.py);
	target__close(&tgt);
	return ret;
}
