// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>
#include <bpf/libbpf.h>
#include "daemon.h"
#include "discover.h"
#include "events.h"
#include "flight.h"
#include "health.h"
#include "http.h"
#include "metrics.h"
#include "notify.h"
#include "preflight.h"
#include "report.h"
#include "target.h"
#include "tracer.h"
#include "watched.h"

#define MAX_FOUND 4096
#define MAX_SKIPPED 4096
#define POLL_MS 100
#define FLIGHT_GAP_S 1.0	/* stall-triggered dumps: at most one per second */
#define BUDGET_CALM 3		/* intervals under half the budget before sampling rises again */

static volatile sig_atomic_t exiting, dump_wanted;

static void on_stop(int sig)
{
	exiting = 1;
	signal(sig, SIG_DFL);	/* a second signal ends a stuck shutdown */
}

static void on_usr1(int sig)
{
	dump_wanted = 1;
}

struct skipped {
	pid_t pid;
	unsigned long long start;
	char comm[16];
	bool seen;
};

struct run {
	struct daemon d;
	struct dconf conf;
	struct watch_opts wo;
	struct http *http;
	struct flight *fl;
	double last_dump;
	int calm;			/* intervals under half the budget */
	int tasks_every, tasks_tick;
	struct rusage ru;
	double ru_at;
	struct found *found;
	int nskipped;
	struct skipped *skipped;
};

static int index_of(struct run *r, pid_t pid)
{
	int i;

	for (i = 0; i < r->d.nw; i++)
		if (r->d.w[i]->pid == pid)
			return i;
	return -1;
}

static struct watched *find_watched(struct run *r, pid_t pid)
{
	int i = index_of(r, pid);

	return i < 0 ? NULL : r->d.w[i];
}

static void flight_dump(struct run *r, const char *why, pid_t pid)
{
	struct flight_dump fd;
	int err;

	if (!r->fl)
		return;
	r->last_dump = now_mono();
	err = flight__dump(r->fl, why, &fd);
	if (err)
		r->d.flight_errors++;
	else
		r->d.flight_dumps++;
	event__flight(why, pid, &fd, err);
}

static void on_stall(void *ctx, const struct ls_stall *rec)
{
	struct run *r = ctx;
	struct watched *w = find_watched(r, rec->tgid);
	struct stall_view *v;

	if (!w || !(v = malloc(sizeof(*v))))
		return;
	watched__stall(w, rec, v);
	report_json.stall(v);
	if (r->fl) {
		flight__stall(r->fl, v);
		if (v->dur_ms >= r->conf.flight_threshold_ms &&
		    now_mono() - r->last_dump >= FLIGHT_GAP_S)
			flight_dump(r, "stall", w->pid);
	}
	free(v);
}

static void on_sample(void *ctx, const struct ls_sample *rec)
{
	struct run *r = ctx;
	struct watched *w = find_watched(r, rec->tgid);

	if (w)
		watched__sample(w, rec);
}

static void on_stack(void *ctx, const struct ls_sample *rec)
{
	struct run *r = ctx;
	struct watched *w = find_watched(r, rec->tgid);

	if (w)
		watched__stack(w, rec);
}

static void on_exit_thread(void *ctx, __u32 tid, const struct ls_thread *t)
{
	struct run *r = ctx;
	struct watched *w = find_watched(r, t->tgid);

	if (w)
		watched__thread_exit(w, tid, t);
}

static void drop(struct run *r, int i, const char *why)
{
	struct watched *w = r->d.w[i];

	tracer__remove_target(r->d.tr, w->pid);
	event__detached(r->conf.service, w->pid, why);
	watched__free(w);
	r->d.w[i] = r->d.w[--r->d.nw];
	r->d.detaches++;
}

static struct skipped *find_skipped(struct run *r, pid_t pid, unsigned long long start)
{
	int i;

	for (i = 0; i < r->nskipped; i++)
		if (r->skipped[i].pid == pid && r->skipped[i].start == start)
			return &r->skipped[i];
	return NULL;
}

static void skip(struct run *r, struct watched *w)
{
	struct skipped *s = &r->skipped[r->nskipped];

	if (r->nskipped < MAX_SKIPPED) {
		*s = (struct skipped){ .pid = w->pid, .start = w->start, .seen = true };
		memcpy(s->comm, w->comm, sizeof(s->comm));
		r->nskipped++;
	}
	event__skipped(r->conf.service, w->pid, w->comm, w->py_what);
	r->d.skipped++;
}

/* Python or not: attach, wait for the interpreter to come up, or skip the process for good. */
static void resolve(struct run *r, int i, const char *selector)
{
	struct watched *w = r->d.w[i];
	int err = watched__find_python(w, r->d.tr, &r->wo);

	if (err == -EAGAIN || w->announced)
		return;
	if (err == -ENOEXEC) {
		tracer__remove_target(r->d.tr, w->pid);
		skip(r, w);
		watched__free(w);
		r->d.w[i] = r->d.w[--r->d.nw];
		return;
	}
	event__attached(r->conf.service, w, selector);
	w->announced = true;
	r->d.attaches++;
}

static void add(struct run *r, const struct found *f)
{
	struct watched *w;

	if (r->d.nw == LS_MAX_TARGETS)
		return;
	w = watched__new(f->pid, f->start, &r->wo);
	if (!w)
		return;
	if (tracer__add_target(r->d.tr, f->pid)) {
		watched__free(w);
		return;
	}
	/* an idle loop may not leave its selector for hours: find it parked there now */
	tracer__seed_loops(r->d.tr, f->pid);
	w->seen = true;
	r->d.w[r->d.nw++] = w;
	resolve(r, r->d.nw - 1, selector__name(r->conf.sel[f->sel].kind));
}

/* Follow the selectors: new processes are added, gone or replaced ones dropped. */
static void scan(struct run *r)
{
	int n, i;

	n = discover__scan(&r->conf, r->found, MAX_FOUND);
	if (n < 0)
		return;
	for (i = 0; i < r->d.nw; i++)
		r->d.w[i]->seen = false;
	for (i = 0; i < r->nskipped; i++)
		r->skipped[i].seen = false;
	for (i = 0; i < n; i++) {
		int at = index_of(r, r->found[i].pid);
		struct skipped *s = find_skipped(r, r->found[i].pid, r->found[i].start);
		char comm[16];

		if (at >= 0 && r->d.w[at]->start == r->found[i].start) {
			r->d.w[at]->seen = true;
			continue;
		}
		if (at >= 0)	/* the PID was reused: the process watched under it is gone */
			drop(r, at, "exited");
		if (s) {
			/* a shell that exec'd into Python keeps its PID and start time */
			target__thread_name(s->pid, s->pid, comm, sizeof(comm));
			if (!strcmp(comm, s->comm)) {
				s->seen = true;
				continue;
			}
			s->pid = 0;
		}
		add(r, &r->found[i]);
	}
	for (i = r->d.nw - 1; i >= 0; i--) {
		if (r->d.w[i]->seen)
			continue;
		drop(r, i, discover__start_time(r->d.w[i]->pid) == r->d.w[i]->start
				   ? "no longer selected" : "exited");
	}
	for (i = 0; i < r->nskipped; i++)
		if (!r->skipped[i].seen)
			r->skipped[i--] = r->skipped[--r->nskipped];
}

struct collect_ctx {
	struct run *r;
	__u64 epoch;
};

static void collect(void *ctx, __u32 tid, const struct ls_thread *t)
{
	struct collect_ctx *c = ctx;
	struct watched *w = find_watched(c->r, t->tgid);

	if (w)
		watched__thread(w, tid, t, c->epoch);
}

static void refresh_one(void *ctx, __u32 tid, const struct ls_thread *t)
{
	struct watched *w = find_watched(ctx, t->tgid);

	if (w)
		watched__refresh(w, tid, t);
}

/* loopscope's own CPU over the last interval; above the budget, sample less. */
static void budget(struct run *r)
{
	struct rusage ru;
	double now = now_mono(), used, pct;
	long long pages = 0;
	int freq = r->d.freq;
	FILE *f;

	getrusage(RUSAGE_SELF, &ru);
	used = (ru.ru_utime.tv_sec - r->ru.ru_utime.tv_sec) +
	       (ru.ru_utime.tv_usec - r->ru.ru_utime.tv_usec) / 1e6 +
	       (ru.ru_stime.tv_sec - r->ru.ru_stime.tv_sec) +
	       (ru.ru_stime.tv_usec - r->ru.ru_stime.tv_usec) / 1e6;
	pct = now > r->ru_at ? 100 * used / (now - r->ru_at) : 0;
	r->d.cpu_s += used;
	r->d.cpu_pct = pct;
	r->ru = ru;
	r->ru_at = now;
	f = fopen("/proc/self/statm", "re");
	if (f && fscanf(f, "%*d %lld", &pages) == 1)
		r->d.rss_bytes = pages * sysconf(_SC_PAGESIZE);
	if (f)
		fclose(f);
	if (pct > r->conf.budget_pct) {
		r->calm = 0;
		freq = freq > 1 ? freq / 2 : 0;
		r->tasks_every = r->tasks_every < 8 ? r->tasks_every * 2 : 8;
	} else if (pct < r->conf.budget_pct / 2 && ++r->calm >= BUDGET_CALM) {
		r->calm = 0;
		if (freq < r->conf.freq)
			freq = freq ? (freq * 2 < r->conf.freq ? freq * 2 : r->conf.freq) : 1;
		if (r->tasks_every > 1)
			r->tasks_every /= 2;
	}
	if (freq == r->d.freq && r->d.over_budget == (freq < r->conf.freq || r->tasks_every > 1))
		return;
	if (freq != r->d.freq && tracer__sample(r->d.tr, freq) == 0)
		r->d.freq = freq;
	r->d.over_budget = r->d.freq < r->conf.freq || r->tasks_every > 1;
	event__budget(pct, r->conf.budget_pct, r->d.freq, r->d.over_budget);
}

static void interval(struct run *r)
{
	struct collect_ctx ctx = { r, tracer__next_epoch(r->d.tr) };
	struct finding *f = malloc(sizeof(*f));
	bool tasks = ++r->tasks_tick >= r->tasks_every;
	int i;

	tracer__threads(r->d.tr, collect, &ctx);
	if (tasks)
		r->tasks_tick = 0;
	for (i = 0; i < r->d.nw; i++) {
		watched__end_reading(r->d.w[i]);
		if (tasks && f && r->conf.tasks && watched__read_tasks(r->d.w[i], f) > 0) {
			report_json.finding(r->d.w[i]->pid, f);
			r->d.task_findings++;
		}
	}
	free(f);
	budget(r);
}

static void serve(void *ctx, const char *path, const char *accept, struct http_resp *resp)
{
	struct run *r = ctx;

	tracer__threads(r->d.tr, refresh_one, r);	/* fresh ages for probes */
	if (!strcmp(path, "/metrics"))
		metrics__render(&r->d, strstr(accept, "application/openmetrics-text") != NULL,
				resp);
	else if (!strcmp(path, "/loops"))
		health__loops(&r->d, resp);
	else if (!strcmp(path, "/health") || !strcmp(path, "/"))
		health__self(&r->d, resp);
	else {
		resp->status = 404;
		resp__printf(resp, "not found: try /metrics, /loops or /health\n");
	}
}

static int setup(struct run *r, char *err, size_t len)
{
	struct tracer_cbs cbs = { on_stall, on_exit_thread, on_sample, on_stack, r };
	struct tracer_opts o = {
		.stall_ns = (__u64)(r->conf.threshold_ms * 1e6),
		.btf_path = r->conf.btf[0] ? r->conf.btf : NULL,
		.verbose = r->conf.verbose,
	};
	int ret;

	ret = preflight__privileges(err, len);
	if (!ret)
		ret = preflight__btf(o.btf_path, err, len);
	if (ret)
		return ret;
	r->found = calloc(MAX_FOUND, sizeof(*r->found));
	r->skipped = calloc(MAX_SKIPPED, sizeof(*r->skipped));
	if (!r->found || !r->skipped)
		return snprintf(err, len, "out of memory"), -ENOMEM;
	if (strcmp(r->conf.listen, "off")) {
		ret = http__listen(r->conf.listen, &r->http, err, len);
		if (ret)
			return ret;
	}
	if (r->conf.flight_dir[0]) {
		struct flight_opts fo = {
			.dir = r->conf.flight_dir, .service = r->conf.service,
			.keep_s = r->conf.flight_s, .max_bytes = r->conf.flight_max_bytes,
			.folded = strstr(r->conf.flight_format, "folded") != NULL,
			.pprof = strstr(r->conf.flight_format, "pprof") != NULL,
		};

		r->fl = flight__new(&fo);
		if (!r->fl)
			return snprintf(err, len, "out of memory"), -ENOMEM;
	}
	ret = tracer__new(&o, &cbs, &r->d.tr);
	if (ret)
		snprintf(err, len, "cannot load or attach the BPF programs: %s%s", strerror(-ret),
			 r->conf.verbose ? "" : " (run with -v for libbpf's messages)");
	return ret;
}

/* Until SIGTERM: records, HTTP, scans, readings, the watchdog. Returns why it ended. */
static const char *watch(struct run *r)
{
	double now = now_mono(), next_scan = now + r->conf.scan_s;
	double next_iv = now + r->conf.interval_s, wd = notify__watchdog_interval(), next_wd = now;
	struct pollfd pfd[2] = { { tracer__fd(r->d.tr), POLLIN, 0 }, { -1, POLLIN, 0 } };
	int i;

	if (r->http)
		pfd[1].fd = http__fd(r->http);
	while (!exiting) {
		if (poll(pfd, 2, POLL_MS) < 0 && errno != EINTR)
			return "poll failed";
		if (tracer__poll(r->d.tr, 0) < 0)
			return "ring buffer error";
		if (r->http && (pfd[1].revents & POLLIN))
			http__serve(r->http, serve, r);
		for (i = r->d.nw - 1; i >= 0; i--)
			if (!r->d.w[i]->announced)
				resolve(r, i, "scan");
		now = now_mono();
		if (now >= next_scan) {
			next_scan = now + r->conf.scan_s;
			scan(r);
		}
		if (now >= next_iv) {
			next_iv += r->conf.interval_s;
			if (next_iv < now)
				next_iv = now + r->conf.interval_s;
			interval(r);
		}
		if (wd > 0 && now >= next_wd) {
			next_wd = now + wd;
			notify__send("WATCHDOG=1");
		}
		if (dump_wanted) {
			dump_wanted = 0;
			flight_dump(r, "signal", 0);
		}
		if (r->conf.duration_s > 0 && now - r->d.start >= r->conf.duration_s)
			return "duration reached";
		if (ferror(stdout))
			return "output closed";
	}
	return "signal";
}

int daemon__main(int argc, char **argv)
{
	struct run *r = calloc(1, sizeof(*r));
	char err[512] = "", status[128];
	const char *why;
	int ret = 1, i;

	if (!r)
		return 1;
	dconf__parse(&r->conf, argc, argv);
	tracer__verbosity(r->conf.verbose);
	r->d.conf = &r->conf;
	r->d.start = now_mono();
	r->d.freq = r->conf.freq;
	r->tasks_every = 1;
	r->wo = (struct watch_opts){ r->conf.threshold_ms, r->conf.tasks, r->conf.audit,
				     r->conf.interval_s, 10 };
	signal(SIGINT, on_stop);
	signal(SIGTERM, on_stop);
	signal(SIGHUP, on_stop);
	signal(SIGUSR1, on_usr1);
	signal(SIGPIPE, SIG_IGN);

	if (setup(r, err, sizeof(err))) {
		fprintf(stderr, "loopscope: %s\n", err);
		goto cleanup;
	}
	if (r->http) {
		char host[CONF_STR];

		snprintf(host, sizeof(host), "%s", r->conf.listen);
		*strrchr(host, ':') = '\0';	/* validated HOST:PORT */
		event__listening(r->conf.service, host, http__port(r->http));
	}
	scan(r);
	if (r->d.freq && tracer__sample(r->d.tr, r->d.freq))
		fprintf(stderr, "loopscope: on-CPU sampling unavailable (perf events): %s\n",
			strerror(errno));
	/* the budget is for watching: loading BPF and the first scan are paid once */
	getrusage(RUSAGE_SELF, &r->ru);
	r->ru_at = now_mono();
	r->d.cpu_s = r->ru.ru_utime.tv_sec + r->ru.ru_stime.tv_sec +
		     (r->ru.ru_utime.tv_usec + r->ru.ru_stime.tv_usec) / 1e6;
	event__ready(r->conf.service, r->d.nw);
	snprintf(status, sizeof(status), "STATUS=watching %d processes", r->d.nw);
	notify__send("READY=1");
	notify__send(status);
	why = watch(r);
	notify__send("STOPPING=1");
	tracer__poll(r->d.tr, 0);
	event__stopped(r->conf.service, why);
	ret = 0;
cleanup:
	for (i = 0; i < r->d.nw; i++)
		watched__free(r->d.w[i]);
	tracer__free(r->d.tr);
	http__free(r->http);
	flight__free(r->fl);
	free(r->found);
	free(r->skipped);
	free(r);
	return ret;
}
