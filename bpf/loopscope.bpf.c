// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Event-loop accounting for one target process, or for the daemon's set of them.
 *
 * A loop thread is one that waits in a selector (epoll_wait & co.). Its time alternates
 * between idle (parked in the selector) and busy (from the selector's return to its next
 * entry: callbacks running). Inside a busy period, sched_switch/sched_waking split the time
 * into on-CPU and off-CPU by reason. Everything is summed here; userspace gets one ring-buffer
 * record per stall and reads the per-thread counters every interval.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "loopscope.h"
#include "core_fixes.bpf.h"
#include "pystack.bpf.h"

#define TASK_RUNNING 0
#define S_IFMT 00170000
#define S_IFSOCK 0140000
#define S_IFREG 0100000
#define S_IFBLK 0060000
#define S_IFCHR 0020000
#define S_IFIFO 0010000
#define AF_UNIX 1
#define AF_INET 2
#define AF_INET6 10
#define SOCK_STREAM 1
#define SOCK_DGRAM 2

const volatile __u64 stall_ns = 100000000;
const volatile __u64 stack_min_ns = 10000000;	/* a syscall blocking this long gets a stack */
const volatile __u64 sample_after_ns = 0;	/* samples only once a busy period is this old */
const volatile bool poll_loops = false;	/* also treat poll/select waits as loop selectors */
const volatile __u8 sysclass[LS_MAX_SYSCALLS] = {};
const volatile struct ls_thread zero_thread = {};

__u64 epoch = 0;			/* bumped by userspace at each interval */
struct ls_counters counters = {};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, struct ls_thread);
} threads SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1024 * 1024);
} stalls SEC(".maps");

static __always_inline __u8 classify(long nr)
{
	if (nr < 0 || nr >= LS_MAX_SYSCALLS)
		return LS_SC_OTHER;
	return sysclass[nr];
}

static __always_inline struct file *fd_file(struct task_struct *task, int fd)
{
	struct file **fds, *f = NULL;
	struct fdtable *fdt;

	if (fd < 0)
		return NULL;
	fdt = BPF_CORE_READ(task, files, fdt);
	if (!fdt || fd >= BPF_CORE_READ(fdt, max_fds))
		return NULL;
	fds = BPF_CORE_READ(fdt, fd);
	if (bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]))
		__sync_fetch_and_add(&counters.fd_read_errors, 1);
	return f;
}

/* Fill in what the blocked-on fd is, and for inet sockets the peer. */
static __always_inline void fd_describe(struct task_struct *task, int fd, struct ls_block *b)
{
	struct file *f = fd_file(task, fd);
	struct socket *so;
	struct sock *sk;
	__u16 family;
	__u32 mode;

	b->fd_kind = LS_FD_NONE;
	if (!f)
		return;
	mode = BPF_CORE_READ(f, f_inode, i_mode) & S_IFMT;
	switch (mode) {
	case S_IFREG: b->fd_kind = LS_FD_FILE; return;
	case S_IFIFO: b->fd_kind = LS_FD_PIPE; return;
	case S_IFCHR: b->fd_kind = LS_FD_CHR; return;
	case S_IFBLK: b->fd_kind = LS_FD_BLK; return;
	case 0: b->fd_kind = LS_FD_ANON; return;	/* anon inodes: eventfd, epoll, ... */
	case S_IFSOCK: break;
	default: b->fd_kind = LS_FD_OTHER; return;
	}
	so = BPF_CORE_READ(f, private_data);
	sk = BPF_CORE_READ(so, sk);
	family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (family == AF_UNIX) {
		b->fd_kind = LS_FD_UNIX;
		return;
	}
	if (family != AF_INET && family != AF_INET6) {
		b->fd_kind = LS_FD_SOCK;
		return;
	}
	switch (BPF_CORE_READ(so, type)) {
	case SOCK_STREAM: b->fd_kind = LS_FD_TCP; break;
	case SOCK_DGRAM: b->fd_kind = LS_FD_UDP; break;
	default: b->fd_kind = LS_FD_SOCK; break;
	}
	b->family = family;
	b->port = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (family == AF_INET)
		BPF_CORE_READ_INTO(&b->peer, sk, __sk_common.skc_daddr);
	else
		BPF_CORE_READ_INTO(&b->peer, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr8);
}

static __always_inline __u32 log2_u64(__u64 v)
{
	__u32 r = 0, shift;

	shift = (v > 0xFFFFFFFF) << 5; v >>= shift; r |= shift;
	shift = (v > 0xFFFF) << 4; v >>= shift; r |= shift;
	shift = (v > 0xFF) << 3; v >>= shift; r |= shift;
	shift = (v > 0xF) << 2; v >>= shift; r |= shift;
	shift = (v > 0x3) << 1; v >>= shift; r |= shift;
	r |= (v >> 1);
	return r;
}

static __always_inline __u64 hist_bucket(__u64 ns)
{
	__u64 us = ns / 1000;
	__u32 p;

	if (us < 2 * LS_HIST_SUB)
		return us;
	p = log2_u64(us);
	if (p >= LS_HIST_POW)
		return LS_HIST_BUCKETS - 1;
	return 2 * LS_HIST_SUB + (p - LS_HIST_SUB_BITS - 1) * LS_HIST_SUB +
	       ((us >> (p - LS_HIST_SUB_BITS)) & (LS_HIST_SUB - 1));
}

static __always_inline void emit_stall(struct ls_thread *t, __u32 tid, __u64 now, __u64 dur)
{
	struct ls_stall *s;

	s = bpf_ringbuf_reserve(&stalls, sizeof(*s), 0);
	if (!s) {
		__sync_fetch_and_add(&counters.ringbuf_drops, 1);
		return;
	}
	s->kind = LS_EV_STALL;
	s->tid = tid;
	s->tgid = t->tgid;
	s->end_ns = now;
	s->dur_ns = dur;
	bpf_probe_read_kernel(&s->busy, sizeof(s->busy), &t->busy);
	s->stack_ns = t->stack_ns;
	s->stack_syscall = t->stack_syscall;
	s->stack_reason = t->stack_reason;
	bpf_probe_read_kernel(&s->stack, sizeof(s->stack), &t->stack);
	bpf_probe_read_kernel(&s->ev, sizeof(s->ev), &t->ev);
	if (t->ev.gc_stack_ns)
		bpf_probe_read_kernel(&s->gc_stack, sizeof(s->gc_stack), &t->gc_stack);
	else
		s->gc_stack.nr = 0;
	bpf_ringbuf_submit(s, 0);
}

/* The loop is about to wait again: the busy period that started at its last return ends. */
static __always_inline void busy_end(struct ls_thread *t, __u32 tid, __u64 now)
{
	__u64 dur, b, e = epoch;

	if (t->started && !t->in_selector) {
		dur = now - t->busy.start_ns;
		t->iterations++;
		t->busy_ns += dur;
		b = hist_bucket(dur);
		if (b < LS_HIST_BUCKETS)
			t->hist[b]++;
		if (t->max_epoch != e) {
			t->max_epoch = e;
			t->max_busy_ns = dur;
		} else if (dur > t->max_busy_ns) {
			t->max_busy_ns = dur;
		}
		if (dur >= stall_ns) {
			t->stalls++;
			emit_stall(t, tid, now, dur);
		}
	}
	t->in_selector = 1;
	t->sel_enter_ns = now;
	t->sys_nr = -1;
}

/*
 * Is this selector call the thread's loop waiting for events, or a blocking call nested in a
 * callback (a sync client's own poll, a socket timeout)? An epoll loop keeps its epoll file
 * for its whole life, so a different epoll fd is the loop only once the old one is closed.
 */
static __always_inline bool is_loop_wait(struct ls_thread *t, __u8 cls, __s32 arg0,
					 struct task_struct *task)
{
	if (cls == LS_SC_EPOLL) {
		if (t->loop_kind == LS_SC_EPOLL && arg0 == t->loop_fd)
			return true;
		if (t->loop_kind == LS_SC_EPOLL && t->loop_file &&
		    fd_file(task, t->loop_fd) == (struct file *)t->loop_file)
			return false;
		t->loop_kind = LS_SC_EPOLL;
		t->loop_fd = arg0;
		t->loop_file = (__u64)fd_file(task, arg0);
		return true;
	}
	if (!poll_loops || t->loop_kind == LS_SC_EPOLL || arg0 == 0)
		return false;
	t->loop_kind = cls;
	return true;
}

static __always_inline struct ls_thread *thread_get(__u32 tid, bool create)
{
	struct ls_thread *t = bpf_map_lookup_elem(&threads, &tid);

	if (t || !create)
		return t;
	if (bpf_map_update_elem(&threads, &tid, (void *)&zero_thread, BPF_NOEXIST) &&
	    !bpf_map_lookup_elem(&threads, &tid)) {
		__sync_fetch_and_add(&counters.thread_map_full, 1);
		return NULL;
	}
	t = bpf_map_lookup_elem(&threads, &tid);
	if (t) {
		t->tgid = bpf_get_current_pid_tgid() >> 32;
		t->sys_nr = -1;
		t->loop_fd = -1;
	}
	return t;
}

static __always_inline int on_sys_enter(struct pt_regs *regs, long id)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)pid_tgid;
	struct task_struct *task;
	struct pollfd pfd = {};
	struct ls_thread *t;
	__u8 cls;
	__s64 arg0;

	if (!is_target(pid_tgid >> 32))
		return 0;
	cls = classify(id);
	t = thread_get(tid, cls == LS_SC_EPOLL || (poll_loops && cls >= LS_SC_POLL));
	if (!t)
		return 0;
	arg0 = PT_REGS_PARM1_CORE_SYSCALL(regs);
	task = bpf_get_current_task_btf();
	if (cls >= LS_SC_EPOLL && is_loop_wait(t, cls, arg0, task)) {
		busy_end(t, tid, bpf_ktime_get_ns());
		return 0;
	}
	t->sys_nr = id;
	t->sys_arg = arg0;
	t->sys_fd = -1;
	t->sys_off_mark = t->busy.offcpu_ns;
	switch (cls) {
	case LS_SC_FD_IO:
	case LS_SC_EPOLL:
		t->sys_fd = arg0;
		break;
	case LS_SC_LOCK:
		if (BPF_CORE_READ(task, files, fdt, max_fds) > arg0)
			t->sys_fd = arg0;	/* flock/fcntl; a futex address is never that small */
		break;
	case LS_SC_POLL:
		if (PT_REGS_PARM2_CORE_SYSCALL(regs) > 0 &&
		    !bpf_probe_read_user(&pfd, sizeof(pfd), (void *)arg0))
			t->sys_fd = pfd.fd;
		break;
	case LS_SC_SELECT:
		t->sys_fd = arg0 - 1;	/* the highest fd: usually the only one */
		break;
	}
	return 0;
}

/*
 * The Python stack of a syscall that blocked, taken as it returns: the thread has not run a
 * single bytecode since it blocked, so this is the stack at the moment it blocked, and only
 * syscalls that really blocked pay for a walk.
 */
static __always_inline void stack_at_exit(struct ls_thread *t, __u32 tid, __u64 now)
{
	__u64 blocked = t->busy.offcpu_ns - t->sys_off_mark;
	struct ls_stack *st;

	if (!blocked || !py_enabled || blocked <= t->stack_ns)
		return;
	/* the longest block; or the first one once the period nears a stall */
	if (blocked < stack_min_ns && (t->stack_ns || now - t->busy.start_ns < stall_ns / 2))
		return;
	st = py_walk(bpf_get_current_task_btf(), tid, WALK_TASK);
	if (!st)
		return;
	if (st->flags & PY_WALK_FAULT)
		__sync_fetch_and_add(&counters.stack_faults, 1);
	bpf_probe_read_kernel(&t->stack, sizeof(t->stack), st);
	py_stack_taken(&stalls, tid, t->busy.start_ns, st, &counters.ringbuf_drops);
	t->stack_ns = blocked;
	t->stack_syscall = t->sys_nr;
	t->stack_reason = t->cur_reason;
}

static __always_inline int on_sys_exit(void)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)pid_tgid;
	struct ls_thread *t;
	__u64 now;

	if (!is_target(pid_tgid >> 32))
		return 0;
	t = bpf_map_lookup_elem(&threads, &tid);
	if (!t)
		return 0;
	now = bpf_ktime_get_ns();
	if (!t->in_selector) {
		if (t->started && t->sys_nr >= 0)
			stack_at_exit(t, tid, now);
		t->sys_nr = -1;
		return 0;
	}
	t->sys_nr = -1;
	if (t->sel_enter_ns && now > t->sel_enter_ns)
		t->idle_ns += now - t->sel_enter_ns;
	t->in_selector = 0;
	t->started = 1;
	__builtin_memset(&t->busy, 0, sizeof(t->busy));
	t->busy.start_ns = now;
	t->stack_ns = 0;
	t->stack.nr = 0;
	t->stack.flags = 0;
	__builtin_memset(&t->ev, 0, __builtin_offsetof(struct ls_py_events, runs));
	t->gc_start_ns = 0;
	t->imp_depth = 0;
	t->hint_key = 0;
	return 0;
}

static __always_inline __u8 reason_of(struct ls_thread *t, struct ls_block *b)
{
	__u8 cls = classify(t->sys_nr);

	if (t->sys_nr < 0)
		return LS_R_FAULT;
	if ((cls == LS_SC_POLL || cls == LS_SC_SELECT) && t->sys_fd < 0)
		return LS_R_SLEEP;	/* poll/select on no fds: a sleep (time.sleep <= 3.10) */
	switch (cls) {
	case LS_SC_SLEEP:
		return LS_R_SLEEP;
	case LS_SC_DISK:
		return LS_R_DISK;
	case LS_SC_LOCK:
		return LS_R_LOCK;
	case LS_SC_FD_IO:
	case LS_SC_POLL:
	case LS_SC_SELECT:
		switch (b->fd_kind) {
		case LS_FD_TCP:
		case LS_FD_UDP:
		case LS_FD_UNIX:
		case LS_FD_SOCK:
			return LS_R_NET;
		case LS_FD_FILE:
		case LS_FD_BLK:
			return LS_R_DISK;
		}
	}
	return LS_R_SYSCALL;
}

/*
 * Blocking: the asyncio task that blocks is alive now, but may be gone microseconds after
 * the block ends. Tell userspace while it can still read the task's name; once per task
 * per busy period.
 */
static __always_inline void announce_task(struct ls_thread *t, struct task_struct *prev,
					  __u32 tid)
{
	struct ls_stack *st;
	__u64 key;

	if (!py_enabled)
		return;
	st = py_walk(prev, tid, WALK_TASK);
	if (!st)
		return;
	key = st->task ?: st->coro;
	if (!key || key == t->hint_key)
		return;
	t->hint_key = key;
	py_stack_taken(&stalls, tid, t->busy.start_ns, st, &counters.ringbuf_drops);
}

static __always_inline void switch_out(struct task_struct *prev, bool preempt)
{
	__u32 tid = BPF_CORE_READ(prev, pid);
	struct ls_thread *t = bpf_map_lookup_elem(&threads, &tid);
	__u64 now;

	if (!t || !t->started || t->in_selector)
		return;
	now = bpf_ktime_get_ns();
	t->out_ns = now;
	t->wake_ns = 0;
	__builtin_memset(&t->cur, 0, sizeof(t->cur));
	t->cur.syscall = t->sys_nr;
	t->cur.fd = t->sys_fd;
	if (preempt || get_task_state(prev) == TASK_RUNNING) {
		t->cur_reason = LS_R_PREEMPT;
		t->wake_ns = now;
		return;
	}
	if (t->audit_ns >= t->busy.start_ns)
		__builtin_memcpy(t->cur.audit, t->audit, LS_AUDIT_LEN);
	if (t->sys_fd >= 0)
		fd_describe(prev, t->sys_fd, &t->cur);
	if (classify(t->sys_nr) == LS_SC_LOCK && t->sys_fd < 0)
		t->cur.addr = t->sys_arg;
	t->cur_reason = reason_of(t, &t->cur);
	announce_task(t, prev, tid);
}

static __always_inline void charge(struct ls_thread *t, __u8 reason, __u64 ns, bool with_block)
{
	struct ls_reason_acc *acc;

	if (reason >= LS_NR_REASONS)
		return;
	acc = &t->busy.r[reason];
	acc->ns += ns;
	acc->count++;
	t->busy.offcpu_ns += ns;
	if (ns > acc->top.ns) {
		if (with_block)
			acc->top = t->cur;
		else
			__builtin_memset(&acc->top, 0, sizeof(acc->top));
		acc->top.ns = ns;
		if (!with_block)
			acc->top.syscall = -1;
	}
}

/* Back on CPU: the time since switch-out was blocked (until woken) then runnable. */
static __always_inline void switch_in(struct task_struct *next)
{
	__u32 tid = BPF_CORE_READ(next, pid);
	struct ls_thread *t = bpf_map_lookup_elem(&threads, &tid);
	__u64 now, wake;

	if (!t || !t->out_ns)
		return;
	now = bpf_ktime_get_ns();
	wake = t->wake_ns;
	if (wake < t->out_ns || wake > now)
		wake = now;
	t->busy.switches++;
	if (t->cur_reason == LS_R_PREEMPT) {
		charge(t, LS_R_PREEMPT, now - t->out_ns, true);
	} else {
		charge(t, t->cur_reason, wake - t->out_ns, true);
		if (now > wake)
			charge(t, LS_R_PREEMPT, now - wake, false);
	}
	t->out_ns = 0;
}

static __always_inline int on_switch(bool preempt, struct task_struct *prev,
				     struct task_struct *next)
{
	if (is_target(BPF_CORE_READ(prev, tgid)))
		switch_out(prev, preempt);
	if (is_target(BPF_CORE_READ(next, tgid)))
		switch_in(next);
	return 0;
}

static __always_inline int on_waking(struct task_struct *p)
{
	struct ls_thread *t;
	__u32 tid;

	if (!is_target(BPF_CORE_READ(p, tgid)))
		return 0;
	tid = BPF_CORE_READ(p, pid);
	t = bpf_map_lookup_elem(&threads, &tid);
	if (!t || !t->out_ns || t->wake_ns)
		return 0;
	t->wake_ns = bpf_ktime_get_ns();
	t->cur.waker_tid = (__u32)bpf_get_current_pid_tgid();
	bpf_get_current_comm(t->cur.waker_comm, sizeof(t->cur.waker_comm));
	return 0;
}

static __always_inline int on_exit(struct task_struct *p)
{
	struct ls_thread *t;
	struct ls_exit *e;
	__u32 tid;

	if (!is_target(BPF_CORE_READ(p, tgid)))
		return 0;
	tid = BPF_CORE_READ(p, pid);
	t = bpf_map_lookup_elem(&threads, &tid);
	if (!t)
		return 0;
	e = bpf_ringbuf_reserve(&stalls, sizeof(*e), 0);
	if (e) {
		e->kind = LS_EV_EXIT;
		e->tid = tid;
		bpf_probe_read_kernel(&e->t, sizeof(e->t), t);
		bpf_ringbuf_submit(e, 0);
	} else {
		__sync_fetch_and_add(&counters.ringbuf_drops, 1);
	}
	bpf_map_delete_elem(&threads, &tid);
	bpf_map_delete_elem(&tstates, &tid);
	return 0;
}

/* On-CPU sampling: only loop threads inside a busy period are walked. */
SEC("perf_event")
int ls_sample(void *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)pid_tgid;
	struct ls_sample *rec;
	struct ls_stack *st;
	struct ls_thread *t;

	if (!is_target(pid_tgid >> 32))
		return 0;
	t = bpf_map_lookup_elem(&threads, &tid);
	if (!t || !t->started || t->in_selector)
		return 0;
	/* a busy server's periods last microseconds: only those that may become stalls pay */
	if (bpf_ktime_get_ns() - t->busy.start_ns < sample_after_ns)
		return 0;
	st = py_walk(bpf_get_current_task_btf(), tid, WALK_IRQ);
	if (!st)
		return 0;
	rec = bpf_ringbuf_reserve(&stalls, sizeof(*rec), 0);
	if (!rec) {
		__sync_fetch_and_add(&counters.ringbuf_drops, 1);
		return 0;
	}
	rec->kind = LS_EV_SAMPLE;
	rec->tid = tid;
	rec->tgid = pid_tgid >> 32;
	rec->busy_start_ns = t->busy.start_ns;
	bpf_probe_read_kernel(&rec->stack, sizeof(rec->stack), st);
	bpf_ringbuf_submit(rec, 0);
	__sync_fetch_and_add(&counters.samples, 1);
	return 0;
}

/* BTF-typed tracepoints (5.5+); the raw_tp twins below serve kernels without them. */
SEC("tp_btf/sys_enter")
int BPF_PROG(ls_enter_btf, struct pt_regs *regs, long id)
{
	return on_sys_enter(regs, id);
}

SEC("tp_btf/sys_exit")
int BPF_PROG(ls_exit_btf, struct pt_regs *regs, long ret)
{
	return on_sys_exit();
}

SEC("tp_btf/sched_switch")
int BPF_PROG(ls_switch_btf, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	return on_switch(preempt, prev, next);
}

SEC("tp_btf/sched_waking")
int BPF_PROG(ls_waking_btf, struct task_struct *p)
{
	return on_waking(p);
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(ls_pexit_btf, struct task_struct *p)
{
	return on_exit(p);
}

/* exec replaces the image: whatever loop the thread ran is gone, as if it had exited */
SEC("tp_btf/sched_process_exec")
int BPF_PROG(ls_exec_btf, struct task_struct *p)
{
	return on_exit(p);
}

SEC("raw_tp/sys_enter")
int BPF_PROG(ls_enter_raw, struct pt_regs *regs, long id)
{
	return on_sys_enter(regs, id);
}

SEC("raw_tp/sys_exit")
int BPF_PROG(ls_exit_raw, struct pt_regs *regs, long ret)
{
	return on_sys_exit();
}

SEC("raw_tp/sched_switch")
int BPF_PROG(ls_switch_raw, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	return on_switch(preempt, prev, next);
}

SEC("raw_tp/sched_waking")
int BPF_PROG(ls_waking_raw, struct task_struct *p)
{
	return on_waking(p);
}

SEC("raw_tp/sched_process_exit")
int BPF_PROG(ls_pexit_raw, struct task_struct *p)
{
	return on_exit(p);
}

#include "pyprobes.bpf.h"

SEC("raw_tp/sched_process_exec")
int BPF_PROG(ls_exec_raw, struct task_struct *p)
{
	return on_exit(p);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
