/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Types shared by loopscope.bpf.c and userspace. Fixed-width types only: this header is
 * included after vmlinux.h on the BPF side and after <linux/types.h> in userspace.
 */
#ifndef __LOOPSCOPE_H
#define __LOOPSCOPE_H

#include "pyoffsets.h"

#define LS_MAX_SYSCALLS 512	/* size of the syscall classification table */
#define LS_MAX_TARGETS 256	/* processes one daemon watches at once */
#define LS_COMM_LEN 16

/*
 * Iteration-time histogram: log-linear buckets over microseconds, 8 sub-buckets per power of
 * two (at most 12.5% relative error), the first 16 buckets exact. 27 powers reach ~134 s.
 */
#define LS_HIST_SUB_BITS 3
#define LS_HIST_SUB (1 << LS_HIST_SUB_BITS)
#define LS_HIST_POW 27
#define LS_HIST_BUCKETS (2 * LS_HIST_SUB + (LS_HIST_POW - LS_HIST_SUB_BITS - 1) * LS_HIST_SUB)

/* What a syscall means to the loop; set per syscall number by userspace (user/syscalls.c). */
enum ls_sysclass {
	LS_SC_OTHER = 0,
	LS_SC_SLEEP,		/* nanosleep, clock_nanosleep */
	LS_SC_FD_IO,		/* read/write/send/recv...: the reason follows the fd's kind */
	LS_SC_DISK,		/* path-based file system calls: openat, stat, unlink, fsync... */
	LS_SC_LOCK,		/* futex, flock */
	LS_SC_EPOLL,		/* epoll_wait, epoll_pwait, epoll_pwait2: arg0 is the epoll fd */
	LS_SC_POLL,		/* poll, ppoll: arg0 points at struct pollfd[] */
	LS_SC_SELECT,		/* select, pselect6: arg0 is nfds */
};

/* Why a loop thread was off-CPU during a busy period. */
enum ls_reason {
	LS_R_SLEEP = 0,
	LS_R_NET,
	LS_R_DISK,
	LS_R_LOCK,
	LS_R_SYSCALL,		/* blocked in some other syscall (pipes, waits, nested selectors) */
	LS_R_FAULT,		/* blocked outside any syscall: a page fault */
	LS_R_PREEMPT,		/* runnable but not running: preempted or waiting for a CPU */
	LS_NR_REASONS,
};

enum ls_fdkind {
	LS_FD_NONE = 0,
	LS_FD_TCP,
	LS_FD_UDP,
	LS_FD_UNIX,
	LS_FD_SOCK,		/* any other socket */
	LS_FD_FILE,		/* regular file */
	LS_FD_PIPE,
	LS_FD_CHR,
	LS_FD_BLK,
	LS_FD_ANON,		/* eventfd, epoll, timerfd, ... */
	LS_FD_OTHER,
	LS_NR_FDKINDS,
};

#define LS_MAX_FRAMES 64	/* power of two: indexes are masked for the verifier */

/* A Python stack as the BPF walker saw it, innermost frame first. */
struct ls_stack {
	__u64 coro;		/* outermost coroutine: the running task's coroutine (<= 3.13) */
	__u64 task;		/* the running asyncio task, where the interpreter says (3.14+) */
	__u32 nr;
	__u32 flags;		/* PY_WALK_* */
	struct py_raw_frame frames[LS_MAX_FRAMES];
};

/* One off-CPU episode: the longest of its reason is kept per busy period. */
#define LS_AUDIT_LEN 32
struct ls_block {
	__u64 ns;
	__u64 addr;		/* futex word, if the syscall was a futex */
	__s32 syscall;		/* -1 outside a syscall */
	__s32 fd;		/* -1 if the syscall has no fd */
	__u32 waker_tid;	/* who woke the thread (0 if unknown) */
	__u8 fd_kind;		/* enum ls_fdkind */
	__u8 family;		/* AF_INET/AF_INET6 for peer below, else 0 */
	__u16 port;		/* peer port, host order */
	__u8 peer[16];		/* peer address (IPv4 in the first 4 bytes) */
	char waker_comm[LS_COMM_LEN];
	char audit[LS_AUDIT_LEN];	/* CPython audit event just before it blocked (--audit) */
};

#define LS_GC_GENS 3
#define LS_MAX_GC_RUNS 8
#define LS_MAX_IMPORTS 4
#define LS_MODNAME_LEN 56

struct ls_gc_run {
	__u64 ns;
	__u32 gen;
	__u32 pad;
};

struct ls_import {
	__u64 ns;
	char name[LS_MODNAME_LEN];
};

/* What the interpreter's own probes saw during one busy period (GC, imports). */
struct ls_py_events {
	__u64 gc_ns;
	__u32 gc_count;
	__u32 nruns;			/* collections in runs[] */
	__u64 gc_gen_ns[LS_GC_GENS];
	__u32 gc_gen_count[LS_GC_GENS];
	__u32 gc_stack_gen;		/* generation of the collection whose stack is kept */
	__u64 gc_stack_ns;		/* and its length */
	__u64 import_ns;
	__u32 import_count;
	__u32 nimports;			/* longest imports in imports[] */
	/* arrays last: a new busy period clears only what is above */
	struct ls_gc_run runs[LS_MAX_GC_RUNS];
	struct ls_import imports[LS_MAX_IMPORTS];
};

struct ls_reason_acc {
	__u64 ns;		/* total off-CPU time for this reason */
	__u32 count;		/* episodes */
	__u32 pad;
	struct ls_block top;	/* the longest episode */
};

/* A busy period: from the loop's selector returning to its next selector wait. */
struct ls_busy {
	__u64 start_ns;		/* bpf_ktime_get_ns() at the selector's return */
	__u64 offcpu_ns;	/* sum over reasons */
	__u32 switches;		/* times switched out */
	__u32 pad;
	struct ls_reason_acc r[LS_NR_REASONS];
};

enum ls_event_kind {
	LS_EV_STALL = 1,
	LS_EV_EXIT,
	LS_EV_SAMPLE,
	LS_EV_STACK,		/* a stack just taken: symbolize it while its code objects live */
};

/* A watched process (daemon mode): which pyoffs slot holds its interpreter's table. */
struct ls_target {
	__u32 slot;
	__u32 python;		/* the slot is filled: stacks can be walked */
};

/* Ring-buffer record: one per stall (busy period >= the threshold). */
struct ls_stall {
	__u32 kind;		/* LS_EV_STALL */
	__u32 tid;
	__u32 tgid;
	__u32 pad;
	__u64 end_ns;
	__u64 dur_ns;
	struct ls_busy busy;
	__u64 stack_ns;		/* how long the syscall whose stack this is blocked */
	__s32 stack_syscall;
	__u32 stack_reason;
	struct ls_stack stack;	/* where the loop thread was when it blocked longest */
	struct ls_py_events ev;
	struct ls_stack gc_stack;	/* the Python code that triggered the longest collection */
};

/* Ring-buffer record: an on-CPU sample of a loop thread inside a busy period. */
struct ls_sample {
	__u32 kind;		/* LS_EV_SAMPLE */
	__u32 tid;
	__u32 tgid;
	__u32 pad;
	__u64 busy_start_ns;	/* which busy period: matches its stall's busy.start_ns */
	struct ls_stack stack;
};

/*
 * Per loop thread, in the `threads` hash keyed by host TID. Created at the thread's first
 * selector syscall: only threads that wait in a selector are event-loop threads.
 */
struct ls_thread {
	/* which selector is this thread's loop */
	__u64 loop_file;	/* struct file * of the loop's epoll instance, 0 for poll/select */
	__s32 loop_fd;
	__u8 loop_kind;		/* LS_SC_EPOLL/POLL/SELECT */
	__u8 in_selector;	/* parked in the loop's selector: idle */
	__u8 started;		/* a selector return was seen: busy periods are measurable */
	__u8 pad0;
	__u32 tgid;		/* the process: the daemon watches several */
	__u32 pad2;

	/* the syscall in flight, for the reason at switch-out */
	__s32 sys_nr;		/* -1 when not in a syscall */
	__s32 sys_fd;
	__u64 sys_arg;

	/* the off-CPU episode in progress */
	__u64 out_ns;		/* switch-out time, 0 when on CPU or idle */
	__u64 wake_ns;		/* wakeup time, 0 until woken */
	struct ls_block cur;
	__u8 cur_reason;
	__u8 pad1[7];

	__u64 sel_enter_ns;
	struct ls_busy busy;

	/* the stack of the longest-blocking syscall of this busy period */
	__u64 sys_off_mark;	/* busy.offcpu_ns at the syscall's entry */
	__u64 stack_ns;
	__s32 stack_syscall;
	__u32 stack_reason;
	struct ls_stack stack;

	/* interpreter probes (USDT or uprobes) */
	struct ls_py_events ev;
	struct ls_stack gc_stack;
	__u64 gc_start_ns;
	__u32 gc_gen;
	__u32 imp_depth;
	__u64 imp_start_ns;
	char imp_name[LS_MODNAME_LEN];
	__u64 audit_ns;
	char audit[LS_AUDIT_LEN];
	__u64 hint_key;		/* task (or coroutine) last announced in this busy period */

	/* cumulative, read by userspace every interval */
	__u64 iterations;
	__u64 busy_ns;
	__u64 idle_ns;
	__u64 stalls;
	__u64 max_busy_ns;	/* largest busy period in epoch max_epoch */
	__u64 max_epoch;
	__u64 gc_total_ns[LS_GC_GENS];
	__u64 gc_total_count[LS_GC_GENS];
	__u64 hist[LS_HIST_BUCKETS];
};

/* Ring-buffer record: a loop thread exited; its last counters, before its entry goes. */
struct ls_exit {
	__u32 kind;		/* LS_EV_EXIT */
	__u32 tid;
	struct ls_thread t;
};

/* Counters in .bss, read by userspace at exit and in metrics. */
struct ls_counters {
	__u64 ringbuf_drops;
	__u64 thread_map_full;
	__u64 fd_read_errors;
	__u64 stack_faults;	/* Python stack walks cut short by a failed read */
	__u64 samples;		/* on-CPU samples taken */
};

#endif /* __LOOPSCOPE_H */
