// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <stdio.h>
#include <string.h>
#include "events.h"
#include "flight.h"
#include "json.h"
#include "report.h"
#include "watched.h"

static void begin(struct json *j, const char *type, const char *service)
{
	json__begin(j, stdout);
	json__str(j, "type", type);
	if (service)
		json__str(j, "service", service);
}

void event__listening(const char *service, const char *host, int port)
{
	struct json j;
	char addr[300];

	snprintf(addr, sizeof(addr), "%s:%d", host, port);
	begin(&j, "listening", service);
	json__str(&j, "address", addr);
	json__int(&j, "port", port);
	json__end(&j);
}

void event__ready(const char *service, int targets)
{
	struct json j;

	begin(&j, "ready", service);
	json__int(&j, "targets", targets);
	json__end(&j);
}

void event__attached(const char *service, const struct watched *w, const char *selector)
{
	struct json j;

	begin(&j, "attached", service);
	json__int(&j, "pid", w->pid);
	json__str(&j, "comm", w->comm);
	json__str(&j, "selector", selector);
	json__bool(&j, "python", w->py != NULL);
	json__str(&j, w->py ? "interpreter" : "why", w->py_what);
	if (w->py) {
		json__str(&j, "gc", source__name(w->probes.gc));
		json__str(&j, "imports", source__name(w->probes.imports));
	}
	json__end(&j);
}

void event__skipped(const char *service, pid_t pid, const char *comm, const char *why)
{
	struct json j;

	begin(&j, "skipped", service);
	json__int(&j, "pid", pid);
	json__str(&j, "comm", comm);
	json__str(&j, "why", why);
	json__end(&j);
}

void event__detached(const char *service, pid_t pid, const char *why)
{
	struct json j;

	begin(&j, "detached", service);
	json__int(&j, "pid", pid);
	json__str(&j, "why", why);
	json__end(&j);
}

void event__flight(const char *trigger, pid_t pid, const struct flight_dump *d, int err)
{
	struct json j;
	int i;

	begin(&j, "flight", NULL);
	json__str(&j, "trigger", trigger);
	if (pid)
		json__int(&j, "pid", pid);
	if (err) {
		json__str(&j, "error", strerror(-err));
		json__end(&j);
		return;
	}
	json__arr_open(&j, "files");
	for (i = 0; i < d->nfiles; i++)
		json__str(&j, NULL, d->path[i]);
	json__arr_close(&j);
	json__num(&j, "stall_ms", d->ms);
	json__int(&j, "stacks", d->stacks);
	json__int(&j, "removed", d->removed);
	json__int(&j, "dir_bytes", d->dir_bytes);
	json__end(&j);
}

void event__budget(double cpu_pct, double budget_pct, int freq, bool over)
{
	struct json j;

	begin(&j, "budget", NULL);
	json__num(&j, "cpu_pct", cpu_pct);
	json__num(&j, "budget_pct", budget_pct);
	json__int(&j, "sampling_hz", freq);
	json__bool(&j, "over_budget", over);
	json__end(&j);
}

void event__stopped(const char *service, const char *why)
{
	struct json j;

	begin(&j, "stopped", service);
	json__str(&j, "why", why);
	json__end(&j);
}
