/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The CPython offsets table: everything a stack walker outside the interpreter needs, flattened
 * so that one walker serves CPython 3.8 to 3.15 without knowing which one it reads. Userspace
 * (user/py/, the only code that knows Python versions) fills it per process; BPF code reads it
 * from a map. Fixed-width types only: included after vmlinux.h by BPF code and after
 * <linux/types.h> by userspace.
 *
 * All reads below are reads of the target's memory (bpf_probe_read_user / process_vm_readv)
 * and may fail or return torn data: a failed read of the frame chain ends the walk
 * (PY_WALK_FAULT), and a code object is trusted only after its type check. "u64 at X" means an
 * 8-byte read at target address X. The user/py/pywalk.c walker is the reference
 * implementation of this algorithm, step for step.
 *
 * Thread -> PyThreadState (bounded list walk; the result may be cached per TID):
 *   1. interp = interp_addr (or u64 at runtime_addr + runtime_interp_head, identical once
 *      the interpreter is initialised: the main interpreter never moves).
 *   2. ts = u64 at interp + interp_tstate_head; repeat while ts != 0, at most
 *      PY_MAX_THREADS times: ts = u64 at ts + tstate_next.
 *   3. Match on the u64 at ts + tstate_tid:
 *      - flags & PY_F_TID_PTHREAD clear: it is the thread's TID in the target's PID namespace
 *        (bpf_get_ns_current_pid_tgid(), or NSpid from /proc/PID/task/TID/status);
 *      - flags & PY_F_TID_PTHREAD set: it is pthread_self(), which on x86_64 glibc equals the
 *        task's fsbase (task->thread.fsbase). Without fsbase (userspace), the TID is the u32
 *        at that value + pthread_tid (glibc struct pthread, calibrated per process; pthread_tid
 *        is PY_OFF_NONE when calibration failed).
 *
 * PyThreadState -> frames (at most max frames, at most 2 * max + 2 loop steps):
 *   1. f = u64 at ts + tstate_frame; if cframe_frame != PY_OFF_NONE, tstate_frame pointed at
 *      a C frame record: f = f ? u64 at f + cframe_frame : 0.
 *   2. Stop (PY_WALK_COMPLETE) when f == 0, or when tstate_base_frame != PY_OFF_NONE and
 *      f == ts + tstate_base_frame (the sentinel frame embedded in the thread state). Stop
 *      (PY_WALK_TRUNCATED) when max frames were emitted or the step budget is spent.
 *   3. owner = frame_owner == PY_OFF_NONE ? 0 : u8 at f + frame_owner.
 *      If owner >= owner_shim_min, f is a C-entry shim with no Python code: skip to step 7.
 *   4. code = (u64 at f + frame_code) & code_mask (clears stack-ref tag bits). The code object
 *      is valid only if code != 0 and u64 at code + obj_type == code_type; otherwise skip the
 *      frame (PY_WALK_BAD_CODE) and go to step 7.
 *   5. lasti: if flags & PY_F_INSTR_PTR, ip = u64 at f + frame_instr and
 *      lasti = (s64)(ip - (code + code_adaptive)) >> 1 (arithmetic shift); else lasti = s32 at
 *      f + frame_instr. Values outside [-1, 2^31) are garbage from a torn read: use -1.
 *      The unit is a byte offset when flags & PY_F_LASTI_BYTES, else a 16-bit code unit
 *      index; -1 means "not started yet" (the symbolizer reports the first line). Emit
 *      {code, lasti}.
 *   6. Coroutine attribution: gen = frame_gen != PY_OFF_NONE ? u64 at f + frame_gen :
 *      owner == owner_generator ? f - gen_iframe : 0. If gen != 0 and u64 at gen + obj_type ==
 *      coro_type, remember coro = gen. After the walk, coro is the outermost coroutine on the
 *      stack: the running asyncio task's task->task_coro.
 *   7. f = u64 at f + frame_previous; go to step 2.
 *
 * Symbolisation is left to userspace (user/py/pysym.c): it needs (code, lasti) and reads the
 * code object's names and line table, using code_firstlineno/code_filename as an identity check
 * because a code object's address can be reused after it is freed.
 *
 * Running asyncio task (3.14+): when tstate_running_task != PY_OFF_NONE, the u64 at ts +
 * tstate_running_task is the _asyncio.Task the thread is stepping right now (0 between steps).
 * It lives in _PyThreadStateImpl after PyThreadState, so the offset comes from _asyncio's
 * AsyncioDebug section (it moves within a minor release); without that section, or before
 * 3.14 (where the task is found from the outermost coroutine, step 6), it is PY_OFF_NONE.
 *
 * GIL: a futex wait whose address lies in [gil_addr, gil_addr + gil_size) is a wait for the GIL
 * of the main interpreter (its mutex or condition variables). The u64 at gil_addr +
 * gil_last_holder is the PyThreadState that held it last; the int at gil_addr + gil_locked is
 * non-zero while it is held.
 */
#ifndef __PYOFFSETS_H
#define __PYOFFSETS_H

#define PY_OFF_NONE		0xffff	/* this field does not exist in this interpreter */
#define PY_OWNER_NONE		0xff	/* owner_shim_min / owner_generator: never matches */
#define PY_MAX_THREADS		4096	/* bound on the thread list walk */

/* struct py_offsets.flags */
#define PY_F_TID_PTHREAD	(1U << 0)	/* tstate_tid holds pthread_self(), not a TID */
#define PY_F_INSTR_PTR		(1U << 1)	/* frame_instr is a pointer into the bytecode */
#define PY_F_LASTI_BYTES	(1U << 2)	/* lasti counts bytes, not 2-byte code units */

struct py_offsets {
	/* absolute addresses in the target, resolved by userspace */
	__u64 runtime_addr;		/* &_PyRuntime */
	__u64 interp_addr;		/* main PyInterpreterState */
	__u64 code_type;		/* &PyCode_Type */
	__u64 coro_type;		/* &PyCoro_Type */
	__u64 gil_addr;			/* the main interpreter's struct _gil_runtime_state */
	__u64 code_mask;		/* AND-ed into frame_code values: ~0 or ~tag bits */

	__u32 flags;			/* PY_F_* */
	__u32 gil_size;			/* bytes at gil_addr; 0 if unknown */

	/* interpreter and thread list */
	__u16 runtime_interp_head;	/* _PyRuntime.interpreters.head */
	__u16 interp_next;		/* PyInterpreterState.next (sub-interpreters) */
	__u16 interp_tstate_head;	/* PyInterpreterState.threads.head */
	__u16 tstate_next;
	__u16 tstate_interp;		/* back pointer, for validation */
	__u16 tstate_tid;		/* what to match a thread on, see PY_F_TID_PTHREAD */
	__u16 tstate_thread_id;		/* pthread_self() of the thread, every version */
	__u16 pthread_tid;		/* TID inside glibc's struct pthread, or PY_OFF_NONE */

	/* where a thread's frame chain starts and ends */
	__u16 tstate_frame;		/* top frame pointer, or C frame record pointer */
	__u16 cframe_frame;		/* current frame inside the C frame record, or NONE */
	__u16 tstate_base_frame;	/* embedded end-of-chain frame, or NONE */

	/* frames */
	__u16 frame_previous;		/* caller's frame */
	__u16 frame_code;		/* code object (possibly tagged, see code_mask) */
	__u16 frame_instr;		/* instruction: pointer or s32, see PY_F_INSTR_PTR */
	__u16 frame_owner;		/* u8 owner kind, or NONE */
	__u16 frame_gen;		/* pointer to the owning generator, or NONE */
	__u16 gen_iframe;		/* embedded frame: generator = frame - gen_iframe */

	/* objects */
	__u16 obj_type;			/* PyObject.ob_type */
	__u16 code_adaptive;		/* inline bytecode inside the code object */
	__u16 code_firstlineno;		/* int */
	__u16 code_filename;		/* str object pointers ... */
	__u16 code_name;
	__u16 code_qualname;		/* NONE before qualified names were stored */
	__u16 code_linetable;		/* bytes object; format known to the symbolizer */

	/* GIL */
	__u16 gil_locked;		/* int, inside the GIL struct */
	__u16 gil_last_holder;		/* PyThreadState pointer, inside the GIL struct */

	__u8 owner_shim_min;		/* owners >= this are C-entry shims; PY_OWNER_NONE */
	__u8 owner_generator;		/* owner of generator/coroutine frames; PY_OWNER_NONE */
	__u8 pad[2];

	/* asyncio (appended: fields above keep their offsets) */
	__u16 tstate_running_task;	/* TaskObj pointer in the thread state (3.14+), or NONE */
	__u16 pad2[3];
};

/* One frame as a walker emits it; userspace turns it into names and a line. */
struct py_raw_frame {
	__u64 code;			/* PyCodeObject address, validated against code_type */
	__s32 lasti;			/* unit per PY_F_LASTI_BYTES */
	__u32 flags;			/* PY_FRAME_* */
	__u64 ident;			/* u64 at code + code_filename when walked, 0 if unknown:
					 * a code object freed and replaced before it is
					 * symbolized no longer matches it */
};

#define PY_FRAME_GENERATOR	(1U << 0)	/* frame belongs to a generator/coroutine */

/* Outcome of one stack walk. */
struct py_walk_info {
	__u64 coro;			/* outermost coroutine object on the stack, or 0 */
	__u32 nr_frames;
	__u32 flags;			/* PY_WALK_* */
};

#define PY_WALK_COMPLETE	(1U << 0)	/* reached the end of the chain */
#define PY_WALK_TRUNCATED	(1U << 1)	/* stopped at the frame or step limit */
#define PY_WALK_FAULT		(1U << 2)	/* a read failed: the stack is partial */
#define PY_WALK_BAD_CODE	(1U << 3)	/* at least one frame had no valid code object */

#endif /* __PYOFFSETS_H */
