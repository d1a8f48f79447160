/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The interpreter reader: finds a live CPython interpreter in another process and reads its
 * threads and stacks with process_vm_readv (never ptrace; the target keeps running). This is
 * the only module that knows CPython versions; consumers see the version-agnostic offsets
 * table of bpf/pyoffsets.h and plain results.
 *
 * Errors are negative errnos with these meanings:
 *   -ESRCH       no such process, or it exited
 *   -ENOEXEC     no CPython interpreter in the process
 *   -EOPNOTSUPP  CPython found, but this version or build is not supported (the caller should
 *                go on without Python stacks); pyproc__strerror() says which
 *   -EAGAIN      the interpreter is not initialised yet: retry later
 *   -EPROTO      the interpreter's memory did not look as expected for its version
 *   -EPERM, -EACCES  not allowed to read the process
 */
#ifndef __PYPROC_H
#define __PYPROC_H

#include <stddef.h>
#include <linux/types.h>
#include "pyoffsets.h"

struct pyproc;

/* Attach to process pid (host PID). On success *p must be freed with pyproc__free(). */
int pyproc__open(int pid, struct pyproc **p);
void pyproc__free(struct pyproc *p);

/*
 * Human-readable message for an error returned by this module. When err is the latest error
 * of pyproc__open() in this thread, the message carries its details (which version, which
 * file); the string stays valid until the next pyproc__open() in this thread.
 */
const char *pyproc__strerror(int err);

/* The offsets table to hand to the BPF walker (absolute addresses already resolved). */
const struct py_offsets *pyproc__offsets(const struct pyproc *p);

/* One line for logs: interpreter version, ELF and _PyRuntime address. */
void pyproc__describe(const struct pyproc *p, char *buf, size_t len);

int pyproc__pid(const struct pyproc *p);
/* The target's own PID inside its PID namespace (== pid outside containers). */
int pyproc__nspid(const struct pyproc *p);

/* TID of host thread tid inside the target's PID namespace (what Python reports). */
int pyproc__ns_tid(const struct pyproc *p, int tid, int *ns_tid);
/* Host TID of the thread whose namespace-local TID is ns_tid. */
int pyproc__host_tid(const struct pyproc *p, int ns_tid, int *tid);

/* PyThreadState of the thread with namespace-local TID ns_tid. Returns 0 or -ENOENT. */
int pyproc__thread_state(const struct pyproc *p, int ns_tid, __u64 *tstate);

struct py_thread {
	__u64 tstate;		/* PyThreadState address */
	int ns_tid;		/* namespace-local TID, -1 if it could not be determined */
};

/* Python threads of every interpreter. Returns how many were stored (at most max). */
int pyproc__threads(const struct pyproc *p, struct py_thread *threads, int max);

/*
 * Walk the frames of one thread, innermost first, following exactly the algorithm described
 * in bpf/pyoffsets.h and using nothing but the offsets table: this is the reference for the
 * BPF walker. Stores at most max frames; info (may be NULL) receives the outermost coroutine
 * and PY_WALK_* flags. Returns the number of frames or a negative errno.
 */
int pyproc__walk(const struct pyproc *p, __u64 tstate, struct py_raw_frame *frames, int max,
		 struct py_walk_info *info);

struct pyproc_stats {
	__u64 reads;		/* remote reads (all targets of this process) */
	__u64 read_failures;
	__u64 faults;		/* reads of this target that failed while walking or symbolizing */
};

void pyproc__stats(const struct pyproc *p, struct pyproc_stats *st);

#endif /* __PYPROC_H */
