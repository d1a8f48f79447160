/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Python frame symbolizer: (code object address, lasti) from a stack walk -> function, file
 * and line, read from the live target and cached per code object.
 */
#ifndef __PYSYM_H
#define __PYSYM_H

#include <linux/types.h>
#include "pyoffsets.h"

struct pyproc;
struct pysym;

#define PY_FUNC_LEN 256
#define PY_FILE_LEN 1024

struct py_frame {
	char func[PY_FUNC_LEN];		/* qualified name where the interpreter keeps one */
	char file[PY_FILE_LEN];
	__u32 line;			/* 0 when the instruction has no line */
};

struct pysym_stats {
	__u64 lookups;
	__u64 hits;			/* served from the cache */
	__u64 stale;			/* cached address now holds another code object */
	__u64 invalid;			/* address is not a code object (any more) */
	__u64 read_failures;		/* reads of the target that failed */
	__u64 bad_tables;		/* line table missing or too large */
	__u64 dead;			/* answered from the cache for a code object since freed */
};

/* p must outlive the symbolizer. A symbolizer is not thread-safe: one per thread, or a lock. */
int pysym__new(const struct pyproc *p, struct pysym **s);
void pysym__free(struct pysym *s);

/*
 * Resolve one frame as a walker emitted it. Returns 0, -EINVAL if code is not a code object,
 * -ESTALE if another code object has replaced the one the walker saw (rf->ident), or a
 * negative errno if the target could not be read. Names that cannot be read come back
 * as "?" rather than failing the frame.
 */
int pysym__resolve(struct pysym *s, const struct py_raw_frame *rf, struct py_frame *out);

void pysym__stats(const struct pysym *s, struct pysym_stats *st);

#endif /* __PYSYM_H */
