/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * CPython's own probe points, inside busy periods of loop threads: garbage collections (with
 * the Python code that triggered the longest one), first imports, and audit events. They
 * come as USDT probes where the build has them, and the collector as a uprobe on its entry
 * and return where the binary only has symbols. Userspace decides which are attached.
 */
#ifndef __PYPROBES_BPF_H
#define __PYPROBES_BPF_H

#include <bpf/usdt.bpf.h>

int gc_gen_arg = 2;	/* uprobe fallback: which argument is the generation (set late) */

/* The current thread, if it is a loop thread inside a busy period. */
static __always_inline struct ls_thread *busy_thread(__u32 *tid)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct ls_thread *t;

	if (!is_target(pid_tgid >> 32))
		return NULL;
	*tid = (__u32)pid_tgid;
	t = bpf_map_lookup_elem(&threads, tid);
	if (!t || !t->started || t->in_selector)
		return NULL;
	return t;
}

static __always_inline void gc_begin(long gen)
{
	struct ls_thread *t;
	__u32 tid;

	t = busy_thread(&tid);
	if (!t)
		return;
	t->gc_start_ns = bpf_ktime_get_ns();
	t->gc_gen = gen < 0 ? 0 : gen >= LS_GC_GENS ? LS_GC_GENS - 1 : gen;
}

/* The collector runs no bytecode of the caller: the stack now is the one that triggered it. */
static __always_inline void gc_end(void)
{
	struct ls_py_events *ev;
	struct ls_stack *st;
	struct ls_thread *t;
	__u64 dur;
	__u32 tid, gen, n;

	t = busy_thread(&tid);
	if (!t || !t->gc_start_ns)
		return;
	dur = bpf_ktime_get_ns() - t->gc_start_ns;
	t->gc_start_ns = 0;
	gen = t->gc_gen;
	if (gen >= LS_GC_GENS)
		return;
	ev = &t->ev;
	ev->gc_ns += dur;
	ev->gc_count++;
	ev->gc_gen_ns[gen] += dur;
	ev->gc_gen_count[gen]++;
	t->gc_total_ns[gen] += dur;
	t->gc_total_count[gen]++;
	n = ev->nruns;
	if (n >= LS_MAX_GC_RUNS) {
		/* full: the longest collections are the ones worth listing */
		__u32 i, min = 0;

		for (i = 1; i < LS_MAX_GC_RUNS; i++)
			if (ev->runs[i].ns < ev->runs[min].ns)
				min = i;
		n = ev->runs[min].ns < dur ? min : LS_MAX_GC_RUNS;
	} else {
		ev->nruns = n + 1;
	}
	if (n < LS_MAX_GC_RUNS) {
		ev->runs[n].ns = dur;
		ev->runs[n].gen = gen;
	}
	if (dur <= ev->gc_stack_ns || dur < stack_min_ns)
		return;
	st = py_walk(bpf_get_current_task_btf(), tid, WALK_TASK);
	if (!st)
		return;
	bpf_probe_read_kernel(&t->gc_stack, sizeof(t->gc_stack), st);
	py_stack_taken(&stalls, tid, t->busy.start_ns, st, &counters.ringbuf_drops);
	ev->gc_stack_ns = dur;
	ev->gc_stack_gen = gen;
}

static __always_inline void import_begin(const char *name)
{
	struct ls_thread *t;
	__u32 tid;

	t = busy_thread(&tid);
	if (!t)
		return;
	if (t->imp_depth++)
		return;		/* nested: the outermost import is the one the user wrote */
	t->imp_start_ns = bpf_ktime_get_ns();
	bpf_probe_read_user_str(t->imp_name, sizeof(t->imp_name), name);
}

static __always_inline void import_end(void)
{
	struct ls_py_events *ev;
	struct ls_thread *t;
	__u32 tid, n, i, min = 0;
	__u64 dur;

	t = busy_thread(&tid);
	if (!t || !t->imp_depth || --t->imp_depth)
		return;
	dur = bpf_ktime_get_ns() - t->imp_start_ns;
	ev = &t->ev;
	ev->import_ns += dur;
	ev->import_count++;
	n = ev->nimports;
	if (n >= LS_MAX_IMPORTS) {
		/* full: replace the shortest if this one is longer */
		for (i = 1; i < LS_MAX_IMPORTS; i++)
			if (ev->imports[i].ns < ev->imports[min].ns)
				min = i;
		if (ev->imports[min].ns >= dur)
			return;
		n = min;
	} else {
		ev->nimports = n + 1;
	}
	n &= LS_MAX_IMPORTS - 1;
	ev->imports[n].ns = dur;
	__builtin_memcpy(ev->imports[n].name, t->imp_name, LS_MODNAME_LEN);
}

static __always_inline void audit_event(const char *name)
{
	struct ls_thread *t;
	__u32 tid;

	t = busy_thread(&tid);
	if (!t)
		return;
	t->audit_ns = bpf_ktime_get_ns();
	bpf_probe_read_user_str(t->audit, sizeof(t->audit), name);
}

SEC("usdt")
int BPF_USDT(ls_gc_start, int gen)
{
	gc_begin(gen);
	return 0;
}

SEC("usdt")
int BPF_USDT(ls_gc_done, long collected)
{
	gc_end();
	return 0;
}

SEC("usdt")
int BPF_USDT(ls_imp_start, const char *name)
{
	import_begin(name);
	return 0;
}

SEC("usdt")
int BPF_USDT(ls_imp_done, const char *name, int found)
{
	import_end();
	return 0;
}

SEC("usdt")
int BPF_USDT(ls_audit, const char *event, void *args)
{
	audit_event(event);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(ls_gc_enter)
{
	/* fixed-offset reads: the verifier refuses a context read at a computed offset */
	long a1 = PT_REGS_PARM1(ctx), a2 = PT_REGS_PARM2(ctx), a3 = PT_REGS_PARM3(ctx);
	int which = gc_gen_arg;

	barrier_var(which);
	gc_begin((int)(which == 1 ? a1 : which == 3 ? a3 : a2));
	return 0;
}

SEC("uretprobe")
int BPF_KRETPROBE(ls_gc_exit)
{
	gc_end();
	return 0;
}

#endif /* __PYPROBES_BPF_H */
