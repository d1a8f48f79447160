// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include "enrich.h"
#include "preflight.h"
#include "python.h"
#include "record.h"
#include "samples.h"
#include "taskwatch.h"
#include "report.h"
#include "session.h"
#include "stats.h"
#include "target.h"
#include "tracer.h"

#define POLL_MS 100
#define WAITING_EVERY_S 10
#define PY_RETRY_S 10		/* how long to wait for a starting interpreter to initialise */

static volatile sig_atomic_t exiting;

static void on_signal(int sig)
{
	exiting = 1;
	/* a second Ctrl-C kills a stuck shutdown; nothing attached survives the process */
	signal(sig, SIG_DFL);
}

struct run {
	const struct env *env;
	const struct reporter *rep;
	struct target tgt;
	struct tracer *tr;
	struct stats *st;
	struct python *py;
	struct samples *samples;
	struct recorder *rec;	/* record: stalls and samples go into a flamegraph */
	struct taskwatch *tw;	/* pending tasks, read every interval */
	struct probe_status probes;
	struct enricher *en;	/* stacks, headline and task of each stall */
	double py_deadline;	/* give up finding the interpreter after this */
	bool py_done;		/* found it, or gave up */
	bool tasks_ready;	/* the asyncio reader has read the registries once */
};

static void on_stall(void *ctx, const struct ls_stall *rec)
{
	struct run *r = ctx;
	struct stall_view *v = malloc(sizeof(*v));

	if (!v)
		return;
	stats__stall_view(r->st, rec, v);
	enricher__stall(r->en, r->py, r->samples, v);
	stats__count(r->st, v);
	if (r->rec)
		recorder__stall(r->rec, v);
	else
		r->rep->stall(v);
	free(v);
}

static void on_sample(void *ctx, const struct ls_sample *rec)
{
	struct run *r = ctx;

	if (r->py && samples__add(r->samples, rec))
		enricher__name_task(r->en, r->py, rec->tid, rec->busy_start_ns, &rec->stack);
	if (r->py && r->rec && (r->env->view == VIEW_CPU || r->env->view == VIEW_WALL)) {
		struct stack_text *st = malloc(sizeof(*st));

		if (st) {
			python__stack(r->py, &rec->stack, st);
			recorder__sample(r->rec, st);
			free(st);
		}
	}
}

/* GC, imports and audit from the interpreter's own probes, where it has them. */
static void attach_probes(struct run *r)
{
	struct probe_status st = { SRC_NONE, SRC_NONE, r->env->audit ? SRC_NONE : SRC_OFF };
	struct tracer_probes tp = {};

	if (!python__probes(r->py, &tp))
		tracer__attach_probes(r->tr, r->tgt.pid, &tp, r->env->audit, &st);
	r->probes = st;
	r->rep->sources(r->tgt.pid, &st);
}

static void on_stack(void *ctx, const struct ls_sample *rec)
{
	struct run *r = ctx;

	if (!r->py)
		return;
	python__warm(r->py, &rec->stack);
	enricher__name_task(r->en, r->py, rec->tid, rec->busy_start_ns, &rec->stack);
}

/*
 * Find the interpreter and hand BPF its offsets. A process started by `run` has no
 * initialised interpreter for its first milliseconds: keep trying for a while.
 */
static void find_python(struct run *r)
{
	char msg[256] = "", desc[256] = "";
	int err;

	if (r->py_done || !target__execed(&r->tgt))
		return;
	err = python__open(r->tgt.pid, &r->py, msg, sizeof(msg));
	/* a starting program may not have mapped libpython or set up its interpreter yet */
	if (err && (err == -EAGAIN || (r->tgt.spawned && err != -EOPNOTSUPP)) &&
	    now_mono() < r->py_deadline)
		return;
	r->py_done = true;
	if (!err)
		err = tracer__set_python(r->tr, r->tgt.pid, python__offsets(r->py));
	if (err) {
		python__free(r->py);
		r->py = NULL;
		r->rep->python(r->tgt.pid, false, msg[0] ? msg : strerror(-err));
		return;
	}
	/* before the probes: attaching them can take a while, and a stall starting meanwhile
	 * is named from the tasks read now */
	r->tasks_ready = !python__prepare_tasks(r->py);
	attach_probes(r);
	if (r->env->freq && tracer__sample(r->tr, r->env->freq))
		fprintf(stderr, "loopscope: on-CPU sampling unavailable (perf events): %s\n",
			strerror(errno));
	python__describe(r->py, desc, sizeof(desc));
	r->rep->python(r->tgt.pid, true, desc);
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

/* The pending tasks, each interval (taskwatch skips some to bound its cost). */
static void read_tasks(struct run *r, const struct loop_interval *iv, int n)
{
	struct task_reading tr;
	struct finding f;
	double busy = 0;
	int i, ret;

	if (!r->py || r->env->no_tasks || r->rec || !r->tw)
		return;
	for (i = 0; i < n; i++)
		busy = iv[i].busy_pct > busy ? iv[i].busy_pct : busy;
	ret = taskwatch__read(r->tw, r->py, busy, &tr, &f);
	if (ret < 0)
		return;
	r->rep->tasks(r->tgt.pid, &tr);
	if (ret > 0)
		r->rep->finding(r->tgt.pid, &f);
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
	if (print && n)
		read_tasks(r, iv, n);
	return n;
}

static int setup(struct run *r, char *err, size_t len)
{
	const struct env *env = r->env;
	struct tracer_cbs cbs = {
		.stall = on_stall,
		.exit = on_exit_thread,
		.sample = on_sample,
		.stack = on_stack,
		.ctx = r,
	};
	struct tracer_opts o = {
		.stall_ns = (__u64)(env->threshold_ms * 1e6),
		.poll_loops = env->poll_loops,
		.raw_tp = env->raw_tp,
		/* record's cpu and wall views show all on-CPU time, not only stalls' */
		.sample_all = env->cmd == CMD_RECORD,
		.btf_path = env->btf_path,
		.verbose = env->verbose,
	};
	int ret;

	ret = preflight__privileges(err, len);
	if (!ret)
		ret = preflight__btf(env->btf_path, err, len);
	if (ret)
		return ret;
	if (env->cmd == CMD_RECORD) {
		r->rec = recorder__new(env->view, env->freq);
		if (!r->rec) {
			snprintf(err, len, "out of memory");
			return -ENOMEM;
		}
	}
	if (env->argv)
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
	r->samples = samples__new();
	r->en = enricher__new();
	r->tw = env->no_tasks ? NULL : taskwatch__new(env->hang_s, env->interval_s);
	if (!r->samples || !r->en || (!env->no_tasks && !r->tw)) {
		snprintf(err, len, "out of memory");
		return -ENOMEM;
	}
	ret = tracer__new(&o, &cbs, &r->tr);
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

/* record on a terminal: a countdown, rewritten in place */
static void progress(struct run *r, double secs)
{
	struct summary sum;

	sample(r, false);
	if (!isatty(STDERR_FILENO))
		return;
	stats__summary_peek(r->st, &sum);
	if (r->env->duration_s > 0)
		fprintf(stderr, "\rloopscope: recording pid %d: %.0f/%.0f s, %llu stalls  ",
			r->tgt.pid, secs, r->env->duration_s, (unsigned long long)sum.stalls);
	else
		fprintf(stderr, "\rloopscope: recording pid %d: %.0f s, %llu stalls  ", r->tgt.pid,
			secs, (unsigned long long)sum.stalls);
}

/* record: write the flamegraph and say so in one line */
static int write_recording(struct run *r, const struct summary *sum)
{
	const struct env *env = r->env;
	double total = 0;
	int stacks = 0, err;

	recorder__loop_time(r->rec, sum->idle_ms, sum->busy_ms);
	err = recorder__write(r->rec, env->output, env->format, &total, &stacks);
	if (isatty(STDERR_FILENO))
		fputc('\n', stderr);
	if (err) {
		fprintf(stderr, "loopscope: cannot write %s: %s\n", env->output,
			err == -EINVAL ? "unknown format (use --format svg|folded|speedscope|pprof)"
				       : strerror(-err));
		return 1;
	}
	fprintf(stderr, "loopscope: wrote %s (%s view): %llu stalls, %.1f ms of loop time "
			"unavailable; %.1f %s in %d stacks\n",
		env->output, record__view_name(env->view), (unsigned long long)sum->stalls,
		sum->stall_ms, total, env->view == VIEW_CPU ? "samples" : "ms", stacks);
	return 0;
}

/* Poll until Ctrl-C, --duration, or the target's exit; returns why it ended. */
static const char *watch(struct run *r)
{
	const struct env *env = r->env;
	double start = now_mono(), next = start + env->interval_s, said = start, now;
	int err;

	for (;;) {
		/* a starting program: look for its interpreter often, so stacks start early */
		err = tracer__poll(r->tr, r->py_done ? POLL_MS : POLL_MS / 10);
		if (err < 0)
			return "ring buffer error";
		if (exiting)
			return "interrupted";
		if (ferror(stdout))
			return "output closed";
		find_python(r);
		if (r->py && !r->tasks_ready)
			r->tasks_ready = !python__prepare_tasks(r->py);
		now = now_mono();
		if (r->rec && now >= next) {
			next += 1;
			progress(r, now - start);
		} else if (env->interval_s > 0 && now >= next) {
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
	struct stall_view **ongoing;
	struct summary sum;
	char err[512] = "";
	int ret, i, n;

	tracer__verbosity(env->verbose);
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
	r.py_deadline = now_mono() + PY_RETRY_S;
	find_python(&r);
	if (!r.tgt.spawned && tracer__seed_loops(r.tr, r.tgt.pid) <= 0)
		r.rep->waiting(r.tgt.pid, 0);
	sum.end = watch(&r);

	/* the last records and counters, then the verdict */
	tracer__poll(r.tr, 0);
	sample(&r, false);
	n = stats__ongoing(r.st, &ongoing);
	for (i = 0; i < n; i++) {
		enricher__stall(r.en, r.py, r.samples, ongoing[i]);
		stats__count(r.st, ongoing[i]);
		if (r.rec)
			recorder__stall(r.rec, ongoing[i]);
		else
			r.rep->stall(ongoing[i]);
	}
	{
		const char *end = sum.end;

		stats__summary(r.st, &sum);
		sum.end = end;
	}
	tracer__counters(r.tr, &sum.counters);
	sum.python = r.py != NULL;
	sum.sources.gc = source__name(r.py ? r.probes.gc : SRC_NONE);
	sum.sources.imports = source__name(r.py ? r.probes.imports : SRC_NONE);
	sum.sources.audit = source__name(r.py ? r.probes.audit : (env->audit ? SRC_NONE : SRC_OFF));
	ret = 0;
	if (r.rec)
		ret = write_recording(&r, &sum);
	if (!r.rec || env->json)
		r.rep->summary(&sum);
	if (!sum.loops) {
		fprintf(stderr, "loopscope: no event loop found in pid %d in %.1f s: no thread "
				"waited in epoll_wait/epoll_pwait%s (is it running asyncio?)\n",
			r.tgt.pid, sum.secs, env->poll_loops ? "/poll/select" : "");
		ret = EXIT_NO_LOOP;
	}
cleanup:
	tracer__free(r.tr);
	python__free(r.py);
	samples__free(r.samples);
	enricher__free(r.en);
	recorder__free(r.rec);
	taskwatch__free(r.tw);
	stats__free(r.st);
	target__close(&r.tgt);
	return ret;
}
