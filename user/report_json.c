// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* JSON lines: one object per event, "type" first, times in ms, wall clock in seconds. */
#include <stdio.h>
#include "json.h"
#include "report.h"
#include "syscalls.h"

static void json_attached(pid_t pid, const char *comm, bool spawned, double threshold_ms)
{
	struct json j;

	json__begin(&j, stdout);
	json__str(&j, "type", "attached");
	json__int(&j, "pid", pid);
	json__str(&j, "comm", comm);
	json__bool(&j, "spawned", spawned);
	json__num(&j, "threshold_ms", threshold_ms);
	json__end(&j);
}

static void json_waiting(pid_t pid, double secs)
{
	struct json j;

	json__begin(&j, stdout);
	json__str(&j, "type", "waiting");
	json__int(&j, "pid", pid);
	json__str(&j, "reason", "no event loop yet");
	json__num(&j, "secs", secs);
	json__end(&j);
}

static void json_python(pid_t pid, bool ok, const char *what)
{
	struct json j;

	json__begin(&j, stdout);
	json__str(&j, "type", "python");
	json__int(&j, "pid", pid);
	json__bool(&j, "stacks", ok);
	json__str(&j, ok ? "interpreter" : "reason", what);
	json__end(&j);
}

static void json_sources(pid_t pid, const struct probe_status *st)
{
	struct json j;

	json__begin(&j, stdout);
	json__str(&j, "type", "sources");
	json__int(&j, "pid", pid);
	json__str(&j, "gc", source__name(st->gc));
	json__str(&j, "imports", source__name(st->imports));
	json__str(&j, "audit", source__name(st->audit));
	json__end(&j);
}

static void frame_json(struct json *j, const struct frame_text *f)
{
	json__obj_open(j, NULL);
	json__str(j, "func", f->func);
	json__str(j, "file", f->file);
	json__uint(j, "line", f->line);
	json__bool(j, "library", f->library);
	json__obj_close(j);
}

static void stack_json(struct json *j, const char *key, const struct stack_text *st)
{
	int i;

	json__arr_open(j, key);
	for (i = 0; i < st->n; i++)
		frame_json(j, &st->f[i]);
	json__arr_close(j);
}

static void frame_obj(struct json *j, const char *key, const struct frame_text *f)
{
	json__obj_open(j, key);
	json__str(j, "func", f->func);
	json__str(j, "file", f->file);
	json__uint(j, "line", f->line);
	json__obj_close(j);
}

static void events_json(struct json *j, const struct stall_view *v)
{
	const struct ls_py_events *ev = &v->ev;
	char gen[8];
	__u32 i, g;

	json__obj_open(j, "gc");
	json__num(j, "ms", ev->gc_ns / 1e6);
	json__uint(j, "count", ev->gc_count);
	json__obj_open(j, "gens");
	for (g = 0; g < LS_GC_GENS; g++) {
		if (!ev->gc_gen_count[g])
			continue;
		snprintf(gen, sizeof(gen), "%u", g);
		json__obj_open(j, gen);
		json__uint(j, "count", ev->gc_gen_count[g]);
		json__num(j, "ms", ev->gc_gen_ns[g] / 1e6);
		json__obj_close(j);
	}
	json__obj_close(j);
	json__arr_open(j, "runs");
	for (i = 0; i < ev->nruns && i < LS_MAX_GC_RUNS; i++) {
		json__obj_open(j, NULL);
		json__uint(j, "gen", ev->runs[i].gen);
		json__num(j, "ms", ev->runs[i].ns / 1e6);
		json__obj_close(j);
	}
	json__arr_close(j);
	if (v->has_gc_where)
		frame_obj(j, "trigger", &v->gc_where);
	json__obj_close(j);
	json__obj_open(j, "imports");
	json__num(j, "ms", ev->import_ns / 1e6);
	json__uint(j, "count", ev->import_count);
	json__arr_open(j, "modules");
	for (i = 0; i < ev->nimports && i < LS_MAX_IMPORTS; i++) {
		char name[LS_MODNAME_LEN + 1];

		snprintf(name, sizeof(name), "%.*s", LS_MODNAME_LEN, ev->imports[i].name);
		json__obj_open(j, NULL);
		json__str(j, "module", name);
		json__num(j, "ms", ev->imports[i].ns / 1e6);
		json__obj_close(j);
	}
	json__arr_close(j);
	json__obj_close(j);
}

static void python_json(struct json *j, const struct stall_view *v)
{
	const char *sc = v->blocked_syscall >= 0 ? syscall__name(v->blocked_syscall) : NULL;
	int i;

	if (!v->python)
		return;
	if (v->task[0]) {
		json__obj_open(j, "task");
		json__str(j, "name", v->task);
		json__str(j, "coro", v->task_coro);
		json__obj_close(j);
	}
	if (v->has_where) {
		json__obj_open(j, "where");
		json__str(j, "func", v->where.func);
		json__str(j, "file", v->where.file);
		json__uint(j, "line", v->where.line);
		json__str(j, "from", v->where_from);
		json__obj_close(j);
	}
	if (v->blocked.n) {
		json__obj_open(j, "blocked");
		json__num(j, "ms", v->blocked_ms);
		json__str(j, "syscall", sc ?: "?");
		json__str(j, "reason", cause__name(v->blocked_reason));
		json__bool(j, "partial", v->blocked.partial);
		json__int(j, "depth", v->blocked.depth);
		stack_json(j, "stack", &v->blocked);
		json__obj_close(j);
	}
	json__int(j, "samples", v->nsamples);
	json__arr_open(j, "oncpu_stacks");
	for (i = 0; i < v->nstacks; i++) {
		json__obj_open(j, NULL);
		json__int(j, "count", v->oncpu[i].count);
		json__bool(j, "partial", v->oncpu[i].partial);
		stack_json(j, "stack", &v->oncpu[i]);
		json__obj_close(j);
	}
	json__arr_close(j);
}

static void json_interval(double wall, const struct loop_interval *iv, int n)
{
	struct json j;
	int i;

	for (i = 0; i < n; i++, iv++) {
		json__begin(&j, stdout);
		json__str(&j, "type", "interval");
		json__num(&j, "time", wall);
		json__uint(&j, "tid", iv->tid);
		json__str(&j, "comm", iv->comm);
		json__num(&j, "secs", iv->secs);
		json__uint(&j, "iterations", iv->iterations);
		json__num(&j, "iter_per_s", iv->secs > 0 ? iv->iterations / iv->secs : 0);
		json__num(&j, "busy_pct", iv->busy_pct);
		json__num(&j, "p50_ms", iv->p50_ms);
		json__num(&j, "p99_ms", iv->p99_ms);
		json__num(&j, "max_ms", iv->max_ms);
		json__uint(&j, "stalls", iv->stalls);
		json__num(&j, "blocked_ms", iv->blocked_ms);
		json__end(&j);
	}
}

static void block_json(struct json *j, const struct ls_block *b, int reason)
{
	const char *sc = b->syscall >= 0 ? syscall__name(b->syscall) : NULL;
	char buf[256];

	if (b->syscall >= 0) {
		json__str(j, "syscall", sc ?: "?");
		json__int(j, "syscall_nr", b->syscall);
	}
	if (b->fd >= 0 && b->syscall >= 0) {
		json__int(j, "fd", b->fd);
		json__str(j, "fd_kind", fdkind__name(b->fd_kind));
		block__peer(b, buf, sizeof(buf));
		if (buf[0])
			json__str(j, "peer", buf);
	}
	if (b->addr)
		json__uint(j, "futex", b->addr);
	if (b->audit[0]) {
		char audit[LS_AUDIT_LEN + 1];

		snprintf(audit, sizeof(audit), "%.*s", LS_AUDIT_LEN, b->audit);
		json__str(j, "audit", audit);
	}
	if (b->waker_tid) {
		json__uint(j, "waker_tid", b->waker_tid);
		json__str(j, "waker_comm", b->waker_comm);
	}
	block__describe(b, reason, buf, sizeof(buf));
	json__str(j, "detail", buf);
}

static void stall_body(struct json *j, const struct stall_view *v)
{
	int i;

	json__uint(j, "pid", v->pid);
	json__uint(j, "tid", v->tid);
	json__str(j, "comm", v->comm);
	json__num(j, "start", v->start_wall);
	json__num(j, "duration_ms", v->dur_ms);
	json__num(j, "oncpu_ms", v->oncpu_ms);
	json__num(j, "offcpu_ms", v->offcpu_ms);
	json__str(j, "cause", cause__name(v->cause));
	json__bool(j, "ongoing", v->ongoing);
	json__uint(j, "switches", v->busy.switches);
	json__obj_open(j, "offcpu");
	for (i = 0; i < LS_NR_REASONS; i++) {
		const struct ls_reason_acc *r = &v->busy.r[i];

		if (!r->ns)
			continue;
		json__obj_open(j, cause__name(i));
		json__num(j, "ms", r->ns / 1e6);
		json__uint(j, "count", r->count);
		json__num(j, "longest_ms", r->top.ns / 1e6);
		block_json(j, &r->top, i);
		json__obj_close(j);
	}
	json__obj_close(j);
	events_json(j, v);
	python_json(j, v);
}

static void json_stall(const struct stall_view *v)
{
	struct json j;

	json__begin(&j, stdout);
	json__str(&j, "type", "stall");
	stall_body(&j, v);
	json__end(&j);
}

static void json_summary(const struct summary *s)
{
	struct json j;
	int i;

	json__begin(&j, stdout);
	json__str(&j, "type", "summary");
	json__int(&j, "pid", s->pid);
	json__num(&j, "secs", s->secs);
	json__str(&j, "end", s->end);
	json__int(&j, "loops", s->loops);
	json__uint(&j, "iterations", s->iterations);
	json__num(&j, "busy_pct", s->busy_pct);
	json__uint(&j, "stalls", s->stalls);
	json__num(&j, "stall_ms", s->stall_ms);
	json__obj_open(&j, "by_cause");
	for (i = 0; i < NR_CAUSES; i++) {
		if (!s->cause_stalls[i] && s->cause_ms[i] <= 0)
			continue;
		json__obj_open(&j, cause__name(i));
		json__uint(&j, "stalls", s->cause_stalls[i]);
		json__num(&j, "ms", s->cause_ms[i]);
		json__obj_close(&j);
	}
	json__obj_close(&j);
	json__arr_open(&j, "longest");
	for (i = 0; i < s->ntop; i++) {
		json__obj_open(&j, NULL);
		stall_body(&j, &s->top[i]);
		json__obj_close(&j);
	}
	json__arr_close(&j);
	if (s->python) {
		int g;
		char gen[8];

		json__obj_open(&j, "sources");
		json__str(&j, "gc", s->sources.gc);
		json__str(&j, "imports", s->sources.imports);
		json__str(&j, "audit", s->sources.audit);
		json__obj_close(&j);
		json__obj_open(&j, "gc");
		for (g = 0; g < LS_GC_GENS; g++) {
			snprintf(gen, sizeof(gen), "%d", g);
			json__obj_open(&j, gen);
			json__uint(&j, "count", s->gc_gen_count[g]);
			json__num(&j, "ms", s->gc_gen_ms[g]);
			json__obj_close(&j);
		}
		json__num(&j, "in_stalls_ms", s->gc_stall_ms);
		json__num(&j, "stall_share_pct", s->stall_ms ? 100 * s->gc_stall_ms / s->stall_ms : 0);
		json__obj_close(&j);
	}
	json__obj_open(&j, "dropped");
	json__uint(&j, "ringbuf", s->counters.ringbuf_drops);
	json__uint(&j, "threads_table_full", s->counters.thread_map_full);
	json__uint(&j, "fd_reads", s->counters.fd_read_errors);
	json__obj_close(&j);
	json__end(&j);
}

static void counts_json(struct json *j, const char *key, const struct task_count *c, int n)
{
	int i;

	json__arr_open(j, key);
	for (i = 0; i < n; i++) {
		json__obj_open(j, NULL);
		json__str(j, "what", c[i].what);
		json__int(j, "tasks", c[i].n);
		json__obj_close(j);
	}
	json__arr_close(j);
}

static void json_tasks(pid_t pid, const struct task_reading *r)
{
	struct json j;
	int i;

	json__begin(&j, stdout);
	json__str(&j, "type", "tasks");
	json__int(&j, "pid", pid);
	json__num(&j, "time", mono_to_wall(r->when));
	json__int(&j, "live", r->live);
	json__num(&j, "trend_per_s", r->trend_per_s);
	json__bool(&j, "partial", r->partial);
	json__int(&j, "loops", r->loops);
	json__str(&j, "loop_class", r->loop_type);
	if (r->ready_known)
		json__int(&j, "ready", r->ready);
	else
		json__str(&j, "ready", "unknown: kept in C by the loop");
	if (r->scheduled_known)
		json__int(&j, "scheduled", r->scheduled);
	counts_json(&j, "by_coro", r->by_coro, r->ncoro);
	counts_json(&j, "by_await", r->by_await, r->nawait);
	json__int(&j, "exception_unretrieved", r->unretrieved);
	json__arr_open(&j, "unretrieved_names");
	for (i = 0; i < r->unretrieved && i < 3; i++)
		json__str(&j, NULL, r->unretrieved_names[i]);
	json__arr_close(&j);
	json__end(&j);
}

static void json_finding(pid_t pid, const struct finding *f)
{
	struct json j;
	int i, k;

	json__begin(&j, stdout);
	json__str(&j, "type", "finding");
	json__str(&j, "kind", f->kind == FIND_BUILDUP ? "buildup" : "hang");
	json__int(&j, "pid", pid);
	json__int(&j, "live", f->live);
	if (f->kind == FIND_BUILDUP) {
		json__num(&j, "rate_per_s", f->rate_per_s);
		json__str(&j, "top_coro", f->top_coro);
		json__str(&j, "awaiting", f->awaiting);
	} else {
		json__int(&j, "stuck", f->stuck);
		json__num(&j, "stuck_s", f->stuck_s);
		json__str(&j, "why", f->why);
	}
	json__arr_open(&j, "chains");
	for (i = 0; i < f->nchains; i++) {
		const struct task_chain *c = &f->chains[i];

		json__obj_open(&j, NULL);
		json__str(&j, "task", c->task);
		json__str(&j, "coro", c->coro);
		json__str(&j, "awaiting", c->waiting);
		json__arr_open(&j, "frames");
		for (k = 0; k < c->nframes; k++)
			frame_json(&j, &c->frames[k]);
		json__arr_close(&j);
		json__obj_close(&j);
	}
	json__arr_close(&j);
	json__end(&j);
}

const struct reporter report_json = {
	.attached = json_attached,
	.waiting = json_waiting,
	.python = json_python,
	.sources = json_sources,
	.tasks = json_tasks,
	.finding = json_finding,
	.interval = json_interval,
	.stall = json_stall,
	.summary = json_summary,
};
