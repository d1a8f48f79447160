// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Folded stacks, the text that flamegraph.pl, inferno and speedscope read: one line per
 * distinct stack, "outer;inner;leaf weight". Causes are not part of the format and are left
 * out; ';' inside a label becomes ':' so it cannot split a frame.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "flame.h"

struct folded {
	struct flame *f;
	FILE *out;
	char *line;		/* the current stack, frame labels joined */
	size_t cap;
	size_t at[FLAME_MAX_DEPTH + 1];	/* where each depth's label starts */
	char label[4096];
};

static int visit(const struct flame_visit *v, void *ctx)
{
	struct folded *s = ctx;
	size_t start = s->at[v->depth], n;
	char w[64];

	flame__label(v->frame, s->label, sizeof(s->label));
	n = strlen(s->label) * 4 + 2;	/* room for the cleaned label and a separator */
	if (start + n > s->cap) {
		size_t cap = (start + n) * 2;
		char *p = realloc(s->line, cap);

		if (!p)
			return -ENOMEM;
		s->line = p;
		s->cap = cap;
	}
	if (v->depth)
		s->line[start++] = ';';
	n = flame__clean(s->label, s->line + start, s->cap - start);
	for (char *c = s->line + start; c < s->line + start + n; c++)
		if (*c == ';')
			*c = ':';
	s->at[v->depth + 1] = start + n;
	if (v->self <= 0)
		return 0;
	flame__fmt_weight(s->f, v->self, w, sizeof(w));
	/* weight too small for three decimals: a "0" line would only confuse a reader */
	if (strcmp(w, "0") == 0)
		return 0;
	fwrite(s->line, 1, start + n, s->out);
	fprintf(s->out, " %s\n", w);
	return 0;
}

int flame_folded__write(struct flame *f, FILE *out)
{
	struct folded *s = calloc(1, sizeof(*s));
	int err;

	if (!s)
		return -ENOMEM;
	s->f = f;
	s->out = out;
	err = flame__walk(f, visit, s);
	free(s->line);
	free(s);
	return err;
}
