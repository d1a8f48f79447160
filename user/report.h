/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* What loopscope prints, decided once: human text or JSON lines. Every printer is a pair. */
#ifndef __REPORT_H
#define __REPORT_H

#include <stdbool.h>
#include <stdio.h>
#include "stats.h"
#include "taskwatch.h"
#include "tracer.h"

struct reporter {
	void (*attached)(pid_t pid, const char *comm, bool spawned, double threshold_ms);
	void (*waiting)(pid_t pid, double secs);
	/* whether Python stacks are available: what the interpreter is, or why not */
	void (*python)(pid_t pid, bool ok, const char *what);
	/* where GC, import and audit timings come from for this process */
	void (*sources)(pid_t pid, const struct probe_status *st);
	void (*interval)(double wall, const struct loop_interval *iv, int n);
	void (*stall)(const struct stall_view *v);
	void (*summary)(const struct summary *s);
	void (*tasks)(pid_t pid, const struct task_reading *r);
	void (*finding)(pid_t pid, const struct finding *f);
};

extern const struct reporter report_plain;
extern const struct reporter report_json;

/* shared vocabulary */
const char *cause__name(int cause);		/* enum ls_reason or CAUSE_CPU */
const char *cause__label(int cause);		/* for people: "network I/O" */
const char *fdkind__name(int kind);
const char *source__name(enum probe_source s);	/* "usdt", "uprobe", "none", "off" */
/* "recvfrom fd 7 (TCP 127.0.0.1:8080)": the syscall that blocked and on what */
void block__describe(const struct ls_block *b, int reason, char *buf, size_t len);
void block__peer(const struct ls_block *b, char *buf, size_t len);
/* A path short enough for a stack line: library files from their package directory on. */
const char *short_path(const char *file);
void fmt_clock(double wall, char *buf, size_t len, bool millis);

#endif /* __REPORT_H */
