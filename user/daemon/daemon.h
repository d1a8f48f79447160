/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * `loopscope daemon`: the sidecar. One BPF object watches every process the selectors
 * choose (daemon.c follows them as they come and go), metrics.c and health.c publish what it
 * knows over http.c, flight.c keeps the last seconds for dumps, notify.c talks to systemd.
 */
#ifndef __DAEMON_H
#define __DAEMON_H

#include <stdbool.h>
#include <linux/types.h>
#include "config.h"
#include "loopscope.h"

struct watched;
struct tracer;

/* What the daemon knows, as the publishers read it. */
struct daemon {
	const struct dconf *conf;
	struct tracer *tr;
	int nw;
	struct watched *w[LS_MAX_TARGETS];
	double start;			/* mono seconds */
	/* loopscope itself */
	double cpu_s;			/* user + system, since start */
	double cpu_pct;			/* of one CPU, over the last interval */
	long long rss_bytes;
	int freq;			/* sampling rate now: the budget may have lowered it */
	bool over_budget;
	unsigned long long attaches, detaches, skipped, flight_dumps, flight_errors;
	unsigned long long task_findings;
};

int daemon__main(int argc, char **argv);

#endif /* __DAEMON_H */
