/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Reading another process's memory with process_vm_readv: no ptrace, the target keeps running.
 * Every read may race with the target, so callers validate what they get.
 */
#ifndef __PY_REMOTE_H
#define __PY_REMOTE_H

#include <stddef.h>
#include <linux/types.h>

struct remote_stats {
	__u64 reads;
	__u64 failures;		/* reads that returned an error or fewer bytes than asked */
};

/*
 * Read len bytes at addr in process pid. Returns 0, -EFAULT for an unmapped or partially
 * mapped range, -ESRCH if the process is gone, or another negative errno.
 */
int remote__read(int pid, __u64 addr, void *buf, size_t len);
int remote__read_u64(int pid, __u64 addr, __u64 *val);

/* Process-wide counters (all targets). */
void remote__stats(struct remote_stats *st);

#endif /* __PY_REMOTE_H */
