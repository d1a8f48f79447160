// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <sys/uio.h>
#include "remote.h"

static __u64 nr_reads;
static __u64 nr_failures;

int remote__read(int pid, __u64 addr, void *buf, size_t len)
{
	struct iovec local = { .iov_base = buf, .iov_len = len };
	struct iovec remote = { .iov_base = (void *)(unsigned long)addr, .iov_len = len };
	ssize_t n;
	int err;

	__atomic_add_fetch(&nr_reads, 1, __ATOMIC_RELAXED);
	if (!len)
		return 0;
	/* A NULL page is never mapped in a target; skip the syscall for the common bad pointer. */
	if (addr < 4096 || addr + len < addr) {
		err = -EFAULT;
		goto fail;
	}
	n = process_vm_readv(pid, &local, 1, &remote, 1, 0);
	if (n == (ssize_t)len)
		return 0;
	err = n < 0 ? -errno : -EFAULT;
fail:
	__atomic_add_fetch(&nr_failures, 1, __ATOMIC_RELAXED);
	return err;
}

int remote__read_u64(int pid, __u64 addr, __u64 *val)
{
	return remote__read(pid, addr, val, sizeof(*val));
}

void remote__stats(struct remote_stats *st)
{
	st->reads = __atomic_load_n(&nr_reads, __ATOMIC_RELAXED);
	st->failures = __atomic_load_n(&nr_failures, __ATOMIC_RELAXED);
}
