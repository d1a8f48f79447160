/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The profiled process: checking it, starting it (run mode), and noticing when it ends. */
#ifndef __TARGET_H
#define __TARGET_H

#include <stdbool.h>
#include <sys/types.h>

struct target {
	pid_t pid;
	int pidfd;		/* readable once the process has exited */
	int gate_fd;		/* run mode: the child execs when this closes */
	bool spawned;
	bool exited;
	int exit_status;	/* run mode: the child's wait status */
	char comm[16];
};

/*
 * Check that pid is a live Python process and fill t. On error returns a negative errno
 * and writes a one-line explanation to err.
 */
int target__attach(struct target *t, pid_t pid, char *err, size_t errlen);

/* Fork argv[0] stopped before exec; target__release() lets it run once probes are in place. */
int target__spawn(struct target *t, char **argv, char *err, size_t errlen);
int target__release(struct target *t);

/* Run mode: false while the child still runs our own image (it has not exec'd yet). */
bool target__execed(const struct target *t);

/* True once the process has exited (reaps it in run mode). */
bool target__gone(struct target *t);

void target__thread_name(pid_t pid, pid_t tid, char *buf, size_t len);
void target__close(struct target *t);

#endif /* __TARGET_H */
