// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <bpf/libbpf.h>
#include "preflight.h"
#include "report.h"
#include "session.h"
#include "stats.h"
#include "target.h"
#include "tracer.h"

#define POLL_MS 100
#define WAITING_EVERY_S 10

static volatile sig_atomic_t exiting;

static void on_signal(int sig)
{
	exiting = 1;
	/* a second Ctrl-C kills a stuck shutdown; nothing attached survives the process */
	signal(sig, SIG_DFL);
}

static int verbosity;

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list args)
{
	if (level == LIBBPF_DEBUG && verbosity < 2)
		return 0;
	if (level == LIBBPF_INFO && verbosity < 1)
		return 0;
	return vfprintf(stderr, fmt, args);
}

struct run {
	const struct env *env;
	const struct reporter *rep;
	struct target tgt;
	struct tracer *tr;
	struct stats *st;
};

static int on_stall(void *ctx, const struct ls_stall *rec)
{
	struct run *r = ctx;
	struct stall_view v;

	stats__stall(r->st, rec, &v);
	r->rep->stall(&v);
	return 0;
}

static void on_exit_thread(void *ctx, __u32 tid, const struct ls_thread *t)
{
	struct run *r = ctx;

	stats__thread_exit(r->st, tid, t);
}

struct sample_ctx {
	struct run *r;
	__u64 epoch;
};

static void collect_epoch(void *ctx, __u32 tid, const struct ls_thread *t)
{
	struct sample_ctx *c = ctx;

	stats__thread(c->r->st, tid, t, c->epoch);
}

/* Read every loop thread's counters; returns how many loops there are. */
static int sample(struct run *r, bool print)
{
	struct sample_ctx c = { r, tracer__next_epoch(r->tr) };
	struct loop_interval *iv;
	int n;

	tracer__threads(r->tr, collect_epoch, &c);
	n = stats__intervals(r->st, &iv);
	if (print && n)
		r->rep->interval(mono_to_wall(now_mono()), iv, n);
	return n;
}

static int setup(struct run *r, char *err, size_t len)
{
	const struct env *env = r->env;
	struct tracer_opts o = {
		.stall_ns = (__u64)(env->threshold_ms * 1e6),
		.poll_loops = env->poll_loops,
		.btf_path = env->btf_path,
		.verbose = env->verbose,
	};
	int ret;

	ret = preflight__privileges(err, len);
	if (!ret)
		ret = preflight__btf(env->btf_path, err, len);
	if (ret)
		return ret;
	if (env->cmd == CMD_RUN)
		ret = target__spawn(&r->tgt, env->argv, err, len);
	else
		ret = target__attach(&r->tgt, env->pid, err, len);
	if (ret)
		return ret;
	r->st = stats__new(r->tgt.pid, o.stall_ns, env->top);
	if (!r->st) {
		snprintf(err, len, "out of memory");
		return -ENOMEM;
	}
	o.pid = r->tgt.pid;
	ret = tracer__new(&o, on_stall, on_exit_thread, r, &r->tr);
	if (ret) {
		snprintf(err, len, "cannot load or attach the BPF programs: %s%s", strerror(-ret),
			 env->verbose ? "" : " (run with -v for libbpf's messages)");
		return ret;
	}
	ret = target__release(&r->tgt);
	if (ret)
		snprintf(err, len, "cannot start %s: %s", env->argv[0], strerror(-ret));
	return ret;
}

/* Poll until Ctrl-C, --duration, or the target's exit; returns why it ended. */
static const char *watch(struct run *r)
{
	const struct env *env = r->env;
	double start = now_mono(), next = start + env->interval_s, said = start, now;
	int err;

	for (;;) {
		err = tracer__poll(r->tr, POLL_MS);
		if (err < 0)
			return "ring buffer error";
		if (exiting)
			return "interrupted";
		if (ferror(stdout))
			return "output closed";
		now = now_mono();
		if (env->interval_s > 0 && now >= next) {
			next += env->interval_s;
			if (!sample(r, true) && now - said >= WAITING_EVERY_S) {
				r->rep->waiting(r->tgt.pid, now - start);
				said = now;
			}
		}
		if (env->duration_s > 0 && now - start >= env->duration_s)
			return "duration reached";
		if (target__gone(&r->tgt))
			return "target exited";
	}
}

int session__run(const struct env *env)
{
	struct run r = { .env = env, .rep = env->json ? &report_json : &report_plain };
	struct stall_view *ongoing;
	struct summary sum;
	char err[512] = "";
	int ret, i, n;

	verbosity = env->verbose;
	libbpf_set_print(libbpf_print);
	r.tgt.pidfd = r.tgt.gate_fd = -1;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_signal);
	signal(SIGPIPE, SIG_IGN);

	ret = setup(&r, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "loopscope: %s\n", err);
		ret = 1;
		goto cleanup;
	}
	r.rep->attached(r.tgt.pid, r.tgt.comm, r.tgt.spawned, env->threshold_ms);
	if (!r.tgt.spawned && tracer__seed_loops(r.tr, r.tgt.pid) <= 0)
		r.rep->waiting(r.tgt.pid, 0);
	sum.end = watch(&r);

	/* the last records and counters, then the verdict */
	tracer__poll(r.tr, 0);
	sample(&r, false);
	n = stats__ongoing(r.st, &ongoing);
	for (i = 0; i < n; i++)
		r.rep->stall(&ongoing[i]);
	{
		const char *end = sum.end;

		stats__summary(r.st, &sum);
		sum.end = end;
	}
	tracer__counters(r.tr, &sum.counters);
	r.rep->summary(&sum);
	ret = 0;
	if (!sum.loops) {
		fprintf(stderr, "loopscope: no event loop found in pid %d in %.1f s: no thread "
				"waited in epoll_wait/epoll_pwait%s (is it running asyncio?)\n",
			r.tgt.pid, sum.secs, env->poll_loops ? "/poll/select" : "");
		ret = EXIT_NO_LOOP;
	}
cleanup:
	tracer__free(r.tr);
	stats__free(r.st);
	target__close(&r.tgt);
	return ret;
}
