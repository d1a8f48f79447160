// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "enrich.h"
#include "python.h"
#include "samples.h"
#include "target.h"
#include "watched.h"

#define PY_RETRY_S 10	/* a process just started may not have its interpreter up yet */
#define EXEC_GRACE_S 3	/* a process this young may still exec into Python */
#define RETRY_EVERY_S 0.25

/* Seconds since the process started, from its start time in clock ticks. */
static double process_age(unsigned long long start)
{
	double up = 0;
	FILE *f = fopen("/proc/uptime", "re");

	if (f && fscanf(f, "%lf", &up) != 1)
		up = 0;
	if (f)
		fclose(f);
	return up - (double)start / sysconf(_SC_CLK_TCK);
}

struct watched *watched__new(pid_t pid, unsigned long long start, const struct watch_opts *o)
{
	struct watched *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	w->pid = pid;
	w->start = start;
	w->since = now_mono();
	w->py_deadline = w->since + PY_RETRY_S;
	w->exec_deadline = w->since + EXEC_GRACE_S - process_age(start);
	target__thread_name(pid, pid, w->comm, sizeof(w->comm));
	w->st = stats__new(pid, (__u64)(o->threshold_ms * 1e6), 1);
	w->samples = samples__new();
	w->en = enricher__new();
	w->tw = o->tasks ? taskwatch__new(o->hang_s, o->interval_s) : NULL;
	if (!w->st || !w->samples || !w->en || (o->tasks && !w->tw)) {
		watched__free(w);
		return NULL;
	}
	return w;
}

void watched__free(struct watched *w)
{
	if (!w)
		return;
	python__free(w->py);
	stats__free(w->st);
	samples__free(w->samples);
	enricher__free(w->en);
	taskwatch__free(w->tw);
	free(w);
}

int watched__find_python(struct watched *w, struct tracer *tr, const struct watch_opts *o)
{
	struct tracer_probes tp = {};
	int err;

	double now = now_mono();

	if (w->py_done)
		return 0;
	if (now < w->next_try)
		return -EAGAIN;
	w->next_try = now + RETRY_EVERY_S;
	err = python__open(w->pid, &w->py, w->py_what, sizeof(w->py_what));
	/* a fresh fork or exec: mappings and interpreter come later */
	if (err == -EAGAIN && now < w->py_deadline)
		return -EAGAIN;
	if (err && err != -EOPNOTSUPP && now < w->exec_deadline)
		return -EAGAIN;
	if (err == -ENOEXEC || err == -ENOENT || err == -ESRCH)
		return -ENOEXEC;
	w->py_done = true;
	if (!err)
		err = tracer__set_python(tr, w->pid, python__offsets(w->py));
	if (err) {
		python__free(w->py);
		w->py = NULL;
		if (!w->py_what[0])
			snprintf(w->py_what, sizeof(w->py_what), "%s", strerror(-err));
		return 0;
	}
	w->tasks_ready = !python__prepare_tasks(w->py);
	w->probes = (struct probe_status){ SRC_NONE, SRC_NONE, o->audit ? SRC_NONE : SRC_OFF };
	if (!python__probes(w->py, &tp))
		tracer__attach_probes(tr, w->pid, &tp, o->audit, &w->probes);
	python__describe(w->py, w->py_what, sizeof(w->py_what));
	return 0;
}

static struct loop_thread *loop_get(struct watched *w, __u32 tid, bool create)
{
	int i;

	for (i = 0; i < w->nloops; i++)
		if (w->loops[i].tid == tid)
			return &w->loops[i];
	if (!create || w->nloops == (int)(sizeof(w->loops) / sizeof(w->loops[0])))
		return NULL;
	memset(&w->loops[w->nloops], 0, sizeof(w->loops[0]));
	w->loops[w->nloops].tid = tid;
	target__thread_name(w->pid, tid, w->loops[w->nloops].comm, sizeof(w->loops[0].comm));
	return &w->loops[w->nloops++];
}

void watched__stall(struct watched *w, const struct ls_stall *rec, struct stall_view *v)
{
	struct loop_thread *l = loop_get(w, rec->tid, true);

	stats__stall_view(w->st, rec, v);
	enricher__stall(w->en, w->py, w->samples, v);
	stats__count(w->st, v);
	if (l && v->cause >= 0 && v->cause < NR_CAUSES) {
		l->stalls[v->cause]++;
		l->stall_s[v->cause] += v->dur_ms / 1e3;
	}
	if (!w->tasks_ready && w->py)
		w->tasks_ready = !python__prepare_tasks(w->py);
}

void watched__sample(struct watched *w, const struct ls_sample *rec)
{
	if (w->py && samples__add(w->samples, rec))
		enricher__name_task(w->en, w->py, rec->tid, rec->busy_start_ns, &rec->stack);
}

void watched__stack(struct watched *w, const struct ls_sample *rec)
{
	if (!w->py)
		return;
	python__warm(w->py, &rec->stack);
	enricher__name_task(w->en, w->py, rec->tid, rec->busy_start_ns, &rec->stack);
}

static void copy_counters(struct loop_thread *l, const struct ls_thread *t)
{
	l->iterations = t->iterations;
	l->busy_ns = t->busy_ns;
	l->idle_ns = t->idle_ns;
	memcpy(l->hist, t->hist, sizeof(l->hist));
	memcpy(l->gc_ns, t->gc_total_ns, sizeof(l->gc_ns));
	memcpy(l->gc_count, t->gc_total_count, sizeof(l->gc_count));
	l->busy_since = t->started && !t->in_selector ? t->busy.start_ns / 1e9 : 0;
}

void watched__thread(struct watched *w, __u32 tid, const struct ls_thread *t, __u64 epoch)
{
	struct loop_thread *l;

	if (!t->loop_kind)
		return;
	stats__thread(w->st, tid, t, epoch);
	l = loop_get(w, tid, true);
	if (!l)
		return;
	l->seen = true;
	copy_counters(l, t);
}

void watched__refresh(struct watched *w, __u32 tid, const struct ls_thread *t)
{
	struct loop_thread *l = loop_get(w, tid, false);

	if (l)
		copy_counters(l, t);
}

void watched__thread_exit(struct watched *w, __u32 tid, const struct ls_thread *t)
{
	int i;

	stats__thread_exit(w->st, tid, t);
	for (i = 0; i < w->nloops; i++)
		if (w->loops[i].tid == tid)
			w->loops[i] = w->loops[--w->nloops];
}

void watched__end_reading(struct watched *w)
{
	struct loop_interval *iv;
	int i, j, n = stats__intervals(w->st, &iv);

	for (i = 0; i < w->nloops; i++) {
		for (j = 0; j < n; j++)
			if (iv[j].tid == w->loops[i].tid)
				w->loops[i].busy_pct = iv[j].busy_pct;
		/* a thread gone from the map without an exit record: its process went first */
		if (!w->loops[i].seen)
			w->loops[i--] = w->loops[--w->nloops];
		else
			w->loops[i].seen = false;
	}
}

int watched__read_tasks(struct watched *w, struct finding *f)
{
	double busy = 0;
	int i, ret;

	if (!w->py || !w->tw)
		return -ENOENT;
	if (!w->tasks_ready)
		w->tasks_ready = !python__prepare_tasks(w->py);
	for (i = 0; i < w->nloops; i++)
		busy = w->loops[i].busy_pct > busy ? w->loops[i].busy_pct : busy;
	ret = taskwatch__read(w->tw, w->py, busy, &w->reading, f);
	if (ret < 0)
		return ret;
	w->have_reading = true;
	return ret;
}

enum loop_state watched__loop_state(const struct loop_thread *l, double now, double stall_s,
				    double wedged_s, double *age)
{
	*age = l->busy_since > 0 && now > l->busy_since ? now - l->busy_since : 0;
	if (*age >= wedged_s)
		return LOOP_WEDGED;
	if (*age >= stall_s || l->busy_pct >= 90)
		return LOOP_BUSY;
	return LOOP_HEALTHY;
}

const char *loop_state__name(enum loop_state s)
{
	return s == LOOP_WEDGED ? "wedged" : s == LOOP_BUSY ? "busy" : "healthy";
}
