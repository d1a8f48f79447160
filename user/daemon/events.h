/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The daemon's own JSON lines on stdout (journald keeps them), beside report_json's stall and
 * finding lines: where it listens, which processes it follows or skips, dumps, budget.
 */
#ifndef __EVENTS_H
#define __EVENTS_H

#include <stdbool.h>
#include <sys/types.h>

struct watched;
struct flight_dump;

void event__listening(const char *service, const char *host, int port);
void event__ready(const char *service, int targets);
void event__attached(const char *service, const struct watched *w, const char *selector);
void event__skipped(const char *service, pid_t pid, const char *comm, const char *why);
void event__detached(const char *service, pid_t pid, const char *why);
void event__flight(const char *trigger, pid_t pid, const struct flight_dump *d, int err);
void event__budget(double cpu_pct, double budget_pct, int freq, bool over);
void event__stopped(const char *service, const char *why);

#endif /* __EVENTS_H */
