// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "stats.h"
#include "target.h"

#define MAX_THREADS 4096

/* What the last interval saw of one loop thread. */
struct snap {
	__u32 tid;
	bool seen;		/* present in the current pass */
	double when;
	char comm[16];
	__u64 iterations, busy_ns, idle_ns, stalls;
	__u64 gc_ns[LS_GC_GENS], gc_count[LS_GC_GENS];
	__u64 hist[LS_HIST_BUCKETS];
	struct loop_interval cur;
	bool blocked;
	struct stall_view *ongoing;	/* allocated the first time the loop is caught blocked */
};

struct stats {
	pid_t pid;
	__u64 stall_ns;
	int top_n;
	double start;
	int nsnaps;
	struct snap *snaps;
	struct loop_interval *ivs;
	struct stall_view **ongoing;
	struct summary sum;
	/* loop threads that exited: their slots are freed, their counters kept here */
	int gone;
	__u64 gone_iterations, gone_busy_ns, gone_idle_ns;
	__u64 gone_gc_ns[LS_GC_GENS], gone_gc_count[LS_GC_GENS];
};

static double wall_base;	/* realtime - monotonic, fixed at start */

double now_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

double mono_to_wall(double mono)
{
	return mono + wall_base;
}

struct stats *stats__new(pid_t pid, __u64 stall_ns, int top_n)
{
	struct stats *s = calloc(1, sizeof(*s));
	struct timespec rt;

	if (!s)
		return NULL;
	clock_gettime(CLOCK_REALTIME, &rt);
	wall_base = rt.tv_sec + rt.tv_nsec / 1e9 - now_mono();
	s->pid = pid;
	s->stall_ns = stall_ns;
	s->top_n = top_n > STATS_TOP_MAX ? STATS_TOP_MAX : top_n;
	s->start = now_mono();
	s->sum.pid = pid;
	return s;
}

void stats__free(struct stats *s)
{
	int i;

	if (!s)
		return;
	for (i = 0; i < s->nsnaps; i++)
		free(s->snaps[i].ongoing);
	free(s->snaps);
	free(s->ivs);
	free(s->ongoing);
	free(s);
}

static int dominant_cause(const struct ls_busy *b, __u64 oncpu)
{
	__u64 best = oncpu;
	int i, cause = CAUSE_CPU;

	for (i = 0; i < LS_NR_REASONS; i++) {
		if (b->r[i].ns > best) {
			best = b->r[i].ns;
			cause = i;
		}
	}
	return cause;
}

static void fill_view(struct stats *s, struct stall_view *v, __u32 tid, const struct ls_busy *b,
		      __u64 dur_ns, const struct ls_stack *stack, __u64 stack_ns, int syscall,
		      int reason, const struct ls_py_events *ev, const struct ls_stack *gc)
{
	__u64 off = b->offcpu_ns > dur_ns ? dur_ns : b->offcpu_ns;

	memset(v, 0, sizeof(*v));
	v->pid = s->pid;
	v->tid = tid;
	target__thread_name(s->pid, tid, v->comm, sizeof(v->comm));
	v->start_wall = mono_to_wall(b->start_ns / 1e9);
	v->dur_ms = dur_ns / 1e6;
	v->offcpu_ms = off / 1e6;
	v->oncpu_ms = (dur_ns - off) / 1e6;
	v->cause = dominant_cause(b, dur_ns - off);
	v->busy = *b;
	v->busy_start_ns = b->start_ns;
	v->raw = *stack;
	v->blocked_ms = stack_ns / 1e6;
	v->blocked_syscall = syscall;
	v->blocked_reason = reason;
	v->ev = *ev;
	if (ev->gc_stack_ns)
		v->gc_raw = *gc;
}

/* Keep the longest stalls, longest first. */
static void keep_top(struct summary *sum, int top_n, const struct stall_view *v)
{
	int i;

	if (top_n <= 0)
		return;
	if (sum->ntop == top_n) {
		if (sum->top[top_n - 1].dur_ms >= v->dur_ms)
			return;
		i = top_n - 1;
	} else {
		i = sum->ntop++;
	}
	while (i > 0 && sum->top[i - 1].dur_ms < v->dur_ms) {
		sum->top[i] = sum->top[i - 1];
		i--;
	}
	sum->top[i] = *v;
}

void stats__count(struct stats *s, const struct stall_view *v)
{
	struct summary *sum = &s->sum;
	int i;

	sum->stalls++;
	sum->stall_ms += v->dur_ms;
	sum->cause_stalls[v->cause]++;
	sum->cause_ms[CAUSE_CPU] += v->oncpu_ms;
	sum->gc_stall_ms += v->ev.gc_ns / 1e6;
	sum->import_stall_ms += v->ev.import_ns / 1e6;
	for (i = 0; i < LS_NR_REASONS; i++)
		sum->cause_ms[i] += v->busy.r[i].ns / 1e6;
	keep_top(sum, s->top_n, v);
}

void stats__stall_view(struct stats *s, const struct ls_stall *rec, struct stall_view *v)
{
	fill_view(s, v, rec->tid, &rec->busy, rec->dur_ns, &rec->stack, rec->stack_ns,
		  rec->stack_syscall, rec->stack_reason, &rec->ev, &rec->gc_stack);
}

static struct snap *snap_get(struct stats *s, __u32 tid)
{
	struct snap *n;
	int i;

	for (i = 0; i < s->nsnaps; i++)
		if (s->snaps[i].tid == tid)
			return &s->snaps[i];
	if (s->nsnaps >= MAX_THREADS)
		return NULL;
	n = realloc(s->snaps, (s->nsnaps + 1) * sizeof(*n));
	if (!n)
		return NULL;
	s->snaps = n;
	n = &s->snaps[s->nsnaps++];
	memset(n, 0, sizeof(*n));
	n->tid = tid;
	n->when = s->start;
	return n;
}

double stats__bucket_upper_us(int b)
{
	int k, p;

	if (b < 2 * LS_HIST_SUB)
		return b + 1;
	k = b - 2 * LS_HIST_SUB;
	p = k / LS_HIST_SUB + LS_HIST_SUB_BITS + 1;
	return (double)(1ULL << p) + (k % LS_HIST_SUB + 1) * (double)(1ULL << (p - LS_HIST_SUB_BITS));
}

static double bucket_mid_us(int b)
{
	int k, p, sub;
	double lo, width;

	if (b < 2 * LS_HIST_SUB)
		return b + 0.5;
	k = b - 2 * LS_HIST_SUB;
	p = k / LS_HIST_SUB + LS_HIST_SUB_BITS + 1;
	sub = k % LS_HIST_SUB;
	width = (double)(1ULL << (p - LS_HIST_SUB_BITS));
	lo = (double)(1ULL << p) + sub * width;
	return lo + width / 2;
}

static double percentile_ms(const __u64 *delta, __u64 total, double q)
{
	__u64 rank = (__u64)(q * total), seen = 0;
	int b;

	if (!total)
		return 0;
	for (b = 0; b < LS_HIST_BUCKETS; b++) {
		seen += delta[b];
		if (seen > rank)
			return bucket_mid_us(b) / 1e3;
	}
	return bucket_mid_us(LS_HIST_BUCKETS - 1) / 1e3;
}

/* A thread still switched out: its episode so far counts, as BPF will count it at switch-in. */
static void charge_open_episode(struct ls_busy *b, const struct ls_thread *t, double now_ns)
{
	__u64 now = (__u64)now_ns, wake = t->wake_ns ?: now;
	struct ls_reason_acc *acc;

	if (!t->out_ns || t->out_ns > now || t->cur_reason >= LS_NR_REASONS)
		return;
	if (wake < t->out_ns || wake > now)
		wake = now;
	acc = &b->r[t->cur_reason];
	acc->ns += wake - t->out_ns;
	acc->count++;
	if (wake - t->out_ns > acc->top.ns) {
		acc->top = t->cur;
		acc->top.ns = wake - t->out_ns;
	}
	b->offcpu_ns += wake - t->out_ns;
	if (now > wake) {
		b->r[LS_R_PREEMPT].ns += now - wake;
		b->offcpu_ns += now - wake;
	}
}

void stats__thread(struct stats *s, __u32 tid, const struct ls_thread *t, __u64 ended_epoch)
{
	struct snap *sn = snap_get(s, tid);
	struct loop_interval *iv;
	__u64 delta[LS_HIST_BUCKETS], n = 0;
	double now = now_mono(), busy_ns, ongoing_ns = 0;
	int b;

	if (!sn || !t->loop_kind)
		return;
	sn->seen = true;
	iv = &sn->cur;
	memset(iv, 0, sizeof(*iv));
	target__thread_name(s->pid, tid, sn->comm, sizeof(sn->comm));
	iv->tid = tid;
	memcpy(iv->comm, sn->comm, sizeof(iv->comm));
	iv->secs = now - sn->when;
	for (b = 0; b < LS_HIST_BUCKETS; b++) {
		delta[b] = t->hist[b] - sn->hist[b];
		n += delta[b];
	}
	iv->iterations = t->iterations - sn->iterations;
	iv->stalls = t->stalls - sn->stalls;
	busy_ns = t->busy_ns - sn->busy_ns;
	if (t->started && !t->in_selector) {
		/* the busy period in progress counts too, or a wedged loop would look idle */
		ongoing_ns = now * 1e9 - t->busy.start_ns;
		if (ongoing_ns < 0)
			ongoing_ns = 0;
		busy_ns += ongoing_ns > iv->secs * 1e9 ? iv->secs * 1e9 : ongoing_ns;
	}
	iv->busy_pct = iv->secs > 0 ? 100.0 * busy_ns / (iv->secs * 1e9) : 0;
	if (iv->busy_pct > 100)
		iv->busy_pct = 100;
	iv->p50_ms = percentile_ms(delta, n, 0.50);
	iv->p99_ms = percentile_ms(delta, n, 0.99);
	iv->max_ms = t->max_epoch == ended_epoch ? t->max_busy_ns / 1e6 : 0;
	sn->blocked = ongoing_ns >= s->stall_ns;
	if (sn->blocked && !sn->ongoing)
		sn->ongoing = malloc(sizeof(*sn->ongoing));
	if (sn->blocked && sn->ongoing) {
		struct ls_busy busy = t->busy;

		iv->blocked_ms = ongoing_ns / 1e6;
		charge_open_episode(&busy, t, now * 1e9);
		fill_view(s, sn->ongoing, tid, &busy, ongoing_ns, &t->stack, t->stack_ns,
			  t->stack_syscall, t->stack_reason, &t->ev, &t->gc_stack);
		sn->ongoing->ongoing = true;
	}
	sn->blocked = sn->blocked && sn->ongoing;
	sn->when = now;
	sn->iterations = t->iterations;
	sn->busy_ns = t->busy_ns;
	sn->idle_ns = t->idle_ns;
	sn->stalls = t->stalls;
	memcpy(sn->gc_ns, t->gc_total_ns, sizeof(sn->gc_ns));
	memcpy(sn->gc_count, t->gc_total_count, sizeof(sn->gc_count));
	memcpy(sn->hist, t->hist, sizeof(sn->hist));
}

void stats__thread_exit(struct stats *s, __u32 tid, const struct ls_thread *t)
{
	struct snap *sn = snap_get(s, tid);
	int g;

	if (!sn)
		return;
	/* a target that starts and stops loop threads for days must not fill the table */
	s->gone++;
	s->gone_iterations += t->iterations;
	s->gone_busy_ns += t->busy_ns;
	s->gone_idle_ns += t->idle_ns;
	for (g = 0; g < LS_GC_GENS; g++) {
		s->gone_gc_ns[g] += t->gc_total_ns[g];
		s->gone_gc_count[g] += t->gc_total_count[g];
	}
	free(sn->ongoing);
	*sn = s->snaps[--s->nsnaps];
}

int stats__intervals(struct stats *s, struct loop_interval **out)
{
	int i, n = 0;

	free(s->ivs);
	s->ivs = calloc(s->nsnaps ?: 1, sizeof(*s->ivs));
	if (!s->ivs)
		return 0;
	for (i = 0; i < s->nsnaps; i++) {
		if (!s->snaps[i].seen)
			continue;	/* the thread exited */
		s->snaps[i].seen = false;
		s->ivs[n++] = s->snaps[i].cur;
	}
	*out = s->ivs;
	return n;
}

int stats__ongoing(struct stats *s, struct stall_view ***out)
{
	int i, n = 0;

	free(s->ongoing);
	s->ongoing = calloc(s->nsnaps ?: 1, sizeof(*s->ongoing));
	if (!s->ongoing)
		return 0;
	for (i = 0; i < s->nsnaps; i++)
		if (s->snaps[i].blocked)
			s->ongoing[n++] = s->snaps[i].ongoing;
	*out = s->ongoing;
	return n;
}

int stats__loops(struct stats *s)
{
	return s->nsnaps;
}

void stats__summary_peek(struct stats *s, struct summary *sum)
{
	*sum = s->sum;
}

void stats__summary(struct stats *s, struct summary *sum)
{
	__u64 busy = s->gone_busy_ns, idle = s->gone_idle_ns;
	int i, g;

	s->sum.iterations = s->gone_iterations;
	for (g = 0; g < LS_GC_GENS; g++) {
		s->sum.gc_gen_ms[g] = s->gone_gc_ns[g] / 1e6;
		s->sum.gc_gen_count[g] = s->gone_gc_count[g];
	}
	for (i = 0; i < s->nsnaps; i++) {
		for (g = 0; g < LS_GC_GENS; g++) {
			s->sum.gc_gen_ms[g] += s->snaps[i].gc_ns[g] / 1e6;
			s->sum.gc_gen_count[g] += s->snaps[i].gc_count[g];
		}
		s->sum.iterations += s->snaps[i].iterations;
		busy += s->snaps[i].busy_ns;
		idle += s->snaps[i].idle_ns;
	}
	s->sum.loops = s->nsnaps + s->gone;
	s->sum.secs = now_mono() - s->start;
	s->sum.busy_pct = busy + idle ? 100.0 * busy / (busy + idle) : 0;
	s->sum.busy_ms = busy / 1e6;
	s->sum.idle_ms = idle / 1e6;
	*sum = s->sum;
}
