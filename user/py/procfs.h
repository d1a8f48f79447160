/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* What /proc says about a target: its mappings and its threads' IDs in its PID namespace. */
#ifndef __PY_PROCFS_H
#define __PY_PROCFS_H

#include <stddef.h>
#include <linux/types.h>

struct proc_map {
	__u64 start;
	__u64 end;
	__u64 offset;		/* file offset of start */
	__u64 inode;		/* 0 for anonymous mappings */
	__u32 dev;		/* makedev(major, minor) of the file's device */
	char perms[5];		/* "r-xp" */
	char *path;		/* as printed in maps; NULL if anonymous */
};

struct proc_maps {
	struct proc_map *v;
	size_t n;
};

/* Parse /proc/PID/maps. Returns 0, -ESRCH if the process is gone, or a negative errno. */
int procfs__maps(int pid, struct proc_maps *maps);
void procfs__maps_free(struct proc_maps *maps);

/*
 * A path through which the file behind m can be opened from here even if the target lives in
 * another mount namespace or a chroot: /proc/PID/map_files/..., else /proc/PID/root/<path>,
 * else <path>. Returns 0 or -ENOENT.
 */
int procfs__mapped_path(int pid, const struct proc_map *m, char *buf, size_t len);

/* TID of host thread tid inside the target's PID namespace (last NSpid entry). */
int procfs__ns_tid(int pid, int tid, int *ns_tid);

/* Visit the host TIDs of pid's threads; cb returns non-zero to stop (and that is returned). */
int procfs__for_each_task(int pid, int (*cb)(int tid, void *ctx), void *ctx);

/* Host TID of the thread whose namespace-local TID is ns_tid. Returns 0 or -ENOENT. */
int procfs__host_tid(int pid, int ns_tid, int *tid);

#endif /* __PY_PROCFS_H */
