/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Command line: every knob of a run, parsed and validated once. */
#ifndef __ENV_H
#define __ENV_H

#include <stdbool.h>
#include <sys/types.h>

enum command {
	CMD_ATTACH,
	CMD_RUN,
	CMD_RECORD,	/* attach (PID) or run (a program), then write a flamegraph */
	CMD_TASKS,	/* one-shot dump of a process's asyncio tasks */
};

struct env {
	enum command cmd;
	pid_t pid;		/* attach */
	char **argv;		/* run: the program and its arguments */
	double threshold_ms;
	double interval_s;	/* 0: no interval lines */
	double duration_s;	/* 0: until Ctrl-C or the target exits */
	int top;		/* longest stalls kept for the summary */
	int freq;		/* on-CPU sampling, Hz; 0: off */
	bool json;
	bool poll_loops;
	bool raw_tp;
	bool audit;		/* CPython audit events name blocking calls */		/* force the raw tracepoint programs */
	int verbose;
	const char *btf_path;
	/* record */
	const char *output;	/* "-": stdout */
	const char *format;	/* NULL: from the output's extension */
	int view;		/* enum record_view */
	bool no_tasks;		/* attach: skip the periodic task reading */
	double hang_s;		/* attach: a hang is reported after this long */
};

/* Parse argv; exits with status 2 and a message on bad input. */
void env__parse(struct env *env, int argc, char **argv);

#endif /* __ENV_H */
