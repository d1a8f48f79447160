// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
// fuzz-sources: user/py/pylines.c
/*
 * libFuzzer harness: the line-table decoders of user/py/pylines.c, all three formats, on
 * untrusted tables (they are copies of a target's memory).
 *
 * Input: [0] format (0 lnotab 3.8/3.9, 1 linetable 3.10, 2 locations 3.11+, mod 3),
 *        [1..4] co_firstlineno (s32 LE), [5..8] instruction address (s32 LE: bytes for the
 *        first two formats, code units for the third), [9..] the table.
 * Every decoder also runs at a few addresses around the given one and at the table's end.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "py/pyinternal.h"

#define HDR 9

static int decode(int kind, const __u8 *tab, size_t len, int first, int addr)
{
	switch (kind) {
	case 0:
		return pylines__lnotab(tab, len, first, addr);
	case 1:
		return pylines__linetable(tab, len, first, addr);
	default:
		return pylines__locations(tab, len, first, addr);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int probes[] = { 0, 1, -1, 2, 64, INT32_MAX, INT32_MIN };
	__s32 first, addr;
	__u8 *tab;
	size_t len, i;
	int kind, line;

	if (size < HDR)
		return 0;
	kind = data[0] % 3;
	memcpy(&first, data + 1, 4);
	memcpy(&addr, data + 5, 4);
	len = size - HDR;
	/* an exact-size heap copy: ASan sees any read past the table */
	tab = malloc(len ? len : 1);
	if (!tab)
		return 0;
	memcpy(tab, data + HDR, len);

	line = decode(kind, tab, len, first, addr);
	(void)line;
	for (i = 0; i < sizeof(probes) / sizeof(probes[0]); i++)
		decode(kind, tab, len, first, probes[i] == 1 ? addr + (addr < INT32_MAX) :
					       probes[i] == 2 ? (int)(len * 2) : probes[i]);
	/* an empty table never yields a line other than the first line or "none" */
	line = decode(kind, tab, 0, first, addr);
	if (line != first && line != -1)
		abort();
	free(tab);
	return 0;
}
