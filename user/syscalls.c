// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * What each syscall means to an event loop. Numbers come from <asm/unistd.h>; a syscall
 * missing on an architecture (arm64 has no epoll_wait, poll or select) is simply absent.
 */
#include <string.h>
#include <asm/unistd.h>
#include <linux/types.h>
#include "loopscope.h"
#include "syscalls.h"
#include "syscall_names.h"

const char *syscall__name(int nr)
{
	if (nr < 0 || nr >= (int)(sizeof(syscall_names) / sizeof(syscall_names[0])))
		return NULL;
	return syscall_names[nr];
}

#define SET(table, n, name, cls)                                                                \
	do {                                                                                    \
		if (__NR_##name < (n))                                                          \
			(table)[__NR_##name] = (cls);                                           \
	} while (0)

void syscall__classes(__u8 *t, int n)
{
	memset(t, LS_SC_OTHER, n);

	/* the loop's own waits */
#ifdef __NR_epoll_wait
	SET(t, n, epoll_wait, LS_SC_EPOLL);
#endif
	SET(t, n, epoll_pwait, LS_SC_EPOLL);
#ifdef __NR_epoll_pwait2
	SET(t, n, epoll_pwait2, LS_SC_EPOLL);
#endif
#ifdef __NR_poll
	SET(t, n, poll, LS_SC_POLL);
#endif
	SET(t, n, ppoll, LS_SC_POLL);
#ifdef __NR_select
	SET(t, n, select, LS_SC_SELECT);
#endif
	SET(t, n, pselect6, LS_SC_SELECT);

	SET(t, n, nanosleep, LS_SC_SLEEP);
	SET(t, n, clock_nanosleep, LS_SC_SLEEP);
#ifdef __NR_pause
	SET(t, n, pause, LS_SC_SLEEP);
#endif

	/* fd I/O: network, disk or other depending on what the fd is */
	SET(t, n, read, LS_SC_FD_IO);
	SET(t, n, write, LS_SC_FD_IO);
	SET(t, n, readv, LS_SC_FD_IO);
	SET(t, n, writev, LS_SC_FD_IO);
	SET(t, n, pread64, LS_SC_FD_IO);
	SET(t, n, pwrite64, LS_SC_FD_IO);
	SET(t, n, preadv, LS_SC_FD_IO);
	SET(t, n, pwritev, LS_SC_FD_IO);
	SET(t, n, preadv2, LS_SC_FD_IO);
	SET(t, n, pwritev2, LS_SC_FD_IO);
	SET(t, n, recvfrom, LS_SC_FD_IO);
	SET(t, n, sendto, LS_SC_FD_IO);
	SET(t, n, recvmsg, LS_SC_FD_IO);
	SET(t, n, sendmsg, LS_SC_FD_IO);
	SET(t, n, recvmmsg, LS_SC_FD_IO);
	SET(t, n, sendmmsg, LS_SC_FD_IO);
	SET(t, n, connect, LS_SC_FD_IO);
	SET(t, n, accept, LS_SC_FD_IO);
	SET(t, n, accept4, LS_SC_FD_IO);
	SET(t, n, sendfile, LS_SC_FD_IO);
	SET(t, n, splice, LS_SC_FD_IO);
	SET(t, n, fsync, LS_SC_FD_IO);
	SET(t, n, fdatasync, LS_SC_FD_IO);
	SET(t, n, sync_file_range, LS_SC_FD_IO);
	SET(t, n, ftruncate, LS_SC_FD_IO);
	SET(t, n, fallocate, LS_SC_FD_IO);
	SET(t, n, close, LS_SC_FD_IO);
	SET(t, n, ioctl, LS_SC_FD_IO);

	/* path-based file system work */
#ifdef __NR_open
	SET(t, n, open, LS_SC_DISK);
	SET(t, n, stat, LS_SC_DISK);
	SET(t, n, lstat, LS_SC_DISK);
	SET(t, n, unlink, LS_SC_DISK);
	SET(t, n, rename, LS_SC_DISK);
	SET(t, n, mkdir, LS_SC_DISK);
	SET(t, n, rmdir, LS_SC_DISK);
	SET(t, n, getdents, LS_SC_DISK);
	SET(t, n, access, LS_SC_DISK);
	SET(t, n, readlink, LS_SC_DISK);
#endif
	SET(t, n, openat, LS_SC_DISK);
	SET(t, n, openat2, LS_SC_DISK);
	SET(t, n, newfstatat, LS_SC_DISK);
	SET(t, n, statx, LS_SC_DISK);
	SET(t, n, fstat, LS_SC_DISK);
	SET(t, n, unlinkat, LS_SC_DISK);
	SET(t, n, renameat, LS_SC_DISK);
	SET(t, n, renameat2, LS_SC_DISK);
	SET(t, n, mkdirat, LS_SC_DISK);
	SET(t, n, getdents64, LS_SC_DISK);
	SET(t, n, faccessat, LS_SC_DISK);
	SET(t, n, faccessat2, LS_SC_DISK);
	SET(t, n, readlinkat, LS_SC_DISK);
	SET(t, n, sync, LS_SC_DISK);
	SET(t, n, syncfs, LS_SC_DISK);
	SET(t, n, io_getevents, LS_SC_DISK);

	SET(t, n, futex, LS_SC_LOCK);
#ifdef __NR_futex_waitv
	SET(t, n, futex_waitv, LS_SC_LOCK);
#endif
	SET(t, n, flock, LS_SC_LOCK);
	SET(t, n, fcntl, LS_SC_LOCK);
}
