/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* A minimal streaming JSON writer: one object per line, for --json output. */
#ifndef __JSON_H
#define __JSON_H

#include <stdbool.h>
#include <stdio.h>

struct json {
	FILE *f;
	int depth;
	bool need_comma[16];
};

void json__begin(struct json *j, FILE *f);	/* opens the top-level object */
void json__end(struct json *j);			/* closes it, newline, flush */
void json__key(struct json *j, const char *key);
void json__obj_open(struct json *j, const char *key);	/* key may be NULL inside arrays */
void json__obj_close(struct json *j);
void json__arr_open(struct json *j, const char *key);
void json__arr_close(struct json *j);
void json__str(struct json *j, const char *key, const char *v);
void json__int(struct json *j, const char *key, long long v);
void json__uint(struct json *j, const char *key, unsigned long long v);
void json__num(struct json *j, const char *key, double v);	/* 3 decimals */
void json__bool(struct json *j, const char *key, bool v);

#endif /* __JSON_H */
