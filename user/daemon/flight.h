/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The flight recorder: the stall view of the last N seconds, kept in memory as weighted
 * stacks, written as a flamegraph (folded and/or pprof) into a directory when a stall
 * crosses its threshold or on SIGUSR1. The directory is kept under a size limit, oldest
 * dumps removed first.
 */
#ifndef __FLIGHT_H
#define __FLIGHT_H

#include <stdbool.h>
#include "stats.h"

struct flight;

struct flight_opts {
	const char *dir;
	const char *service;
	double keep_s;
	long long max_bytes;
	bool folded, pprof;
};

struct flight *flight__new(const struct flight_opts *o);
void flight__free(struct flight *fl);
void flight__stall(struct flight *fl, const struct stall_view *v);

struct flight_dump {
	char path[2][656];	/* files written */
	int nfiles;
	double ms;		/* stall time in the dump */
	int stacks;
	int removed;		/* older dumps removed to stay under the limit */
	long long dir_bytes;	/* the directory's dumps after rotation */
};

/* Write the last keep_s seconds; why names the trigger ("stall", "signal"). 0 or -errno. */
int flight__dump(struct flight *fl, const char *why, struct flight_dump *d);

#endif /* __FLIGHT_H */
