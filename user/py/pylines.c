// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Instruction -> line number, one decoder per line-table format, each a transcription of
 * CPython's own PyCode_Addr2Line() for that format. Inputs are untrusted copies of the
 * target's tables: every loop is bounded by the table length.
 */
#include <limits.h>
#include "pyinternal.h"

/* 3.8/3.9 co_lnotab: (address delta, signed line delta) byte pairs; addresses in bytes. */
int pylines__lnotab(const __u8 *tab, size_t len, int firstlineno, int addr_bytes)
{
	long long line = firstlineno;	/* a hostile first line must not overflow */
	int addr = 0;
	size_t i;

	for (i = 0; i + 1 < len; i += 2) {
		addr += tab[i];
		if (addr > addr_bytes)
			break;
		line += (signed char)tab[i + 1];
	}
	return line < 0 || line > 0x7fffffff ? -1 : (int)line;
}

/*
 * 3.10 co_linetable (PEP 626): (byte length, signed line delta) pairs, each covering
 * [start, start + length); a delta of -128 marks a range without a line.
 */
int pylines__linetable(const __u8 *tab, size_t len, int firstlineno, int addr_bytes)
{
	long long line = firstlineno, range_line = -1;
	int end = 0;
	size_t i;
	int delta;

	if (addr_bytes < 0)
		return firstlineno;
	for (i = 0; i + 1 < len; i += 2) {
		end += tab[i];
		delta = (signed char)tab[i + 1];
		if (delta == -128) {
			range_line = -1;
		} else {
			line += delta;
			range_line = line;
		}
		if (end > addr_bytes)
			return range_line < 0 || range_line > 0x7fffffff ? -1 : (int)range_line;
	}
	return -1;
}

/* PEP 657 varints: 6 payload bits per byte, bit 6 = more bytes follow. */
static unsigned int read_varint(const __u8 *tab, size_t len, size_t *pos)
{
	unsigned int val = 0, shift = 0;
	__u8 b;

	do {
		if (*pos >= len || shift > 28)
			return val;
		b = tab[(*pos)++];
		val |= (unsigned int)(b & 63) << shift;
		shift += 6;
	} while (b & 64);
	return val;
}

static int read_svarint(const __u8 *tab, size_t len, size_t *pos)
{
	unsigned int v = read_varint(tab, len, pos);

	return (v & 1) ? -(int)(v >> 1) : (int)(v >> 1);
}

/*
 * 3.11+ location table: entries start with a byte with bit 7 set, code = bits 3-6, length =
 * bits 0-2 plus one code unit. Codes: 15 no location, 14 long form, 13 no columns (both carry
 * a signed varint line delta), 10-12 line delta code - 10, 0-9 same line.
 */
int pylines__locations(const __u8 *tab, size_t len, int firstlineno, int addr_units)
{
	/* 64-bit: a corrupt table of 28-bit deltas must not overflow */
	long long line = firstlineno, range_line;
	int end = 0, code;
	size_t pos = 0;
	__u8 first;

	if (addr_units < 0)
		return firstlineno;
	while (pos < len) {
		first = tab[pos++];
		if (!(first & 0x80))
			continue;	/* resynchronise on a corrupt table */
		code = (first >> 3) & 15;
		if (code == 14 || code == 13)
			line += read_svarint(tab, len, &pos);
		else if (code >= 10 && code <= 12)
			line += code - 10;
		range_line = code == 15 ? -1 : line;
		end += (first & 7) + 1;
		/* skip the column payload up to the next entry */
		while (pos < len && !(tab[pos] & 0x80))
			pos++;
		if (end > addr_units)
			return range_line >= 0 && range_line <= INT_MAX ? (int)range_line : -1;
	}
	return -1;
}
