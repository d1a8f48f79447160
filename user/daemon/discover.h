/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Which processes the daemon's selectors choose right now: a PID or pid file and their
 * descendants, a unit's or cgroup's processes, command lines matching a pattern.
 */
#ifndef __DISCOVER_H
#define __DISCOVER_H

#include <sys/types.h>
#include "config.h"

struct found {
	pid_t pid;
	unsigned long long start;	/* start time in ticks: a reused PID is a new process */
	int sel;			/* the selector that chose it */
};

/* Fill out[] (at most max); returns how many, or -errno if /proc cannot be read. */
int discover__scan(const struct dconf *c, struct found *out, int max);

/* A process's start time (ticks since boot), 0 if it is gone. */
unsigned long long discover__start_time(pid_t pid);

#endif /* __DISCOVER_H */
