// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A gzip'd pprof profile (github.com/google/pprof proto/profile.proto), for `go tool pprof`.
 * pprof values are integers: weights in ms are written as microseconds (sample type
 * time/microseconds), counts as they are (samples/count), any other unit rounded as it is.
 * One Location per distinct (func, file, line), one Function per (func, file); a sample per
 * distinct stack and cause, with the cause as its "cause" label (pprof -tagfocus cause=net).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include "flame.h"
#include "pb.h"

/* profile.proto field numbers */
enum {
	PROFILE_SAMPLE_TYPE = 1, PROFILE_SAMPLE = 2, PROFILE_LOCATION = 4, PROFILE_FUNCTION = 5,
	PROFILE_STRING_TABLE = 6, PROFILE_COMMENT = 13,
	VALUE_TYPE_TYPE = 1, VALUE_TYPE_UNIT = 2,
	SAMPLE_LOCATION_ID = 1, SAMPLE_VALUE = 2, SAMPLE_LABEL = 3,
	LABEL_KEY = 1, LABEL_STR = 2,
	LOCATION_ID = 1, LOCATION_LINE = 4,
	LINE_FUNCTION_ID = 1, LINE_LINE = 2,
	FUNCTION_ID = 1, FUNCTION_NAME = 2, FUNCTION_SYSTEM_NAME = 3, FUNCTION_FILENAME = 4,
};

/* pointer-keyed map: flame interns strings, so equal strings are equal pointers */
struct ptrmap {
	const void **k1, **k2;
	uint64_t *val;
	size_t mask, used;
};

struct pprof {
	struct flame *f;
	struct pb msg;		/* the Profile */
	struct pb strings;	/* string_table, appended to msg at the end */
	uint64_t nstrings;
	struct ptrmap str_ids;	/* string -> string_table index */
	struct ptrmap func_ids;	/* (func, file) -> Function id */
	double scale;
	uint64_t cause_key;
	uint64_t stack[FLAME_MAX_DEPTH];
	char clean[4096];
};

static int ptrmap__init(struct ptrmap *m, size_t size)
{
	m->k1 = calloc(size, sizeof(*m->k1));
	m->k2 = calloc(size, sizeof(*m->k2));
	m->val = calloc(size, sizeof(*m->val));
	m->mask = size - 1;
	m->used = 0;
	return m->k1 && m->k2 && m->val ? 0 : -ENOMEM;
}

static void ptrmap__free(struct ptrmap *m)
{
	free(m->k1);
	free(m->k2);
	free(m->val);
}

static size_t ptrmap__slot(const struct ptrmap *m, const void *a, const void *b)
{
	uint64_t h = (uintptr_t)a * 0x9e3779b97f4a7c15ULL ^ (uintptr_t)b * 0xc2b2ae3d27d4eb4fULL;
	size_t i;

	for (i = (h ^ (h >> 29)) & m->mask; m->val[i]; i = (i + 1) & m->mask)
		if (m->k1[i] == a && m->k2[i] == b)
			break;
	return i;
}

/* Values are never 0 (ids start at 1, string indices are stored plus one): 0 is empty. */
static int ptrmap__put(struct ptrmap *m, const void *a, const void *b, uint64_t val)
{
	size_t i = ptrmap__slot(m, a, b), j;
	struct ptrmap n;
	int err;

	m->k1[i] = a;
	m->k2[i] = b;
	m->val[i] = val;
	if (++m->used * 2 <= m->mask + 1)
		return 0;
	err = ptrmap__init(&n, (m->mask + 1) * 2);
	if (err) {
		ptrmap__free(&n);
		return err;
	}
	for (j = 0; j <= m->mask; j++) {
		if (!m->val[j])
			continue;
		i = ptrmap__slot(&n, m->k1[j], m->k2[j]);
		n.k1[i] = m->k1[j];
		n.k2[i] = m->k2[j];
		n.val[i] = m->val[j];
	}
	n.used = m->used;
	ptrmap__free(m);
	*m = n;
	return 0;
}

static uint64_t ptrmap__get(const struct ptrmap *m, const void *a, const void *b)
{
	return m->val[ptrmap__slot(m, a, b)];
}

/* The string_table index of s, added on first use; 0 is "" (and NULL). */
static uint64_t str(struct pprof *p, const char *s)
{
	uint64_t id;
	size_t n;

	if (!s || !*s)
		return 0;
	id = ptrmap__get(&p->str_ids, s, NULL);
	if (id)
		return id - 1;
	n = flame__clean(s, p->clean, sizeof(p->clean));
	pb__bytes(&p->strings, PROFILE_STRING_TABLE, p->clean, n);
	id = p->nstrings++;
	if (ptrmap__put(&p->str_ids, s, NULL, id + 1))
		p->msg.err = -ENOMEM;
	return id;
}

static void value_type(struct pprof *p, unsigned field, const char *type, const char *unit)
{
	size_t m = pb__begin(&p->msg, field);

	pb__int(&p->msg, VALUE_TYPE_TYPE, str(p, type));
	pb__int(&p->msg, VALUE_TYPE_UNIT, str(p, unit));
	pb__end(&p->msg, m);
}

/* Functions, then one Location per frame: Location id = frame id + 1. */
static int locations(struct pprof *p)
{
	const struct flame_frame *frames;
	int n = flame__frames(p->f, &frames), i;
	uint64_t nfuncs = 0;

	if (n < 0)
		return n;
	for (i = 0; i < n; i++) {
		const struct flame_frame *fr = &frames[i];
		uint64_t id = ptrmap__get(&p->func_ids, fr->func, fr->file);
		size_t m, l;

		if (!id) {
			id = ++nfuncs;
			if (ptrmap__put(&p->func_ids, fr->func, fr->file, id))
				p->msg.err = -ENOMEM;
			m = pb__begin(&p->msg, PROFILE_FUNCTION);
			pb__uint(&p->msg, FUNCTION_ID, id);
			pb__int(&p->msg, FUNCTION_NAME, str(p, fr->func));
			pb__int(&p->msg, FUNCTION_SYSTEM_NAME, str(p, fr->func));
			if (fr->file)
				pb__int(&p->msg, FUNCTION_FILENAME, str(p, fr->file));
			pb__end(&p->msg, m);
		}
		m = pb__begin(&p->msg, PROFILE_LOCATION);
		pb__uint(&p->msg, LOCATION_ID, i + 1);
		l = pb__begin(&p->msg, LOCATION_LINE);
		pb__uint(&p->msg, LINE_FUNCTION_ID, id);
		if (fr->line)
			pb__int(&p->msg, LINE_LINE, fr->line);
		pb__end(&p->msg, l);
		pb__end(&p->msg, m);
	}
	return p->msg.err;
}

static int visit(const struct flame_visit *v, void *ctx)
{
	struct pprof *p = ctx;
	uint64_t leaf_first[FLAME_MAX_DEPTH];
	int i, k;

	p->stack[v->depth] = v->frame_id + 1;
	if (v->self <= 0)
		return 0;
	for (i = 0; i <= v->depth; i++)
		leaf_first[i] = p->stack[v->depth - i];
	for (k = 0; k < v->nself_causes; k++) {
		/* weights are never negative: adding a half rounds to nearest, without libm */
		uint64_t value = (uint64_t)(v->self_causes[k].weight * p->scale + 0.5);
		size_t m, l;

		if (!value)
			continue;
		m = pb__begin(&p->msg, PROFILE_SAMPLE);
		pb__packed(&p->msg, SAMPLE_LOCATION_ID, leaf_first, v->depth + 1);
		pb__packed(&p->msg, SAMPLE_VALUE, &value, 1);
		l = pb__begin(&p->msg, SAMPLE_LABEL);
		pb__int(&p->msg, LABEL_KEY, p->cause_key);
		pb__int(&p->msg, LABEL_STR, str(p, v->self_causes[k].cause));
		pb__end(&p->msg, l);
		pb__end(&p->msg, m);
	}
	return p->msg.err;
}

static int gzip_out(const struct pb *b, FILE *out)
{
	unsigned char buf[64 * 1024];
	z_stream z = { 0 };
	int ret, err = 0;

	/* 15 + 16: a gzip header and trailer rather than zlib's */
	if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY))
		return -ENOMEM;
	z.next_in = b->buf;
	z.avail_in = b->len;
	do {
		z.next_out = buf;
		z.avail_out = sizeof(buf);
		ret = deflate(&z, Z_FINISH);
		if (ret == Z_STREAM_ERROR) {
			err = -EIO;
			goto cleanup;
		}
		if (fwrite(buf, 1, sizeof(buf) - z.avail_out, out) != sizeof(buf) - z.avail_out) {
			err = -EIO;
			goto cleanup;
		}
	} while (ret != Z_STREAM_END);
cleanup:
	deflateEnd(&z);
	return err;
}

int flame_pprof__write(struct flame *f, FILE *out)
{
	struct pprof *p = calloc(1, sizeof(*p));
	const char *unit = flame__unit(f);
	int err;

	if (!p)
		return -ENOMEM;
	p->f = f;
	pb__init(&p->msg);
	pb__init(&p->strings);
	err = ptrmap__init(&p->str_ids, 1024);
	if (!err)
		err = ptrmap__init(&p->func_ids, 1024);
	if (err)
		goto cleanup;
	pb__bytes(&p->strings, PROFILE_STRING_TABLE, "", 0);
	p->nstrings = 1;

	p->scale = 1;
	if (flame__counts(f)) {
		value_type(p, PROFILE_SAMPLE_TYPE, "samples", "count");
	} else if (strcmp(unit, "ms") == 0) {
		p->scale = 1000;
		value_type(p, PROFILE_SAMPLE_TYPE, "time", "microseconds");
	} else {
		value_type(p, PROFILE_SAMPLE_TYPE, "time", unit);
	}
	p->cause_key = str(p, "cause");
	if (*flame__title(f))
		pb__int(&p->msg, PROFILE_COMMENT, str(p, flame__title(f)));
	err = locations(p);
	if (err)
		goto cleanup;
	err = flame__walk(f, visit, p);
	if (err)
		goto cleanup;
	err = p->msg.err ? p->msg.err : p->strings.err;
	if (err)
		goto cleanup;
	/* fields may come in any order: the string table goes last, once it is complete */
	pb__append(&p->msg, &p->strings);
	err = p->msg.err;
	if (err)
		goto cleanup;
	err = gzip_out(&p->msg, out);
cleanup:
	pb__free(&p->msg);
	pb__free(&p->strings);
	ptrmap__free(&p->str_ids);
	ptrmap__free(&p->func_ids);
	free(p);
	return err;
}
