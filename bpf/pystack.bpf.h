/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The CPython stack walker: the algorithm of pyoffsets.h, for BPF. It knows no Python
 * version: everything comes from the offsets table userspace put in `pyoffs`. It must run in
 * the context of the thread it walks (bpf_probe_read_user reads current's memory).
 */
#ifndef __PYSTACK_BPF_H
#define __PYSTACK_BPF_H

#include "pyoffsets.h"

#define PY_THREAD_WALK PY_MAX_THREADS	/* bpf_loop: one verified step, any count */

/* one offsets table per watched process: slot 0 for a single target, targets[] otherwise */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, LS_MAX_TARGETS);
	__type(key, __u32);
	__type(value, struct py_offsets);
} pyoffs SEC(".maps");

/* The daemon's targets (targ_tgid == 0): which processes are watched, with their table. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, LS_MAX_TARGETS);
	__type(key, __u32);
	__type(value, struct ls_target);
} targets SEC(".maps");

const volatile __u32 targ_tgid = 0;	/* one target: a compare, not a map lookup */

/* host TID -> PyThreadState, checked on every use: TIDs are reused */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __u64);
} tstates SEC(".maps");

/*
 * A walk's output before it is copied where it belongs: too big for the BPF stack. Two slots:
 * the sampling timer can interrupt a walk at syscall exit on the same CPU.
 */
enum { WALK_TASK, WALK_IRQ };

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct ls_stack);
} walk_scratch SEC(".maps");

bool py_enabled = false;	/* set by userspace once pyoffs holds a process's table */

static __always_inline bool is_target(__u32 tgid)
{
	if (targ_tgid)
		return tgid == targ_tgid;
	return tgid && bpf_map_lookup_elem(&targets, &tgid);
}

static __always_inline const struct py_offsets *offsets_of(struct task_struct *task)
{
	struct ls_target *tg;
	__u32 slot = 0, tgid;

	if (!targ_tgid) {
		tgid = BPF_CORE_READ(task, tgid);
		tg = bpf_map_lookup_elem(&targets, &tgid);
		if (!tg || !tg->python)
			return NULL;
		slot = tg->slot;
	}
	return bpf_map_lookup_elem(&pyoffs, &slot);
}

static __always_inline __u64 read_u64(__u64 addr, bool *ok)
{
	__u64 v = 0;

	if (bpf_probe_read_user(&v, sizeof(v), (void *)addr))
		*ok = false;
	return v;
}

/* The TID as the target sees it: inside its own PID namespace (containers). */
static __always_inline __u32 ns_tid(struct task_struct *task)
{
	struct pid *pid = BPF_CORE_READ(task, thread_pid);
	unsigned int level = BPF_CORE_READ(pid, level);
	struct upid up = {};

	bpf_core_read(&up, sizeof(up), &pid->numbers[level & 31]);
	return up.nr;
}

static __always_inline __u64 thread_key(const struct py_offsets *o, struct task_struct *task)
{
	if (o->flags & PY_F_TID_PTHREAD) {
#ifdef __TARGET_ARCH_x86
		return BPF_CORE_READ(task, thread.fsbase);	/* == pthread_self() on glibc */
#else
		return 0;
#endif
	}
	return ns_tid(task);
}

struct ts_walk {
	const struct py_offsets *o;
	__u64 ts, want;
	bool found;
};

static long ts_step(__u32 i, void *arg)
{
	struct ts_walk *w = arg;
	bool ok = true;
	__u64 v;

	if (!w->ts)
		return 1;
	v = read_u64(w->ts + w->o->tstate_tid, &ok);
	if (ok && v == w->want) {
		w->found = true;
		return 1;
	}
	w->ts = read_u64(w->ts + w->o->tstate_next, &ok);
	return ok ? 0 : 1;
}

/* Find the PyThreadState of the current thread: cached, else a walk of the thread list. */
static __always_inline __u64 py_tstate(const struct py_offsets *o, struct task_struct *task,
				       __u32 tid)
{
	struct ts_walk w = { .o = o };
	__u64 *cached;
	bool ok = true;

	w.want = thread_key(o, task);
	if (!w.want)
		return 0;
	cached = bpf_map_lookup_elem(&tstates, &tid);
	if (cached && read_u64(*cached + o->tstate_tid, &ok) == w.want && ok)
		return *cached;
	w.ts = read_u64(o->interp_addr + o->interp_tstate_head, &ok);
	if (!ok)
		return 0;
	bpf_loop(PY_THREAD_WALK, ts_step, &w, 0);
	if (!w.found)
		return 0;
	bpf_map_update_elem(&tstates, &tid, &w.ts, BPF_ANY);
	return w.ts;
}

struct frame_walk {
	const struct py_offsets *o;
	struct ls_stack *st;
	__u64 ts, f;
};

static long frame_step(__u32 i, void *arg)
{
	struct frame_walk *w = arg;
	const struct py_offsets *o = w->o;
	struct ls_stack *st = w->st;
	__u64 f = w->f, code, gen = 0;
	bool ok = true;
	__u8 owner = 0;
	__s32 lasti = -1;
	__u32 n;

	if (!f || (o->tstate_base_frame != PY_OFF_NONE && f == w->ts + o->tstate_base_frame)) {
		st->flags |= PY_WALK_COMPLETE;
		return 1;
	}
	n = st->nr;
	if (n >= LS_MAX_FRAMES) {
		st->flags |= PY_WALK_TRUNCATED;
		return 1;
	}
	if (o->frame_owner != PY_OFF_NONE &&
	    bpf_probe_read_user(&owner, sizeof(owner), (void *)(f + o->frame_owner))) {
		st->flags |= PY_WALK_FAULT;
		return 1;
	}
	if (owner < o->owner_shim_min) {
		code = read_u64(f + o->frame_code, &ok) & o->code_mask;
		if (ok && code && read_u64(code + o->obj_type, &ok) == o->code_type && ok) {
			if (o->flags & PY_F_INSTR_PTR)
				lasti = (__s64)(read_u64(f + o->frame_instr, &ok) -
						(code + o->code_adaptive)) >> 1;
			else
				bpf_probe_read_user(&lasti, sizeof(lasti), (void *)(f + o->frame_instr));
			st->frames[n & (LS_MAX_FRAMES - 1)].code = code;
			st->frames[n & (LS_MAX_FRAMES - 1)].lasti = lasti;
			st->frames[n & (LS_MAX_FRAMES - 1)].flags =
				owner == o->owner_generator ? PY_FRAME_GENERATOR : 0;
			st->frames[n & (LS_MAX_FRAMES - 1)].ident =
				read_u64(code + o->code_filename, &ok);
			st->nr = n + 1;
		} else {
			st->flags |= PY_WALK_BAD_CODE;
		}
		if (o->frame_gen != PY_OFF_NONE)
			gen = read_u64(f + o->frame_gen, &ok);
		else if (owner == o->owner_generator)
			gen = f - o->gen_iframe;
		if (gen && read_u64(gen + o->obj_type, &ok) == o->coro_type && ok)
			st->coro = gen;
	}
	ok = true;
	w->f = read_u64(f + o->frame_previous, &ok);
	if (!ok) {
		st->flags |= PY_WALK_FAULT;
		return 1;
	}
	return 0;
}

/*
 * Walk the current thread's Python stack into the per-CPU scratch; returns it, or NULL when
 * this process has no readable interpreter (yet).
 */
static __always_inline struct ls_stack *py_walk(struct task_struct *task, __u32 tid,
						__u32 slot)
{
	struct frame_walk w = {};
	const struct py_offsets *o;
	struct ls_stack *st;
	bool ok = true;

	if (!py_enabled)
		return NULL;
	o = offsets_of(task);
	st = bpf_map_lookup_elem(&walk_scratch, &slot);
	if (!o || !st)
		return NULL;
	st->nr = 0;
	st->flags = 0;
	st->coro = 0;
	st->task = 0;
	w.o = o;
	w.st = st;
	w.ts = py_tstate(o, task, tid);
	if (!w.ts) {
		st->flags |= PY_WALK_FAULT;
		return st;
	}
	if (o->tstate_running_task != PY_OFF_NONE)
		st->task = read_u64(w.ts + o->tstate_running_task, &ok);
	ok = true;
	w.f = read_u64(w.ts + o->tstate_frame, &ok);
	if (ok && o->cframe_frame != PY_OFF_NONE && w.f)
		w.f = read_u64(w.f + o->cframe_frame, &ok);
	if (!ok) {
		st->flags |= PY_WALK_FAULT;
		return st;
	}
	if (bpf_loop(2 * LS_MAX_FRAMES + 2, frame_step, &w, 0) == 2 * LS_MAX_FRAMES + 2 &&
	    !(st->flags & (PY_WALK_COMPLETE | PY_WALK_FAULT)))
		st->flags |= PY_WALK_TRUNCATED;
	return st;
}

/*
 * Tell userspace about a stack as soon as it is taken (struct ls_sample, kind LS_EV_STACK):
 * a module's code object is freed as soon as its import finishes, long before the stall
 * record arrives. Only the long blocks and collections that get a stack pay for this.
 */
static __always_inline void py_stack_taken(void *ringbuf, __u32 tid, __u64 busy_start,
					   const struct ls_stack *st, __u64 *drops)
{
	struct ls_sample *rec;

	rec = bpf_ringbuf_reserve(ringbuf, sizeof(*rec), 0);
	if (!rec) {
		__sync_fetch_and_add(drops, 1);
		return;
	}
	rec->kind = LS_EV_STACK;
	rec->tid = tid;
	rec->tgid = bpf_get_current_pid_tgid() >> 32;
	rec->busy_start_ns = busy_start;
	bpf_probe_read_kernel(&rec->stack, sizeof(rec->stack), st);
	bpf_ringbuf_submit(rec, 0);
}

#endif /* __PYSTACK_BPF_H */
