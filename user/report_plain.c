// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Human output: one line per loop per interval, a block per stall, a summary at the end. */
#include <stdio.h>
#include <string.h>
#include "report.h"
#include "syscalls.h"

static void plain_attached(pid_t pid, const char *comm, bool spawned, double threshold_ms)
{
	fprintf(stderr, "loopscope: %s pid %d (%s); stalls over %.0f ms are reported; "
			"Ctrl-C to stop\n",
		spawned ? "started" : "attached to", pid, comm, threshold_ms);
}

static void plain_waiting(pid_t pid, double secs)
{
	fprintf(stderr, "loopscope: pid %d has no event loop yet (no thread has waited in "
			"epoll_wait); waiting (%.0f s so far)\n",
		pid, secs);
}

static void plain_python(pid_t pid, bool ok, const char *what)
{
	if (ok)
		fprintf(stderr, "loopscope: pid %d: %s\n", pid, what);
	else
		fprintf(stderr, "loopscope: pid %d: no Python stacks (%s); stalls are still "
				"reported, without them\n", pid, what);
}

static void plain_sources(pid_t pid, const struct probe_status *st)
{
	fprintf(stderr, "loopscope: pid %d: GC timing: %s; imports: %s; audit events: %s\n", pid,
		st->gc == SRC_USDT ? "USDT probes" : st->gc == SRC_UPROBE ? "uprobes (no USDT)"
		: "unavailable for this interpreter",
		st->imports == SRC_USDT ? "USDT probes" : "unavailable (no USDT)",
		st->audit == SRC_OFF ? "off (--audit)" : st->audit == SRC_USDT ? "USDT probes"
		: "unavailable (no USDT)");
}

static void plain_interval(double wall, const struct loop_interval *iv, int n)
{
	char clock[32];
	int i;

	fmt_clock(wall, clock, sizeof(clock), false);
	for (i = 0; i < n; i++, iv++) {
		printf("%s loop %-7u %-15s %7.0f it/s  busy %5.1f%%  p50 %7.2f ms  p99 %8.2f ms"
		       "  max %8.2f ms  stalls %llu",
		       clock, iv->tid, iv->comm, iv->secs > 0 ? iv->iterations / iv->secs : 0,
		       iv->busy_pct, iv->p50_ms, iv->p99_ms, iv->max_ms,
		       (unsigned long long)iv->stalls);
		if (iv->blocked_ms > 0)
			printf("  BLOCKED for %.0f ms", iv->blocked_ms);
		putchar('\n');
	}
	fflush(stdout);
}

static void print_reasons(const struct stall_view *v, const char *indent)
{
	char detail[256];
	int i;

	printf("%s%-16s %9.1f ms\n", indent, cause__label(CAUSE_CPU), v->oncpu_ms);
	for (i = 0; i < LS_NR_REASONS; i++) {
		const struct ls_reason_acc *r = &v->busy.r[i];

		if (r->ns < 50000)
			continue;	/* under 0.05 ms: noise in a human report */
		block__describe(&r->top, i, detail, sizeof(detail));
		printf("%s%-16s %9.1f ms  x%-3u %s\n", indent, cause__label(i), r->ns / 1e6,
		       r->count, detail);
	}
}

static void print_py_events(const struct stall_view *v)
{
	const struct ls_py_events *ev = &v->ev;
	__u32 i, g;

	if (ev->gc_count) {
		printf("    %-16s %9.1f ms  x%-3u", "of which GC", ev->gc_ns / 1e6, ev->gc_count);
		for (g = 0; g < LS_GC_GENS; g++)
			if (ev->gc_gen_count[g])
				printf(" gen%u: %u in %.1f ms", g, ev->gc_gen_count[g],
				       ev->gc_gen_ns[g] / 1e6);
		putchar('\n');
		if (v->has_gc_where)
			printf("      longest (gen%u, %.1f ms) set off at %s (%s:%u)\n",
			       ev->gc_stack_gen, ev->gc_stack_ns / 1e6, v->gc_where.func,
			       v->gc_where.file, v->gc_where.line);
	}
	if (ev->import_count) {
		printf("    %-16s %9.1f ms  x%-3u", "imports", ev->import_ns / 1e6, ev->import_count);
		for (i = 0; i < ev->nimports && i < LS_MAX_IMPORTS; i++)
			printf(" %.*s (%.1f ms)", LS_MODNAME_LEN, ev->imports[i].name,
			       ev->imports[i].ns / 1e6);
		putchar('\n');
	}
}

static void print_stack(const struct stack_text *st, const char *indent, int max)
{
	int i;

	for (i = 0; i < st->n && i < max; i++) {
		const struct frame_text *f = &st->f[i];

		printf("%s%s%s (%s:%u)\n", indent, f->library ? "  " : "> ", f->func,
		       f->library ? short_path(f->file) : f->file, f->line);
	}
	if (st->depth > i || st->partial)
		printf("%s  ... %d more%s\n", indent, st->depth - i,
		       st->partial ? " (stack partly unreadable)" : "");
}

static void plain_stall(const struct stall_view *v)
{
	const char *sc;
	char clock[32];
	int i;

	fmt_clock(v->start_wall, clock, sizeof(clock), true);
	printf("STALL %s  %.1f ms%s  loop %u (%s)  cause: %s\n", clock, v->dur_ms,
	       v->ongoing ? " and counting" : "", v->tid, v->comm, cause__label(v->cause));
	if (v->has_where)
		printf("    where: %s (%s:%u)\n", v->where.func, v->where.file, v->where.line);
	if (v->task[0])
		printf("    task: %s (%s)\n", v->task, v->task_coro);
	print_reasons(v, "    ");
	print_py_events(v);
	if (v->blocked.n) {
		sc = v->blocked_syscall >= 0 ? syscall__name(v->blocked_syscall) : NULL;
		printf("    blocked %.1f ms in %s (%s), Python stack:\n", v->blocked_ms,
		       sc ?: "?", cause__label(v->blocked_reason));
		print_stack(&v->blocked, "      ", 12);
	}
	if (v->nstacks) {
		printf("    on-CPU samples: %d\n", v->nsamples);
		for (i = 0; i < v->nstacks; i++) {
			printf("      %d x\n", v->oncpu[i].count);
			print_stack(&v->oncpu[i], "        ", 6);
		}
	}
	fflush(stdout);
}

static void plain_summary(const struct summary *s)
{
	double wall_ms = s->secs * 1e3 * (s->loops ?: 1);
	char clock[32], detail[256];
	int i;

	printf("\n== loopscope summary: pid %d, %.1f s, %s ==\n", s->pid, s->secs, s->end);
	printf("loops: %d  iterations: %llu  busy: %.1f%%\n", s->loops,
	       (unsigned long long)s->iterations, s->busy_pct);
	printf("stalls: %llu, loop unavailable %.1f ms (%.1f%% of loop time)\n",
	       (unsigned long long)s->stalls, s->stall_ms, 100.0 * s->stall_ms / wall_ms);
	if (s->stalls) {
		printf("by cause:                stalls   stall time\n");
		for (i = 0; i < NR_CAUSES; i++) {
			if (!s->cause_stalls[i] && s->cause_ms[i] < 0.05)
				continue;
			printf("  %-20s %9llu %10.1f ms\n", cause__label(i),
			       (unsigned long long)s->cause_stalls[i], s->cause_ms[i]);
		}
		printf("longest stalls:\n");
	}
	for (i = 0; i < s->ntop; i++) {
		const struct stall_view *v = &s->top[i];

		detail[0] = '\0';
		if (v->cause < LS_NR_REASONS)
			block__describe(&v->busy.r[v->cause].top, v->cause, detail,
					sizeof(detail));
		fmt_clock(v->start_wall, clock, sizeof(clock), true);
		printf("  %9.1f ms  %s  loop %u  %s%s%s%s\n", v->dur_ms, clock, v->tid,
		       cause__label(v->cause), detail[0] ? " (" : "", detail, detail[0] ? ")" : "");
		if (v->has_where)
			printf("               at %s (%s:%u)\n", v->where.func, v->where.file,
			       v->where.line);
	}
	if (s->python) {
		double gc = s->gc_gen_ms[0] + s->gc_gen_ms[1] + s->gc_gen_ms[2];

		printf("sources: GC %s, imports %s, audit %s\n", s->sources.gc, s->sources.imports,
		       s->sources.audit);
		if (!strcmp(s->sources.gc, "none"))
			printf("GC timing unavailable for this interpreter\n");
		else
			printf("GC on loop threads: %.1f ms (gen0 %llu in %.1f ms, gen1 %llu in %.1f ms, "
			       "gen2 %llu in %.1f ms); %.1f ms inside stalls (%.1f%% of stall time)\n",
			       gc, (unsigned long long)s->gc_gen_count[0], s->gc_gen_ms[0],
			       (unsigned long long)s->gc_gen_count[1], s->gc_gen_ms[1],
			       (unsigned long long)s->gc_gen_count[2], s->gc_gen_ms[2],
			       s->gc_stall_ms, s->stall_ms ? 100 * s->gc_stall_ms / s->stall_ms : 0);
	}
	printf("dropped: %llu stall records (ring buffer full), %llu loop threads (table full), "
	       "%llu failed fd reads\n",
	       (unsigned long long)s->counters.ringbuf_drops,
	       (unsigned long long)s->counters.thread_map_full,
	       (unsigned long long)s->counters.fd_read_errors);
	fflush(stdout);
}

static void plain_tasks(pid_t pid, const struct task_reading *r)
{
	char clock[32];
	int i;

	fmt_clock(mono_to_wall(r->when), clock, sizeof(clock), false);
	printf("%s tasks %d (%+.0f/s)%s", clock, r->live, r->trend_per_s,
	       r->partial ? " (partial)" : "");
	if (r->ready_known)
		printf("  ready %ld", r->ready);
	else if (r->loop_type[0])
		printf("  ready ? (kept in C by %s)", r->loop_type);
	if (r->scheduled_known)
		printf("  timers %ld", r->scheduled);
	if (r->ncoro) {
		printf("  | by coroutine:");
		for (i = 0; i < r->ncoro && i < 3; i++)
			printf(" %s x%d", r->by_coro[i].what, r->by_coro[i].n);
	}
	if (r->nawait) {
		printf("  | awaiting:");
		for (i = 0; i < r->nawait && i < 3; i++)
			printf(" %s x%d", r->by_await[i].what, r->by_await[i].n);
	}
	if (r->unretrieved)
		printf("  | %d finished with an exception nobody retrieved (%s...)", r->unretrieved,
		       r->unretrieved_names[0]);
	putchar('\n');
	fflush(stdout);
}

static void plain_finding(pid_t pid, const struct finding *f)
{
	int i, k;

	if (f->kind == FIND_BUILDUP)
		printf("FINDING buildup: live tasks growing %+.0f/s (%d now), mostly %s(), "
		       "awaiting %s\n", f->rate_per_s, f->live, f->top_coro, f->awaiting);
	else
		printf("FINDING hang: %s\n", f->why);
	for (i = 0; i < f->nchains; i++) {
		const struct task_chain *c = &f->chains[i];

		printf("    task %s (%s) awaiting %s\n", c->task, c->coro, c->waiting);
		for (k = 0; k < c->nframes; k++)
			printf("      %s (%s:%u)\n", c->frames[k].func,
			       c->frames[k].library ? short_path(c->frames[k].file) :
			       c->frames[k].file, c->frames[k].line);
	}
	fflush(stdout);
}

const struct reporter report_plain = {
	.attached = plain_attached,
	.waiting = plain_waiting,
	.python = plain_python,
	.sources = plain_sources,
	.tasks = plain_tasks,
	.finding = plain_finding,
	.interval = plain_interval,
	.stall = plain_stall,
	.summary = plain_summary,
};
