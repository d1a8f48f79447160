// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
// fuzz-sources: user/py/pyversions.c
/*
 * libFuzzer harness: user/py/pyversions.c parsers of bytes that come from the target, i.e.
 * _Py_DebugOffsets (the first PY_DEBUG_OFFSETS_MAX bytes of _PyRuntime, 3.13+), _asyncio's
 * AsyncioDebug section (3.14+) and version strings.
 *
 * Input: [0] minor release (8 + value % 8), [1..] the debug offsets buffer (at most
 * PY_DEBUG_OFFSETS_MAX bytes are used); the last PY_ASYNCIO_DEBUG_LEN bytes also serve as an
 * AsyncioDebug section and the last 40 as a version string.
 *
 * Beyond "no crash", it checks the promises consumers rely on after a successful parse: every
 * offset that the reader adds to a remote address fits in 16 bits and is never PY_OFF_NONE
 * where the parser claims to have set it, and the struct-copy bounds the readers use hold
 * (pyobj.c reads str_ascii_data header bytes into a 128-byte buffer, pysym.c reads code
 * objects through a 256-byte one).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "py/pyinternal.h"

/* Set LS_FUZZ_STRICT=0 to check only for memory errors, not for the consumer invariants. */
static int strict = -1;

static void check_consumers(const struct py_layout *l)
{
	if (!strict)
		return;
	/* pyobj__read_str: pyproc__read(p, addr, hdr[128], l->str_ascii_data) */
	if (l->str_ascii_data > 128 || l->str_length + 8 > 128 || l->str_state + 4 > 128) {
		fprintf(stderr, "invariant: accepted layout overflows pyobj.c's 128-byte str header: "
			"asciiobject_size %u length %u state %u\n", l->str_ascii_data,
			l->str_length, l->str_state);
		abort();
	}
	/* pyobj__read_str reads length and state out of the str_ascii_data bytes it read */
	if (l->str_length + 8 > l->str_ascii_data || l->str_state + 4 > l->str_ascii_data) {
		fprintf(stderr, "invariant: accepted layout reads str fields beyond the header it copies: "
			"asciiobject_size %u length %u state %u\n", l->str_ascii_data,
			l->str_length, l->str_state);
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct py_layout l;
	unsigned int minor, maj, min, mic;
	char msg[256], ver[41];
	const uint8_t *buf;
	uint8_t *copy;
	size_t len, vlen;
	int err;

	if (strict < 0) {
		const char *s = getenv("LS_FUZZ_STRICT");

		strict = !s || strcmp(s, "0");
	}
	if (size < 1)
		return 0;
	minor = 8 + data[0] % 8;
	buf = data + 1;
	len = size - 1 < PY_DEBUG_OFFSETS_MAX ? size - 1 : PY_DEBUG_OFFSETS_MAX;
	copy = malloc(len ? len : 1);	/* exact size: ASan catches over-reads */
	if (!copy)
		return 0;
	memcpy(copy, buf, len);

	if (pyversion__layout(minor, &l))
		abort();	/* every minor in 3.8..3.15 has a layout */
	if (l.debug_offsets) {
		err = pyversion__apply_debug_offsets(&l, copy, len, msg, sizeof(msg));
		if (err != 0 && err != -EPROTO && err != -EOPNOTSUPP)
			abort();
		if (!memchr(msg, '\0', sizeof(msg)))
			abort();
		if (!err)
			check_consumers(&l);
	}
	if (size - 1 >= PY_ASYNCIO_DEBUG_LEN) {
		const uint8_t *tail = data + size - PY_ASYNCIO_DEBUG_LEN;
		uint8_t ad[PY_ASYNCIO_DEBUG_LEN];

		memcpy(ad, tail, sizeof(ad));
		err = pyversion__apply_asyncio_debug(&l, ad, sizeof(ad), msg, sizeof(msg));
		if (err != 0 && err != -EPROTO)
			abort();
		if (!err && (l.aio.task_name >= l.aio.task_size || l.aio.task_coro >= l.aio.task_size))
			abort();
	}
	/* a short AsyncioDebug must be refused, never read past */
	err = pyversion__apply_asyncio_debug(&l, copy, len < PY_ASYNCIO_DEBUG_LEN ? len : 0, msg,
					     sizeof(msg));
	if (!err)
		abort();

	vlen = size - 1 < 40 ? size - 1 : 40;
	memcpy(ver, data + size - vlen, vlen);
	ver[vlen] = '\0';
	if (!pyversion__parse(ver, &maj, &min, &mic) && (maj > 9 || min > 99 || mic > 999))
		abort();
	free(copy);
	return 0;
}
