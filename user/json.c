// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <math.h>
#include "json.h"

static void sep(struct json *j)
{
	if (j->need_comma[j->depth])
		fputc(',', j->f);
	j->need_comma[j->depth] = true;
}

static void put_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; s && *s; s++) {
		unsigned char c = *s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

void json__key(struct json *j, const char *key)
{
	sep(j);
	if (key) {
		put_string(j->f, key);
		fputc(':', j->f);
	}
}

static void open_(struct json *j, const char *key, char c)
{
	json__key(j, key);
	fputc(c, j->f);
	if (j->depth < 15)
		j->depth++;
	j->need_comma[j->depth] = false;
}

static void close_(struct json *j, char c)
{
	fputc(c, j->f);
	if (j->depth > 0)
		j->depth--;
}

void json__begin(struct json *j, FILE *f)
{
	j->f = f;
	j->depth = 0;
	j->need_comma[0] = false;
	fputc('{', f);
	j->depth = 1;
	j->need_comma[1] = false;
}

void json__end(struct json *j)
{
	close_(j, '}');
	fputc('\n', j->f);
	fflush(j->f);
}

void json__obj_open(struct json *j, const char *key) { open_(j, key, '{'); }
void json__obj_close(struct json *j) { close_(j, '}'); }
void json__arr_open(struct json *j, const char *key) { open_(j, key, '['); }
void json__arr_close(struct json *j) { close_(j, ']'); }

void json__str(struct json *j, const char *key, const char *v)
{
	json__key(j, key);
	put_string(j->f, v);
}

void json__int(struct json *j, const char *key, long long v)
{
	json__key(j, key);
	fprintf(j->f, "%lld", v);
}

void json__uint(struct json *j, const char *key, unsigned long long v)
{
	json__key(j, key);
	fprintf(j->f, "%llu", v);
}

void json__num(struct json *j, const char *key, double v)
{
	json__key(j, key);
	if (isfinite(v))
		fprintf(j->f, "%.3f", v);
	else
		fputs("null", j->f);
}

void json__bool(struct json *j, const char *key, bool v)
{
	json__key(j, key);
	fputs(v ? "true" : "false", j->f);
}
