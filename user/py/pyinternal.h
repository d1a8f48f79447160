/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Private to user/py/: the full per-process layout (the BPF offsets table plus what only the
 * userspace symbolizer needs) and the helpers the pieces of the reader share. Consumers use
 * pyproc.h and pysym.h, never this header.
 */
#ifndef __PY_INTERNAL_H
#define __PY_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>
#include "pyoffsets.h"

struct pyproc;

/* Line-number table formats, see pylines.c. */
enum py_lines_kind {
	PY_LINES_LNOTAB,	/* co_lnotab: (byte delta, line delta) pairs */
	PY_LINES_LINETABLE,	/* PEP 626 co_linetable: (byte length, line delta) pairs */
	PY_LINES_LOCATIONS,	/* PEP 657 location table, code units */
};

/* How a suspended coroutine's frame shows what it awaits (cpython-internals.md §2.7). */
enum py_await_kind {
	PY_AWAIT_STACKTOP,	/* 3.8/3.9: f_stacktop[-1] if the next opcode is YIELD_FROM */
	PY_AWAIT_STACKDEPTH,	/* 3.10: f_valuestack[f_stackdepth - 1], same opcode check */
	PY_AWAIT_RESUME,	/* 3.11/3.12: localsplus[stacktop - 1] if RESUME, oparg >= 2, is next */
	PY_AWAIT_INDEX,		/* 3.13: localsplus[stacktop - 1] in state SUSPENDED_YIELD_FROM */
	PY_AWAIT_POINTER,	/* 3.14+: stackpointer[-await_slot] in SUSPENDED_YIELD_FROM */
};

/* How instance attributes (obj.__dict__) are stored (cpython-internals.md §3.1). */
enum py_attrs_kind {
	PY_ATTRS_DICTOFFSET,	/* 3.8-3.10: dict at obj + tp_dictoffset */
	PY_ATTRS_MANAGED,	/* 3.11: values at obj - 32, dict at obj - 24 */
	PY_ATTRS_TAGGED,	/* 3.12: obj - 24 holds a dict, or values - 1 */
	PY_ATTRS_INLINE,	/* 3.13+: values at obj + tp_basicsize, else dict at obj - 24 */
};

/* _asyncio and the objects around it, for pytasks.c. PY_OFF_NONE where a field is missing. */
struct py_asyncio_layout {
	/* where the registries and running loops are */
	__u16 interp_modules;		/* sys.modules dict */
	__u16 module_dict;		/* PyModuleObject.md_dict */
	__u16 module_state;		/* md_state */
	__u16 state_current_tasks;	/* 3.12/3.13 asyncio_state: dict loop -> task */
	__u16 state_scheduled_tasks;	/* 3.12/3.13: WeakSet */
	__u16 state_eager_tasks;	/* 3.12/3.13: set */
	__u16 tstate_dict;		/* per-thread dict holding the running loop (<= 3.12) */
	__u16 holder_loop;		/* _RunningLoopHolder.rl_loop (<= 3.11) */
	__u16 tstate_running_loop;	/* _PyThreadStateImpl members, 3.13+ / 3.14+ */
	__u16 tstate_tasks_head;
	__u16 interp_tasks_head;	/* tasks of threads that exited, 3.14+ */
	bool asyncio_debug;		/* the 3.14+ members came from the AsyncioDebug section */

	/* FutureObj / TaskObj */
	__u16 task_size;		/* bytes read per task: covers every field below */
	__u16 fut_loop;
	__u16 fut_state;		/* int: 0 pending, 1 cancelled, 2 finished */
	__u16 fut_log_tb;		/* byte holding the log_tb flag ... */
	__u8 fut_log_tb_mask;		/* ... and its bit */
	__u16 task_fut_waiter;
	__u16 task_coro;
	__u16 task_name;		/* str, or an int N meaning "Task-N" (3.12+) */
	__u16 task_awaited_by;		/* 3.14+: a future, or a set of them */
	__u16 task_awaited_by_is_set;	/* char */
	__u16 task_node;		/* llist node in the 3.14+ task lists */

	/* coroutines and their frames */
	__u16 gen_qualname;
	__u16 gen_frame;		/* PyFrameObject pointer (<= 3.10) */
	__u16 gen_frame_state;		/* s8 (3.11+) */
	enum py_await_kind await_kind;
	__s8 state_yield_from;		/* frame states meaning "suspended in await" */
	__s8 state_yield_from_max;
	__u8 await_op;			/* YIELD_FROM (<= 3.10) or RESUME (3.11/3.12) */
	__u8 await_op_alt;		/* its quickened/instrumented twin, else await_op */
	__u8 await_slot;		/* 3.14+: stackpointer[-await_slot] */
	__u16 frame_stack;		/* f_stacktop / f_stackdepth / stacktop / stackpointer */
	__u16 frame_localsplus;		/* f_valuestack (3.10) or localsplus (3.11-3.13) */
	__u16 code_code;		/* co_code bytes object (<= 3.10) */

	/* plain objects */
	enum py_attrs_kind attrs;
	__u16 type_name;		/* tp_name (char *) */
	__u16 type_basicsize;
	__u16 type_flags;
	__u16 type_base;
	__u16 type_dictoffset;
	__u16 ht_cached_keys;		/* PyHeapTypeObject: shared keys of instance dicts */
	__u16 values_data;		/* first value inside PyDictValues */
	bool dict_log2;			/* 3.11+ dict keys: log2 sizes, kinds */
	bool long_tag;			/* 3.12+ ints: lv_tag instead of a signed ob_size */
};

struct py_layout {
	struct py_offsets off;	/* absolute addresses filled in by pyproc */
	struct py_asyncio_layout aio;
	unsigned int minor;	/* 3.minor */
	bool debug_offsets;	/* _PyRuntime starts with _Py_DebugOffsets */
	enum py_lines_kind lines;

	/* offsets only userspace needs */
	__u16 runtime_main_thread;	/* pthread_t of the main thread */
	__u16 tstate_base_frame_ptr;	/* tstate->base_frame pointer (3.15), or PY_OFF_NONE */
	__u16 runtime_gil;		/* GIL inside _PyRuntime, or PY_OFF_NONE */
	__u16 interp_gil_ptr;		/* interp->ceval.gil pointer, or PY_OFF_NONE */
	__u16 interp_gil;		/* interp->_gil, or PY_OFF_NONE */
	__u16 str_length;		/* code points */
	__u16 str_state;		/* interned:2 kind:3 compact:1 ascii:1 */
	__u16 str_ascii_data;		/* compact ASCII characters */
	__u16 str_compact_data;		/* compact non-ASCII chars, or the data.any pointer */
	__u16 bytes_size;
	__u16 bytes_data;

	/* absolute addresses */
	__u64 str_type;			/* &PyUnicode_Type */
	__u64 bytes_type;		/* &PyBytes_Type */
};

/* pyversions.c: the only place that holds per-version numbers. */
#define PY_MINOR_FIRST 8
#define PY_MINOR_LAST 15

/* Fill l with the compiled-in layout of 3.minor. Returns 0 or -EOPNOTSUPP. */
int pyversion__layout(unsigned int minor, struct py_layout *l);

/* Bytes of _Py_DebugOffsets to read from the start of _PyRuntime. */
#define PY_DEBUG_OFFSETS_MAX 2048

/*
 * Override l with the target's own _Py_DebugOffsets (3.13+). buf holds the first bytes of
 * _PyRuntime. Returns 0, -EOPNOTSUPP (free-threaded build, version mismatch) or -EPROTO (not
 * debug offsets / insane values), with a message in msg.
 */
int pyversion__apply_debug_offsets(struct py_layout *l, const void *buf, size_t len,
				   char *msg, size_t msglen);

/* Size of the AsyncioDebug section (3.14+): 13 uint64 values. */
#define PY_ASYNCIO_DEBUG_LEN 104

/*
 * Override l with the contents of _asyncio's AsyncioDebug section (3.14+), including
 * off.tstate_running_task. Returns 0 or -EPROTO with a message in msg.
 */
int pyversion__apply_asyncio_debug(struct py_layout *l, const void *buf, size_t len,
				   char *msg, size_t msglen);

/* Parse "3.11.2", "3.13.0rc1+" ... Returns 0 or -EINVAL. */
int pyversion__parse(const char *s, unsigned int *major, unsigned int *minor,
		     unsigned int *micro);

/* pyfind.c: the ELF image that holds the interpreter, and its version */
struct py_image {
	char path[4096];	/* as the target maps it */
	__u64 bias;		/* load bias of that ELF */
	__u64 runtime;		/* &_PyRuntime */
	unsigned int major;
	unsigned int minor;
	char version[32];	/* "3.11.2", or "3.8" when only the minor is known */
	__u64 code_type;	/* &PyCode_Type ... */
	__u64 coro_type;
	__u64 str_type;
	__u64 bytes_type;
	bool debug_build;	/* Py_DEBUG / Py_TRACE_REFS: object headers differ */
};

/*
 * Find the ELF mapped by pid that holds _PyRuntime and detect its version. Returns 0,
 * -ENOEXEC (no interpreter), -EOPNOTSUPP (a Python we cannot read; msg says which) or a
 * negative errno.
 */
int pyfind__image(int pid, struct py_image *img, char *msg, size_t msglen);

/* pyproc.c, for the other parts of the reader */
const struct py_layout *pyproc__layout(const struct pyproc *p);
/* remote__read() of the target that counts failures against it */
int pyproc__read(const struct pyproc *p, __u64 addr, void *buf, size_t len);
int pyproc__read_u64(const struct pyproc *p, __u64 addr, __u64 *val);
/*
 * Look for _asyncio's AsyncioDebug section (3.14+) in the target's mapped files and apply
 * it. Returns 0 (also when already done), -ENOENT if it is not mapped (yet), -EOPNOTSUPP
 * before 3.14, or another negative errno.
 */
int pyproc__load_asyncio_debug(struct pyproc *p);

/* pythreads.c */
/* Visit every PyThreadState of every interpreter; cb returns non-zero to stop. */
int pythreads__for_each(const struct pyproc *p, int (*cb)(__u64 ts, void *ctx), void *ctx);
/* Where glibc's struct pthread keeps the TID (PY_F_TID_PTHREAD builds), or PY_OFF_NONE. */
__u16 pythreads__pthread_tid(const struct pyproc *p);

/* pyobj.c: reading str and bytes objects out of the target */
int pyobj__read_str(const struct pyproc *p, __u64 addr, char *out, size_t outlen);
/* Read a bytes object's content into a malloc()ed buffer of at most max bytes. */
int pyobj__read_bytes(const struct pyproc *p, __u64 addr, size_t max, __u8 **data,
		      size_t *len);

/* pylines.c: address -> line, -1 when the instruction has no line */
int pylines__lnotab(const __u8 *tab, size_t len, int firstlineno, int addr_bytes);
int pylines__linetable(const __u8 *tab, size_t len, int firstlineno, int addr_bytes);
int pylines__locations(const __u8 *tab, size_t len, int firstlineno, int addr_units);

#endif /* __PY_INTERNAL_H */
