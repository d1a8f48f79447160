// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <stdio.h>
#include <stdlib.h>
#include "daemon.h"
#include "health.h"
#include "json.h"
#include "watched.h"

/* json.c writes to a FILE: give it one over memory, then hand the text to the response */
static void take(FILE *f, char **buf, size_t *len, struct http_resp *r)
{
	if (fclose(f) || !*buf) {
		r->oom = 1;
		return;
	}
	resp__printf(r, "%.*s", (int)*len, *buf);
	free(*buf);
}

void health__self(const struct daemon *d, struct http_resp *r)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct json j;

	if (!f) {
		r->oom = 1;
		return;
	}
	r->type = "application/json";
	json__begin(&j, f);
	json__str(&j, "status", "ok");
	json__num(&j, "uptime_s", now_mono() - d->start);
	json__int(&j, "targets", d->nw);
	json__num(&j, "cpu_pct", d->cpu_pct);
	json__bool(&j, "over_budget", d->over_budget);
	json__end(&j);
	take(f, &buf, &len, r);
}

void health__loops(const struct daemon *d, struct http_resp *r)
{
	double now = now_mono(), age;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct json j;
	int i, k, wedged = 0, busy = 0;

	if (!f) {
		r->oom = 1;
		return;
	}
	r->type = "application/json";
	json__begin(&j, f);
	json__arr_open(&j, "loops");
	for (i = 0; i < d->nw; i++) {
		const struct watched *w = d->w[i];

		for (k = 0; k < w->nloops; k++) {
			const struct loop_thread *l = &w->loops[k];
			enum loop_state s = watched__loop_state(l, now, d->conf->threshold_ms / 1e3,
								d->conf->wedged_s, &age);

			wedged += s == LOOP_WEDGED;
			busy += s == LOOP_BUSY;
			json__obj_open(&j, NULL);
			json__int(&j, "pid", w->pid);
			json__int(&j, "thread", l->tid);
			json__str(&j, "comm", l->comm);
			json__str(&j, "state", loop_state__name(s));
			json__num(&j, "iteration_age_s", age);
			json__num(&j, "busy_pct", l->busy_pct);
			json__uint(&j, "iterations", l->iterations);
			json__obj_close(&j);
		}
	}
	json__arr_close(&j);
	json__str(&j, "status", wedged ? "wedged" : busy ? "busy" : "healthy");
	json__end(&j);
	take(f, &buf, &len, r);
	r->status = wedged ? 503 : 200;
}
