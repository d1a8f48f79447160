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

struct py_layout {
	struct py_offsets off;	/* absolute addresses filled in by pyproc */
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
