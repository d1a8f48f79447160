// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "pb.h"

enum { WIRE_VARINT = 0, WIRE_LEN = 2 };

void pb__init(struct pb *b)
{
	memset(b, 0, sizeof(*b));
}

void pb__free(struct pb *b)
{
	free(b->buf);
	pb__init(b);
}

static int reserve(struct pb *b, size_t n)
{
	size_t cap = b->cap ? b->cap : 4096;
	unsigned char *p;

	if (b->err)
		return b->err;
	if (b->len + n <= b->cap)
		return 0;
	while (cap < b->len + n)
		cap *= 2;
	p = realloc(b->buf, cap);
	if (!p)
		return b->err = -ENOMEM;
	b->buf = p;
	b->cap = cap;
	return 0;
}

static size_t varint_size(uint64_t v)
{
	size_t n = 1;

	for (; v >= 0x80; v >>= 7)
		n++;
	return n;
}

static void varint(struct pb *b, uint64_t v)
{
	if (reserve(b, 10))
		return;
	for (; v >= 0x80; v >>= 7)
		b->buf[b->len++] = (v & 0x7f) | 0x80;
	b->buf[b->len++] = v;
}

static void tag(struct pb *b, unsigned field, unsigned wire)
{
	varint(b, (uint64_t)field << 3 | wire);
}

void pb__uint(struct pb *b, unsigned field, uint64_t v)
{
	tag(b, field, WIRE_VARINT);
	varint(b, v);
}

void pb__int(struct pb *b, unsigned field, int64_t v)
{
	pb__uint(b, field, (uint64_t)v);
}

void pb__bytes(struct pb *b, unsigned field, const void *p, size_t n)
{
	tag(b, field, WIRE_LEN);
	varint(b, n);
	if (reserve(b, n))
		return;
	memcpy(b->buf + b->len, p, n);
	b->len += n;
}

void pb__packed(struct pb *b, unsigned field, const uint64_t *v, size_t n)
{
	size_t size = 0, i;

	if (!n)
		return;
	for (i = 0; i < n; i++)
		size += varint_size(v[i]);
	tag(b, field, WIRE_LEN);
	varint(b, size);
	for (i = 0; i < n; i++)
		varint(b, v[i]);
}

void pb__append(struct pb *b, const struct pb *other)
{
	if (reserve(b, other->len))
		return;
	memcpy(b->buf + b->len, other->buf, other->len);
	b->len += other->len;
}

/*
 * The length goes before the contents but is known only after them: reserve one byte, the
 * usual size for pprof's small messages, and move the contents up if the length needs more.
 */
size_t pb__begin(struct pb *b, unsigned field)
{
	tag(b, field, WIRE_LEN);
	if (reserve(b, 1))
		return 0;
	b->buf[b->len++] = 0;
	return b->len;
}

void pb__end(struct pb *b, size_t mark)
{
	size_t n, extra;

	if (b->err)
		return;
	n = b->len - mark;
	extra = varint_size(n) - 1;
	if (extra) {
		if (reserve(b, extra))
			return;
		memmove(b->buf + mark + extra, b->buf + mark, n);
		b->len += extra;
	}
	b->len = mark - 1;
	varint(b, n);
	b->len += n;
}
