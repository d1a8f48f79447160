// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <linux/perf_event.h>
#include <bpf/libbpf.h>
#include <bpf/bpf.h>
#include <linux/types.h>
#include "loopscope.h"
#include "loopscope.skel.h"
#include "syscalls.h"
#include "tracer.h"

struct tracer {
	struct loopscope_bpf *skel;
	struct ring_buffer *rb;
	struct tracer_cbs cbs;
	int ncpus;
	int *perf_fds;
	struct bpf_link **perf_links;
	bool multi;		/* the daemon: targets come and go in the targets map */
	pid_t slot_pid[LS_MAX_TARGETS];	/* who owns each pyoffs slot (multi) */
	int nprobes, probes_cap;
	struct probe_link {
		pid_t pid;
		struct bpf_link *link;
	} *probes;		/* USDT and uprobes on the interpreters */
};

static int verbosity;

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list args)
{
	if (level == LIBBPF_DEBUG && verbosity < 2)
		return 0;
	if (level == LIBBPF_INFO && verbosity < 1)
		return 0;
	return vfprintf(stderr, fmt, args);
}

void tracer__verbosity(int verbose)
{
	verbosity = verbose;
	libbpf_set_print(libbpf_print);
}

/* "0-3,5": the online CPUs, as the kernel lists them. */
static int parse_cpu_mask_file(const char *path, bool **mask, int *n)
{
	int lo, hi, max = 0, i, c;
	bool *m = NULL;
	FILE *f;

	f = fopen(path, "re");
	if (!f)
		return -errno;
	m = calloc(4096, sizeof(bool));
	if (!m) {
		fclose(f);
		return -ENOMEM;
	}
	while (fscanf(f, "%d", &lo) == 1) {
		hi = lo;
		c = fgetc(f);
		if (c == '-') {
			if (fscanf(f, "%d", &hi) != 1)
				break;
			c = fgetc(f);
		}
		for (i = lo; i <= hi && i < 4096; i++)
			m[i] = true;
		if (hi + 1 > max)
			max = hi + 1 > 4096 ? 4096 : hi + 1;
		if (c != ',')
			break;
	}
	fclose(f);
	*mask = m;
	*n = max;
	return max ? 0 : -EINVAL;
}

static int on_record(void *ctx, void *data, size_t len)
{
	const struct ls_exit *e = data;
	struct tracer *tr = ctx;

	if (len >= sizeof(struct ls_stall) && e->kind == LS_EV_STALL)
		tr->cbs.stall(tr->cbs.ctx, data);
	else if (len >= sizeof(struct ls_exit) && e->kind == LS_EV_EXIT)
		tr->cbs.exit(tr->cbs.ctx, e->tid, &e->t);
	else if (len >= sizeof(struct ls_sample) && e->kind == LS_EV_SAMPLE)
		tr->cbs.sample(tr->cbs.ctx, data);
	else if (len >= sizeof(struct ls_sample) && e->kind == LS_EV_STACK)
		tr->cbs.stack(tr->cbs.ctx, data);
	return 0;
}

/* tp_btf needs the running kernel's BTF; the raw_tp twins do not. */
static void choose_programs(struct loopscope_bpf *skel, bool btf)
{
	struct bpf_program *p;

	bpf_object__for_each_program(p, skel->obj) {
		const char *sec = bpf_program__section_name(p);

		if (!strncmp(sec, "tp_btf/", 7))
			bpf_program__set_autoload(p, btf);
		else if (!strncmp(sec, "raw_tp/", 7))
			bpf_program__set_autoload(p, !btf);
	}
}

static int open_load(const struct tracer_opts *o, bool tp_btf, struct loopscope_bpf **out)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo, .btf_custom_path = o->btf_path);
	struct loopscope_bpf *skel;
	int err;

	skel = loopscope_bpf__open_opts(&oo);
	if (!skel)
		return -errno ?: -EINVAL;
	skel->rodata->targ_tgid = o->pid;	/* 0: the targets map */
	skel->rodata->stall_ns = o->stall_ns;
	skel->rodata->stack_min_ns = o->stall_ns / 10;
	skel->rodata->sample_after_ns = o->sample_all ? 0 : o->stall_ns / 4;
	skel->rodata->poll_loops = o->poll_loops;
	syscall__classes((__u8 *)skel->rodata->sysclass, LS_MAX_SYSCALLS);
	choose_programs(skel, tp_btf);
	err = loopscope_bpf__load(skel);
	if (err) {
		loopscope_bpf__destroy(skel);
		return err;
	}
	*out = skel;
	return 0;
}

int tracer__new(const struct tracer_opts *o, const struct tracer_cbs *cbs, struct tracer **out)
{
	bool kernel_btf = !o->raw_tp && !access("/sys/kernel/btf/vmlinux", R_OK);
	struct tracer *tr;
	int err;

	tr = calloc(1, sizeof(*tr));
	if (!tr)
		return -ENOMEM;
	tr->cbs = *cbs;
	tr->multi = !o->pid;
	err = open_load(o, kernel_btf, &tr->skel);
	if (err && kernel_btf) {
		if (o->verbose)
			fprintf(stderr, "loopscope: tp_btf programs failed to load (%d); "
					"falling back to raw tracepoints\n", err);
		err = open_load(o, false, &tr->skel);
	}
	if (err)
		goto cleanup;
	err = loopscope_bpf__attach(tr->skel);
	if (err)
		goto cleanup;
	tr->rb = ring_buffer__new(bpf_map__fd(tr->skel->maps.stalls), on_record, tr, NULL);
	if (!tr->rb) {
		err = -errno ?: -ENOMEM;
		goto cleanup;
	}
	*out = tr;
	return 0;
cleanup:
	tracer__free(tr);
	return err;
}

int tracer__fd(struct tracer *tr)
{
	return ring_buffer__epoll_fd(tr->rb);
}

int tracer__poll(struct tracer *tr, int timeout_ms)
{
	int err = ring_buffer__poll(tr->rb, timeout_ms);

	return err == -EINTR ? 0 : err;
}

__u64 tracer__next_epoch(struct tracer *tr)
{
	return __atomic_fetch_add(&tr->skel->bss->epoch, 1, __ATOMIC_SEQ_CST);
}

int tracer__threads(struct tracer *tr, tracer_thread_fn fn, void *ctx)
{
	int fd = bpf_map__fd(tr->skel->maps.threads);
	__u32 key, next, *prev = NULL;
	struct ls_thread *t;
	int err = 0;

	t = malloc(sizeof(*t));
	if (!t)
		return -ENOMEM;
	while (!bpf_map_get_next_key(fd, prev, &next)) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, t))
			continue;	/* the thread exited meanwhile */
		fn(ctx, key, t);
	}
	free(t);
	return err;
}

static __u64 mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);	/* the clock of bpf_ktime_get_ns() */
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/*
 * An idle loop with no timers can sit in epoll_wait for hours: find threads parked in their
 * selector now (/proc/PID/task/TID/syscall) so they are known before they next wake up.
 */
int tracer__seed_loops(struct tracer *tr, pid_t pid)
{
	int fd = bpf_map__fd(tr->skel->maps.threads), seeded = 0;
	const __u8 *cls = (const __u8 *)tr->skel->rodata->sysclass;
	struct ls_thread *t = NULL;
	char path[64];
	struct dirent *de;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	dir = opendir(path);
	if (!dir)
		return -errno;
	t = calloc(1, sizeof(*t));
	while (t && (de = readdir(dir))) {
		unsigned long long arg0;
		__u32 tid = strtoul(de->d_name, NULL, 10);
		int nr, n;
		FILE *f;

		if (!tid)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%u/syscall", pid, tid);
		f = fopen(path, "re");
		if (!f)
			continue;
		n = fscanf(f, "%d 0x%llx", &nr, &arg0);
		fclose(f);
		if (n != 2 || nr < 0 || nr >= LS_MAX_SYSCALLS || cls[nr] != LS_SC_EPOLL)
			continue;
		memset(t, 0, sizeof(*t));
		t->loop_kind = LS_SC_EPOLL;
		t->loop_fd = (__s32)arg0;
		t->in_selector = 1;
		t->sys_nr = -1;
		t->tgid = pid;
		t->sel_enter_ns = mono_ns();
		if (!bpf_map_update_elem(fd, &tid, t, BPF_NOEXIST))
			seeded++;
	}
	free(t);
	closedir(dir);
	return seeded;
}

void tracer__counters(struct tracer *tr, struct ls_counters *c)
{
	*c = tr->skel->bss->counters;
}

static int slot_of(struct tracer *tr, pid_t pid)
{
	int i;

	for (i = 0; i < LS_MAX_TARGETS; i++)
		if (tr->slot_pid[i] == pid)
			return i;
	return -1;
}

int tracer__add_target(struct tracer *tr, pid_t pid)
{
	struct ls_target tg = {};
	int slot;

	if (!tr->multi)
		return -EINVAL;
	if (slot_of(tr, pid) >= 0)
		return 0;
	slot = slot_of(tr, 0);
	if (slot < 0)
		return -ENOSPC;
	tg.slot = slot;
	if (bpf_map_update_elem(bpf_map__fd(tr->skel->maps.targets), &pid, &tg, BPF_ANY))
		return -errno;
	tr->slot_pid[slot] = pid;
	return 0;
}

static void drop_threads(struct tracer *tr, pid_t pid)
{
	int fd = bpf_map__fd(tr->skel->maps.threads);
	__u32 key, next, *prev = NULL;
	struct ls_thread *t = malloc(sizeof(*t));

	while (t && !bpf_map_get_next_key(fd, prev, &next)) {
		key = next;
		if (!bpf_map_lookup_elem(fd, &key, t) && t->tgid == (__u32)pid) {
			bpf_map_delete_elem(fd, &key);
			continue;	/* the walk restarts from prev, still in the map */
		}
		prev = &key;
	}
	free(t);
}

void tracer__remove_target(struct tracer *tr, pid_t pid)
{
	int i, slot = slot_of(tr, pid);

	if (!tr->multi || slot < 0)
		return;
	bpf_map_delete_elem(bpf_map__fd(tr->skel->maps.targets), &pid);
	tr->slot_pid[slot] = 0;
	for (i = 0; i < tr->nprobes; i++) {
		if (tr->probes[i].pid != pid)
			continue;
		bpf_link__destroy(tr->probes[i].link);
		tr->probes[i--] = tr->probes[--tr->nprobes];
	}
	drop_threads(tr, pid);
}

int tracer__set_python(struct tracer *tr, pid_t pid, const struct py_offsets *o)
{
	struct ls_target tg = { .python = 1 };
	int slot = tr->multi ? slot_of(tr, pid) : 0;

	if (slot < 0)
		return -ENOENT;
	if (bpf_map_update_elem(bpf_map__fd(tr->skel->maps.pyoffs), &slot, o, BPF_ANY))
		return -errno;
	tg.slot = slot;
	if (tr->multi &&
	    bpf_map_update_elem(bpf_map__fd(tr->skel->maps.targets), &pid, &tg, BPF_EXIST))
		return -errno;
	tr->skel->bss->py_enabled = true;
	return 0;
}

static bool add_probe(struct tracer *tr, pid_t pid, struct bpf_link *l)
{
	struct probe_link *p;

	if (!l)
		return false;
	if (tr->nprobes == tr->probes_cap) {
		p = realloc(tr->probes, (tr->probes_cap + 8) * sizeof(*p));
		if (!p) {
			bpf_link__destroy(l);
			return false;
		}
		tr->probes = p;
		tr->probes_cap += 8;
	}
	tr->probes[tr->nprobes++] = (struct probe_link){ pid, l };
	return true;
}

static bool usdt(struct tracer *tr, struct bpf_program *prog, pid_t pid, const char *binary,
		 const char *name)
{
	return add_probe(tr, pid, bpf_program__attach_usdt(prog, pid, binary, "python", name,
							    NULL));
}

static bool uprobe(struct tracer *tr, struct bpf_program *prog, pid_t pid, const char *binary,
		   const char *func, bool ret)
{
	LIBBPF_OPTS(bpf_uprobe_opts, opts, .func_name = func, .retprobe = ret);

	return add_probe(tr, pid, bpf_program__attach_uprobe_opts(prog, pid, binary, 0, &opts));
}

int tracer__attach_probes(struct tracer *tr, pid_t pid, const struct tracer_probes *p,
			  bool audit, struct probe_status *st)
{
	struct loopscope_bpf *sk = tr->skel;

	st->gc = st->imports = SRC_NONE;
	st->audit = audit ? SRC_NONE : SRC_OFF;
	/* USDT semaphores are raised by the kernel only while these links exist */
	if (p->usdt_gc && usdt(tr, sk->progs.ls_gc_start, pid, p->binary, "gc__start") &&
	    usdt(tr, sk->progs.ls_gc_done, pid, p->binary, "gc__done"))
		st->gc = SRC_USDT;
	if (st->gc == SRC_NONE && p->gc_symbol && p->gc_symbol[0]) {
		sk->data->gc_gen_arg = p->gc_gen_arg;
		if (uprobe(tr, sk->progs.ls_gc_enter, pid, p->binary, p->gc_symbol, false) &&
		    uprobe(tr, sk->progs.ls_gc_exit, pid, p->binary, p->gc_symbol, true))
			st->gc = SRC_UPROBE;
	}
	if (p->usdt_import &&
	    usdt(tr, sk->progs.ls_imp_start, pid, p->binary, "import__find__load__start") &&
	    usdt(tr, sk->progs.ls_imp_done, pid, p->binary, "import__find__load__done"))
		st->imports = SRC_USDT;
	if (audit && p->usdt_audit && usdt(tr, sk->progs.ls_audit, pid, p->binary, "audit"))
		st->audit = SRC_USDT;
	return 0;
}

static void stop_sampling(struct tracer *tr)
{
	int cpu;

	for (cpu = 0; cpu < tr->ncpus; cpu++) {
		if (tr->perf_links)
			bpf_link__destroy(tr->perf_links[cpu]);
		if (tr->perf_fds && tr->perf_fds[cpu] >= 0)
			close(tr->perf_fds[cpu]);
	}
	free(tr->perf_links);
	free(tr->perf_fds);
	tr->perf_links = NULL;
	tr->perf_fds = NULL;
	tr->ncpus = 0;
}

/* Sampling again at a new rate (the daemon's budget) replaces the perf events. */
int tracer__sample(struct tracer *tr, int freq)
{
	struct perf_event_attr attr = {
		.type = PERF_TYPE_SOFTWARE,
		.config = PERF_COUNT_SW_CPU_CLOCK,
		.size = sizeof(attr),
		.sample_freq = freq,
		.freq = 1,
	};
	int cpu, fd, err, attached = 0;
	bool *online = NULL;
	int n = 0;

	stop_sampling(tr);
	if (freq <= 0)
		return 0;
	err = parse_cpu_mask_file("/sys/devices/system/cpu/online", &online, &n);
	if (err)
		return err;
	tr->ncpus = n;
	tr->perf_fds = calloc(n, sizeof(int));
	tr->perf_links = calloc(n, sizeof(*tr->perf_links));
	if (!tr->perf_fds || !tr->perf_links) {
		err = -ENOMEM;
		goto cleanup;
	}
	for (cpu = 0; cpu < n; cpu++) {
		tr->perf_fds[cpu] = -1;
		if (!online[cpu])
			continue;
		fd = syscall(__NR_perf_event_open, &attr, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC);
		if (fd < 0) {
			err = -errno;
			goto cleanup;
		}
		tr->perf_fds[cpu] = fd;
		tr->perf_links[cpu] = bpf_program__attach_perf_event(tr->skel->progs.ls_sample, fd);
		if (!tr->perf_links[cpu]) {
			err = -errno;
			goto cleanup;
		}
		attached++;
	}
	err = attached ? 0 : -ENODEV;
cleanup:
	free(online);
	return err;
}

void tracer__free(struct tracer *tr)
{
	int cpu;

	if (!tr)
		return;
	for (cpu = 0; cpu < tr->nprobes; cpu++)
		bpf_link__destroy(tr->probes[cpu].link);
	free(tr->probes);
	stop_sampling(tr);
	ring_buffer__free(tr->rb);
	loopscope_bpf__destroy(tr->skel);
	free(tr);
}
