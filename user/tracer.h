/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The BPF side's lifecycle: open, configure, load, attach, read, destroy. */
#ifndef __TRACER_H
#define __TRACER_H

#include <stdbool.h>
#include <sys/types.h>
#include <linux/types.h>
#include "loopscope.h"

struct tracer;

struct tracer_opts {
	pid_t pid;		/* 0: several targets, added with tracer__add_target */
	__u64 stall_ns;
	bool poll_loops;
	bool raw_tp;		/* skip the tp_btf programs */
	bool sample_all;	/* sample every busy period, not only those nearing a stall */
	const char *btf_path;	/* custom kernel BTF, for kernels without /sys/kernel/btf */
	int verbose;
};

typedef void (*tracer_thread_fn)(void *ctx, __u32 tid, const struct ls_thread *t);

/* Where ring-buffer records go. */
struct tracer_cbs {
	void (*stall)(void *ctx, const struct ls_stall *s);
	void (*exit)(void *ctx, __u32 tid, const struct ls_thread *t);	/* last counters */
	void (*sample)(void *ctx, const struct ls_sample *s);
	void (*stack)(void *ctx, const struct ls_sample *s);	/* a stack just taken */
	void *ctx;
};

/* libbpf's messages on stderr: warnings always, info with -v, debug with -vv. */
void tracer__verbosity(int verbose);
int tracer__new(const struct tracer_opts *opts, const struct tracer_cbs *cbs,
		struct tracer **out);
/* The daemon's targets: watch a process, or stop (its probes and loop threads go too). */
int tracer__add_target(struct tracer *tr, pid_t pid);
void tracer__remove_target(struct tracer *tr, pid_t pid);
/* Hand the BPF stack walker this process's CPython offsets; stacks start being taken. */
int tracer__set_python(struct tracer *tr, pid_t pid, const struct py_offsets *o);
/* The interpreter's probe points, as user/py/ found them. */
struct tracer_probes {
	const char *binary;
	bool usdt_gc, usdt_import, usdt_audit;
	const char *gc_symbol;	/* uprobe fallback, NULL or "" if none */
	int gc_gen_arg;
};

enum probe_source { SRC_NONE, SRC_USDT, SRC_UPROBE, SRC_OFF };

struct probe_status {
	enum probe_source gc, imports, audit;
};

/* Attach GC, import (and with audit, audit) probes; st says what is in place. */
int tracer__attach_probes(struct tracer *tr, pid_t pid, const struct tracer_probes *p,
			  bool audit, struct probe_status *st);
/* Sample loop threads on CPU at freq Hz (perf events on every CPU, filtered in BPF);
 * again to change the rate, 0 to stop. */
int tracer__sample(struct tracer *tr, int freq);
int tracer__poll(struct tracer *tr, int timeout_ms);
/* Readable when records wait: for a caller that polls other fds too. */
int tracer__fd(struct tracer *tr);
/* Start a new stats epoch; returns the one that just ended. */
__u64 tracer__next_epoch(struct tracer *tr);
int tracer__threads(struct tracer *tr, tracer_thread_fn fn, void *ctx);
/* Register the threads of pid parked in epoll now; returns how many. */
int tracer__seed_loops(struct tracer *tr, pid_t pid);
void tracer__counters(struct tracer *tr, struct ls_counters *c);
void tracer__free(struct tracer *tr);

#endif /* __TRACER_H */
