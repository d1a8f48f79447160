// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * /metrics: Prometheus text format 0.0.4, or OpenMetrics 1.0 when the scraper asks for it
 * (the two differ in counter family names and the closing "# EOF").
 */
#include <stdio.h>
#include <string.h>
#include "daemon.h"
#include "metrics.h"
#include "python.h"
#include "report.h"
#include "stats.h"
#include "tracer.h"
#include "watched.h"

/* Iteration-time buckets: the BPF histogram's own bounds nearest these, so counts are exact. */
static const double want_le_s[] = { 0.0001, 0.0005, 0.001, 0.005, 0.01, 0.025, 0.05,
				    0.1, 0.25, 0.5, 1, 2.5, 5, 10 };
#define NLE (int)(sizeof(want_le_s) / sizeof(want_le_s[0]))

struct out {
	struct http_resp *r;
	bool om;
	const char *service;
};

static void family(struct out *o, const char *name, const char *type, const char *help)
{
	bool counter = !strcmp(type, "counter");

	resp__printf(o->r, "# HELP %s%s %s\n", name, counter && !o->om ? "_total" : "", help);
	resp__printf(o->r, "# TYPE %s%s %s\n", name, counter && !o->om ? "_total" : "", type);
}

static void esc(struct out *o, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			resp__printf(o->r, "\\%c", *s);
		else if (*s == '\n')
			resp__printf(o->r, "\\n");
		else
			resp__printf(o->r, "%c", *s);
	}
}

/* name{service="..",pid="..",thread=".."[,extra="..."]} */
static void sample_start(struct out *o, const char *name, pid_t pid, __u32 tid)
{
	resp__printf(o->r, "%s{service=\"", name);
	esc(o, o->service);
	resp__printf(o->r, "\"");
	if (pid)
		resp__printf(o->r, ",pid=\"%d\"", pid);
	if (tid)
		resp__printf(o->r, ",thread=\"%u\"", tid);
}

static void label(struct out *o, const char *key, const char *v)
{
	resp__printf(o->r, ",%s=\"", key);
	esc(o, v);
	resp__printf(o->r, "\"");
}

static void value(struct out *o, double v)
{
	resp__printf(o->r, "} %.9g\n", v);
}

static void per_loop_hist(struct out *o, const struct watched *w, const struct loop_thread *l)
{
	double upper[LS_HIST_BUCKETS];
	unsigned long long cum = 0;
	int b = 0, i;

	for (i = 0; i < LS_HIST_BUCKETS; i++)
		upper[i] = stats__bucket_upper_us(i) / 1e6;
	for (i = 0; i < NLE; i++) {
		char le[32];

		/* the last BPF bucket whose upper bound is within the wanted one */
		while (b < LS_HIST_BUCKETS && upper[b] <= want_le_s[i] * 1.0000001)
			cum += l->hist[b++];
		snprintf(le, sizeof(le), "%.9g", b ? upper[b - 1] : want_le_s[i]);
		sample_start(o, "loopscope_loop_iteration_seconds_bucket", w->pid, l->tid);
		label(o, "le", le);
		value(o, cum);
	}
	while (b < LS_HIST_BUCKETS)
		cum += l->hist[b++];
	sample_start(o, "loopscope_loop_iteration_seconds_bucket", w->pid, l->tid);
	label(o, "le", "+Inf");
	value(o, cum);
	sample_start(o, "loopscope_loop_iteration_seconds_sum", w->pid, l->tid);
	value(o, l->busy_ns / 1e9);
	sample_start(o, "loopscope_loop_iteration_seconds_count", w->pid, l->tid);
	value(o, cum);
}

typedef double (*loop_value_fn)(const struct loop_thread *l, int i, double now,
				const struct dconf *c);

/* One family over every loop thread; with n > 1 a label (lkey) takes names[i]. */
static void per_loop(struct out *o, const struct daemon *d, const char *name, const char *type,
		     const char *help, const char *lkey, const char *const *names, int n,
		     loop_value_fn fn)
{
	char sname[96];
	double now = now_mono();
	int i, j, k;

	family(o, name, type, help);
	snprintf(sname, sizeof(sname), "%s%s", name, !strcmp(type, "counter") ? "_total" : "");
	for (i = 0; i < d->nw; i++)
		for (j = 0; j < d->w[i]->nloops; j++)
			for (k = 0; k < n; k++) {
				sample_start(o, sname, d->w[i]->pid, d->w[i]->loops[j].tid);
				if (lkey)
					label(o, lkey, names[k]);
				value(o, fn(&d->w[i]->loops[j], k, now, d->conf));
			}
}

static double v_busy_s(const struct loop_thread *l, int i, double now, const struct dconf *c)
{
	return l->busy_ns / 1e9;
}

static double v_idle_s(const struct loop_thread *l, int i, double now, const struct dconf *c)
{
	return l->idle_ns / 1e9;
}

static double v_ratio(const struct loop_thread *l, int i, double now, const struct dconf *c)
{
	return l->busy_pct / 100;
}

static double v_age(const struct loop_thread *l, int i, double now, const struct dconf *c)
{
	double age;

	watched__loop_state(l, now, c->threshold_ms / 1e3, c->wedged_s, &age);
	return age;
}

static double v_state(const struct loop_thread *l, int i, double now, const struct dconf *c)
{
	double age;

	return watched__loop_state(l, now, c->threshold_ms / 1e3, c->wedged_s, &age) ==
	       (enum loop_state)i;
}

static double v_stalls(const struct loop_thread *l, int i, double now, const struct dconf *c)
{
	return l->stalls[i];
}

static double v_stall_s(const struct loop_thread *l, int i, double now, const struct dconf *c)
{
	return l->stall_s[i];
}

static double v_gc_s(const struct loop_thread *l, int i, double now, const struct dconf *c)
{
	return l->gc_ns[i] / 1e9;
}

static double v_gc_n(const struct loop_thread *l, int i, double now, const struct dconf *c)
{
	return l->gc_count[i];
}

static void loops(struct out *o, const struct daemon *d)
{
	static const char *const gens[] = { "0", "1", "2" };
	static const char *const states[] = { "healthy", "busy", "wedged" };
	const char *causes[NR_CAUSES];
	int i, j;

	for (i = 0; i < NR_CAUSES; i++)
		causes[i] = cause__name(i);
	family(o, "loopscope_loop_iteration_seconds", "histogram",
	       "Event-loop iteration time: from the selector's return to its next wait.");
	for (i = 0; i < d->nw; i++)
		for (j = 0; j < d->w[i]->nloops; j++)
			per_loop_hist(o, d->w[i], &d->w[i]->loops[j]);
	per_loop(o, d, "loopscope_loop_busy_seconds", "counter",
		 "Time the loop spent running callbacks.", NULL, NULL, 1, v_busy_s);
	per_loop(o, d, "loopscope_loop_idle_seconds", "counter",
		 "Time the loop spent parked in its selector.", NULL, NULL, 1, v_idle_s);
	per_loop(o, d, "loopscope_loop_busy_ratio", "gauge",
		 "Share of the last interval the loop was busy.", NULL, NULL, 1, v_ratio);
	per_loop(o, d, "loopscope_loop_last_iteration_age_seconds", "gauge",
		 "How long the loop has been inside one iteration (0 while it waits for events).",
		 NULL, NULL, 1, v_age);
	per_loop(o, d, "loopscope_loop_state", "gauge",
		 "1 for the loop's state: healthy, busy (slow but iterating) or wedged.", "state",
		 states, 3, v_state);
	per_loop(o, d, "loopscope_stalls", "counter",
		 "Busy periods over the threshold, by dominant cause.", "cause", causes,
		 NR_CAUSES, v_stalls);
	per_loop(o, d, "loopscope_stall_seconds", "counter",
		 "Time the loop was unavailable in stalls, by dominant cause.", "cause", causes,
		 NR_CAUSES, v_stall_s);
	per_loop(o, d, "loopscope_gc_seconds", "counter",
		 "Time in CPython's garbage collector on the loop thread, by generation.",
		 "generation", gens, LS_GC_GENS, v_gc_s);
	per_loop(o, d, "loopscope_gc_collections", "counter",
		 "CPython garbage collections on the loop thread, by generation.", "generation",
		 gens, LS_GC_GENS, v_gc_n);
}

static void tasks(struct out *o, const struct daemon *d)
{
	static const struct {
		const char *name, *help;
	} fams[] = {
		{ "loopscope_tasks_live", "Pending asyncio tasks (last reading)." },
		{ "loopscope_ready_queue_length", "Callbacks ready to run (stock asyncio loops)." },
		{ "loopscope_timers_scheduled", "Timers scheduled (stock asyncio loops)." },
	};
	int f, i;

	for (f = 0; f < 3; f++) {
		family(o, fams[f].name, "gauge", fams[f].help);
		for (i = 0; i < d->nw; i++) {
			const struct task_reading *r = &d->w[i]->reading;

			if (!d->w[i]->have_reading || (f == 1 && !r->ready_known) ||
			    (f == 2 && !r->scheduled_known))
				continue;
			sample_start(o, fams[f].name, d->w[i]->pid, 0);
			value(o, f == 0 ? r->live : f == 1 ? r->ready : r->scheduled);
		}
	}
}

static void targets(struct out *o, const struct daemon *d)
{
	int i;

	family(o, "loopscope_target", "gauge",
	       "1 per watched process, with its command and interpreter.");
	for (i = 0; i < d->nw; i++) {
		sample_start(o, "loopscope_target", d->w[i]->pid, 0);
		label(o, "comm", d->w[i]->comm);
		label(o, "python", d->w[i]->py ? d->w[i]->py_what : "");
		resp__printf(o->r, ",loops=\"%d\"", d->w[i]->nloops);
		value(o, 1);
	}
	family(o, "loopscope_remote_read_failures", "counter",
	       "Reads of the interpreter's memory that failed (stacks, names, tasks).");
	for (i = 0; i < d->nw; i++) {
		if (!d->w[i]->py)
			continue;
		sample_start(o, "loopscope_remote_read_failures_total", d->w[i]->pid, 0);
		value(o, python__read_failures(d->w[i]->py));
	}
}

static void self(struct out *o, const struct daemon *d)
{
	static const char *const why[] = { "ringbuf", "thread_map_full", "fd_read", "stack_fault" };
	struct ls_counters c;
	__u64 drops[4];
	int i;

	tracer__counters(d->tr, &c);
	drops[0] = c.ringbuf_drops;
	drops[1] = c.thread_map_full;
	drops[2] = c.fd_read_errors;
	drops[3] = c.stack_faults;
	family(o, "loopscope_dropped_events", "counter",
	       "Events lost: ring buffer full, thread table full, unreadable fds, cut stacks.");
	for (i = 0; i < 4; i++) {
		sample_start(o, "loopscope_dropped_events_total", 0, 0);
		label(o, "reason", why[i]);
		value(o, drops[i]);
	}
#define ONE(name, type, help, v)                                                  \
	do {                                                                      \
		family(o, name, type, help);                                       \
		sample_start(o, !strcmp(type, "counter") ? name "_total" : name, 0, 0); \
		value(o, v);                                                       \
	} while (0)
	ONE("loopscope_cpu_seconds", "counter", "loopscope's own CPU time.", d->cpu_s);
	ONE("loopscope_cpu_ratio", "gauge", "loopscope's own CPU over the last interval, of one CPU.",
	    d->cpu_pct / 100);
	ONE("loopscope_cpu_budget_ratio", "gauge", "The CPU budget loopscope keeps to.",
	    d->conf->budget_pct / 100);
	ONE("loopscope_over_budget", "gauge", "1 while sampling is lowered to keep to the budget.",
	    d->over_budget);
	ONE("loopscope_sampling_hz", "gauge", "On-CPU sampling rate now.", d->freq);
	ONE("loopscope_resident_memory_bytes", "gauge", "loopscope's resident memory.",
	    d->rss_bytes);
	ONE("loopscope_targets", "gauge", "Processes watched now.", d->nw);
	ONE("loopscope_target_attaches", "counter", "Processes loopscope started watching.",
	    d->attaches);
	ONE("loopscope_target_detaches", "counter", "Watched processes that went away.",
	    d->detaches);
	ONE("loopscope_target_skips", "counter", "Chosen processes skipped: not CPython.", d->skipped);
	ONE("loopscope_flight_dumps", "counter", "Flight-recorder dumps written.", d->flight_dumps);
	ONE("loopscope_flight_dump_errors", "counter", "Flight-recorder dumps that failed.",
	    d->flight_errors);
	ONE("loopscope_task_findings", "counter", "Task buildups and hangs reported.",
	    d->task_findings);
	ONE("loopscope_uptime_seconds", "gauge", "Seconds since loopscope started.",
	    now_mono() - d->start);
#undef ONE
}

void metrics__render(const struct daemon *d, bool openmetrics, struct http_resp *r)
{
	struct out o = { r, openmetrics, d->conf->service };

	r->type = openmetrics ? "application/openmetrics-text; version=1.0.0; charset=utf-8"
			      : "text/plain; version=0.0.4; charset=utf-8";
	loops(&o, d);
	tasks(&o, d);
	targets(&o, d);
	self(&o, d);
	if (openmetrics)
		resp__printf(r, "# EOF\n");
}
