// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Copying str and bytes objects out of the target, validated by type and size. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "pyinternal.h"

#define STR_MAX_CHARS 1024	/* names and file names longer than this are cut */

/* PyASCIIObject.state bits, identical in every supported (GIL) build */
#define STATE_KIND(s) (((s) >> 2) & 7)
#define STATE_COMPACT(s) (((s) >> 5) & 1)
#define STATE_ASCII(s) (((s) >> 6) & 1)

/* Append code point c as UTF-8 if it fits (with the NUL); returns bytes written. */
static size_t put_utf8(char *out, size_t room, __u32 c)
{
	unsigned char b[4];
	size_t n;

	if (c >= 0x110000)
		c = '?';
	if (c < 0x80) {
		b[0] = (unsigned char)c;
		n = 1;
	} else if (c < 0x800) {
		b[0] = 0xc0 | (c >> 6);
		b[1] = 0x80 | (c & 0x3f);
		n = 2;
	} else if (c < 0x10000) {
		b[0] = 0xe0 | (c >> 12);
		b[1] = 0x80 | ((c >> 6) & 0x3f);
		b[2] = 0x80 | (c & 0x3f);
		n = 3;
	} else {
		b[0] = 0xf0 | (c >> 18);
		b[1] = 0x80 | ((c >> 12) & 0x3f);
		b[2] = 0x80 | ((c >> 6) & 0x3f);
		b[3] = 0x80 | (c & 0x3f);
		n = 4;
	}
	if (n >= room)
		return 0;
	memcpy(out, b, n);
	return n;
}

int pyobj__read_str(const struct pyproc *p, __u64 addr, char *out, size_t outlen)
{
	const struct py_layout *l = pyproc__layout(p);
	__u8 hdr[128], *chars = NULL;
	__u64 type, len, data;
	__u32 state, kind, c;
	size_t i, pos = 0, n;
	int err;

	if (!outlen)
		return -EINVAL;
	out[0] = '\0';
	/* offsets may come from the target's own _Py_DebugOffsets: trust none of them */
	if ((size_t)l->str_compact_data + 8 > sizeof(hdr) || l->str_ascii_data > sizeof(hdr) ||
	    (size_t)l->off.obj_type + 8 > l->str_ascii_data ||
	    (size_t)l->str_length + 8 > l->str_ascii_data ||
	    (size_t)l->str_state + 4 > l->str_ascii_data)
		return -EPROTO;
	/* the header up to where compact ASCII characters start: always inside the object */
	err = pyproc__read(p, addr, hdr, l->str_ascii_data);
	if (err)
		return err;
	memcpy(&type, hdr + l->off.obj_type, 8);
	memcpy(&len, hdr + l->str_length, 8);
	memcpy(&state, hdr + l->str_state, 4);
	if (type != l->str_type)
		return -EINVAL;
	kind = STATE_KIND(state);
	if (kind != 1 && kind != 2 && kind != 4)
		return -EINVAL;
	if ((__s64)len < 0)
		return -EINVAL;
	if (len > STR_MAX_CHARS)
		len = STR_MAX_CHARS;
	if (STATE_COMPACT(state) && STATE_ASCII(state)) {
		data = addr + l->str_ascii_data;
	} else if (STATE_COMPACT(state)) {
		data = addr + l->str_compact_data;
	} else {
		/* legacy string: characters live in a separate buffer (data.any) */
		err = pyproc__read_u64(p, addr + l->str_compact_data, &data);
		if (err)
			return err;
		if (!data)
			return -EINVAL;
	}
	n = (size_t)len * kind;
	chars = malloc(n ? n : 1);
	if (!chars)
		return -ENOMEM;
	err = pyproc__read(p, data, chars, n);
	if (err)
		goto cleanup;
	for (i = 0; i < len; i++) {
		if (kind == 1) {
			c = chars[i];
		} else if (kind == 2) {
			__u16 u;

			memcpy(&u, chars + 2 * i, 2);
			c = u;
		} else {
			memcpy(&c, chars + 4 * i, 4);
		}
		if (!c)
			c = '?';	/* keep the result a C string */
		n = put_utf8(out + pos, outlen - pos, c);
		if (!n)
			break;
		pos += n;
	}
	out[pos] = '\0';
cleanup:
	free(chars);
	return err;
}

int pyobj__read_bytes(const struct pyproc *p, __u64 addr, size_t max, __u8 **data, size_t *len)
{
	const struct py_layout *l = pyproc__layout(p);
	__u64 hdr[2], size;
	__u8 *buf;
	int err;

	*data = NULL;
	*len = 0;
	/* ob_type and ob_size are adjacent in every version: one read */
	if (l->bytes_size != l->off.obj_type + 8)
		return -EPROTO;
	err = pyproc__read(p, addr + l->off.obj_type, hdr, sizeof(hdr));
	if (err)
		return err;
	if (hdr[0] != l->bytes_type)
		return -EINVAL;
	size = hdr[1];
	if ((__s64)size < 0 || size > max)
		return -E2BIG;
	buf = malloc(size ? size : 1);
	if (!buf)
		return -ENOMEM;
	err = pyproc__read(p, addr + l->bytes_data, buf, size);
	if (err) {
		free(buf);
		return err;
	}
	*data = buf;
	*len = size;
	return 0;
}
