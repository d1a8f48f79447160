// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A speedscope file (https://www.speedscope.app/file-format-schema.json): one "sampled"
 * profile whose samples are the distinct stacks, root first, as indices into the shared frame
 * table, each weighted by the weight that ended there. Causes are not in the format.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "flame.h"

struct speedscope {
	struct flame *f;
	FILE *out;
	bool first;
	bool weights;		/* this pass writes the weights, not the stacks */
	unsigned stack[FLAME_MAX_DEPTH];
};

static void put_str(FILE *out, const char *s)
{
	putc('"', out);
	flame__put(out, s, FLAME_ESC_JSON);
	putc('"', out);
}

/* speedscope's own units; anything else is a plain number */
static const char *unit_name(const char *unit)
{
	static const char *const map[][2] = {
		{ "ms", "milliseconds" }, { "us", "microseconds" }, { "ns", "nanoseconds" },
		{ "s", "seconds" },	  { "bytes", "bytes" },
	};
	size_t i;

	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(unit, map[i][0]) == 0 || strcmp(unit, map[i][1]) == 0)
			return map[i][1];
	return "none";
}

static int visit(const struct flame_visit *v, void *ctx)
{
	struct speedscope *s = ctx;
	char w[64];
	int i;

	s->stack[v->depth] = v->frame_id;
	if (v->self <= 0)
		return 0;
	if (!s->first)
		putc(',', s->out);
	s->first = false;
	if (s->weights) {
		flame__fmt_weight(s->f, v->self, w, sizeof(w));
		fputs(w, s->out);
		return 0;
	}
	putc('[', s->out);
	for (i = 0; i <= v->depth; i++)
		fprintf(s->out, i ? ",%u" : "%u", s->stack[i]);
	putc(']', s->out);
	return 0;
}

int flame_speedscope__write(struct flame *f, FILE *out)
{
	struct speedscope *s = calloc(1, sizeof(*s));
	const struct flame_frame *frames;
	int n, i, err;
	char w[64];

	if (!s)
		return -ENOMEM;
	s->f = f;
	s->out = out;
	n = flame__frames(f, &frames);
	if (n < 0) {
		err = n;
		goto cleanup;
	}
	fputs("{\"$schema\":\"https://www.speedscope.app/file-format-schema.json\","
	      "\"exporter\":\"loopscope\",\"name\":", out);
	put_str(out, flame__title(f));
	fputs(",\"activeProfileIndex\":0,\"shared\":{\"frames\":[", out);
	for (i = 0; i < n; i++) {
		fputs(i ? ",\n{\"name\":" : "\n{\"name\":", out);
		put_str(out, frames[i].func);
		if (frames[i].file) {
			fputs(",\"file\":", out);
			put_str(out, frames[i].file);
		}
		if (frames[i].line)
			fprintf(out, ",\"line\":%u", frames[i].line);
		putc('}', out);
	}
	fputs("]},\n\"profiles\":[{\"type\":\"sampled\",\"name\":", out);
	put_str(out, flame__title(f));
	flame__fmt_weight(f, flame__total(f), w, sizeof(w));
	fprintf(out, ",\"unit\":\"%s\",\"startValue\":0,\"endValue\":%s,\n\"samples\":[",
		unit_name(flame__unit(f)), w);
	s->first = true;
	err = flame__walk(f, visit, s);
	if (err)
		goto cleanup;
	fputs("],\n\"weights\":[", out);
	s->first = true;
	s->weights = true;
	err = flame__walk(f, visit, s);
	if (err)
		goto cleanup;
	fputs("]}]}\n", out);
cleanup:
	free(s);
	return err;
}
