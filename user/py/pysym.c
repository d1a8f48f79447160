// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "pyinternal.h"
#include "pyproc.h"
#include "pysym.h"

#define CACHE_SLOTS 4096		/* direct-mapped, power of two */
#define LINETABLE_MAX (64 << 10)
#define CODE_HDR_MAX 256

/*
 * What a code object resolves to, keyed by address. The pointers it was built from are the
 * identity check: a freed code object's address can be reused by another code object, which
 * would have other name/file/table objects (or another first line).
 */
struct code_entry {
	__u64 code;			/* 0: empty slot */
	__u64 name_ptr;
	__u64 file_ptr;
	__u64 table_ptr;
	__s32 firstlineno;
	char *func;
	char *file;
	__u8 *table;
	size_t table_len;
};

struct pysym {
	const struct pyproc *p;
	struct code_entry *slots;
	struct pysym_stats st;
};

/* The fields of a code object header the symbolizer looks at. */
struct code_hdr {
	__u64 name_ptr;
	__u64 file_ptr;
	__u64 table_ptr;
	__s32 firstlineno;
};

int pysym__new(const struct pyproc *p, struct pysym **out)
{
	struct pysym *s;

	*out = NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->slots = calloc(CACHE_SLOTS, sizeof(*s->slots));
	if (!s->slots) {
		free(s);
		return -ENOMEM;
	}
	s->p = p;
	*out = s;
	return 0;
}

static void entry_clear(struct code_entry *e)
{
	free(e->func);
	free(e->file);
	free(e->table);
	memset(e, 0, sizeof(*e));
}

void pysym__free(struct pysym *s)
{
	size_t i;

	if (!s)
		return;
	for (i = 0; i < CACHE_SLOTS; i++)
		entry_clear(&s->slots[i]);
	free(s->slots);
	free(s);
}

void pysym__stats(const struct pysym *s, struct pysym_stats *st)
{
	*st = s->st;
}

static size_t slot_of(__u64 code)
{
	/* code objects are 16-byte aligned: drop the constant low bits before mixing */
	return (size_t)(((code >> 4) * 0x9e3779b97f4a7c15ULL) >> 52) & (CACHE_SLOTS - 1);
}

static __u16 max16(__u16 a, __u16 b)
{
	return a == PY_OFF_NONE ? b : b == PY_OFF_NONE ? a : a > b ? a : b;
}

/* One read of the code object's header; checks that it is a code object. */
static int read_code_hdr(struct pysym *s, __u64 code, struct code_hdr *h)
{
	const struct py_offsets *o = &pyproc__layout(s->p)->off;
	__u8 buf[CODE_HDR_MAX];
	__u16 end;
	__u64 type;

	end = max16(max16(max16(o->code_name, o->code_qualname), o->code_filename),
		    max16(o->code_linetable, o->obj_type)) + 8;
	if (end > sizeof(buf) || o->code_firstlineno + 4 > end)
		return -EPROTO;
	if (pyproc__read(s->p, code, buf, end)) {
		s->st.read_failures++;
		return -EFAULT;
	}
	memcpy(&type, buf + o->obj_type, 8);
	if (type != o->code_type)
		return -EINVAL;
	memcpy(&h->name_ptr, buf + (o->code_qualname != PY_OFF_NONE ? o->code_qualname :
				    o->code_name), 8);
	memcpy(&h->file_ptr, buf + o->code_filename, 8);
	memcpy(&h->table_ptr, buf + o->code_linetable, 8);
	memcpy(&h->firstlineno, buf + o->code_firstlineno, 4);
	return 0;
}

/* Read names and line table for a new entry; returns 0 if everything was read. */
static int entry_fill(struct pysym *s, __u64 code, const struct code_hdr *h,
		      struct code_entry *e)
{
	char buf[PY_FILE_LEN];
	int err, ret = 0;

	e->code = code;
	e->name_ptr = h->name_ptr;
	e->file_ptr = h->file_ptr;
	e->table_ptr = h->table_ptr;
	e->firstlineno = h->firstlineno;

	err = pyobj__read_str(s->p, h->name_ptr, buf, sizeof(buf));
	if (err) {
		s->st.read_failures += err == -EFAULT;
		ret = err;
	}
	e->func = strdup(err ? "?" : buf);
	err = pyobj__read_str(s->p, h->file_ptr, buf, sizeof(buf));
	if (err) {
		s->st.read_failures += err == -EFAULT;
		ret = err;
	}
	e->file = strdup(err ? "?" : buf);
	err = pyobj__read_bytes(s->p, h->table_ptr, LINETABLE_MAX, &e->table, &e->table_len);
	if (err) {
		s->st.bad_tables++;
		s->st.read_failures += err == -EFAULT;
		ret = err;
	}
	if (!e->func || !e->file)
		ret = -ENOMEM;
	return ret;
}

static int entry_line(const struct pysym *s, const struct code_entry *e, __s32 lasti)
{
	const struct py_layout *l = pyproc__layout(s->p);
	int bytes;

	if (!e->table)
		return -1;
	if (lasti < 0)
		return e->firstlineno;
	if (lasti > 0x3fffffff)
		return -1;	/* garbage from a torn or hostile read: no such instruction */
	bytes = (l->off.flags & PY_F_LASTI_BYTES) ? lasti : lasti * 2;
	switch (l->lines) {
	case PY_LINES_LNOTAB:
		return pylines__lnotab(e->table, e->table_len, e->firstlineno, bytes);
	case PY_LINES_LINETABLE:
		return pylines__linetable(e->table, e->table_len, e->firstlineno, bytes);
	default:
		return pylines__locations(e->table, e->table_len, e->firstlineno, bytes / 2);
	}
}

static void fill_out(const struct pysym *s, const struct code_entry *e, __s32 lasti,
		     struct py_frame *out)
{
	int line = entry_line(s, e, lasti);

	snprintf(out->func, sizeof(out->func), "%s", e->func ? e->func : "?");
	snprintf(out->file, sizeof(out->file), "%s", e->file ? e->file : "?");
	out->line = line > 0 ? (__u32)line : 0;
}

int pysym__resolve(struct pysym *s, const struct py_raw_frame *rf, struct py_frame *out)
{
	struct code_entry *e, tmp = { 0 };
	struct code_hdr h;
	int err;

	s->st.lookups++;
	err = read_code_hdr(s, rf->code, &h);
	e = &s->slots[slot_of(rf->code)];
	if (err && e->code == rf->code && (err == -EINVAL || err == -EFAULT) &&
	    (!rf->ident || rf->ident == e->file_ptr)) {
		/*
		 * Freed since it was cached (a module's code dies once its import ends). A
		 * replacement code object would have passed the type check and then failed
		 * the identity check below, so this entry is still the one the stack saw.
		 */
		s->st.dead++;
		fill_out(s, e, rf->lasti, out);
		return 0;
	}
	if (err) {
		s->st.invalid += err == -EINVAL;
		return err;
	}
	if (rf->ident && rf->ident != h.file_ptr) {
		/* another code object lives at this address now */
		s->st.stale++;
		return -ESTALE;
	}
	if (e->code == rf->code) {
		if (e->name_ptr == h.name_ptr && e->file_ptr == h.file_ptr &&
		    e->table_ptr == h.table_ptr && e->firstlineno == h.firstlineno) {
			s->st.hits++;
			fill_out(s, e, rf->lasti, out);
			return 0;
		}
		s->st.stale++;
	}
	/* a partly unreadable code object is answered but not cached: the failure may pass */
	if (entry_fill(s, rf->code, &h, &tmp)) {
		fill_out(s, &tmp, rf->lasti, out);
		entry_clear(&tmp);
		return 0;
	}
	entry_clear(e);
	*e = tmp;
	fill_out(s, e, rf->lasti, out);
	return 0;
}
