/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A minimal protocol buffers encoder: varints and length-delimited fields into a growing
 * buffer. Enough for pprof's profile.proto; no schema, no decoding.
 */
#ifndef __PB_H
#define __PB_H

#include <stddef.h>
#include <stdint.h>

struct pb {
	unsigned char *buf;
	size_t len, cap;
	int err;		/* sticky: the first -ENOMEM; every later call does nothing */
};

void pb__init(struct pb *b);
void pb__free(struct pb *b);

void pb__uint(struct pb *b, unsigned field, uint64_t v);	/* a varint */
void pb__int(struct pb *b, unsigned field, int64_t v);		/* int64: two's complement */
void pb__bytes(struct pb *b, unsigned field, const void *p, size_t n);	/* strings too */
/* repeated varints, packed */
void pb__packed(struct pb *b, unsigned field, const uint64_t *v, size_t n);
/* other's fields, as they are */
void pb__append(struct pb *b, const struct pb *other);

/* A nested message: fields written between begin and end go inside it. */
size_t pb__begin(struct pb *b, unsigned field);
void pb__end(struct pb *b, size_t mark);

#endif /* __PB_H */
