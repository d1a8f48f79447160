// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * asyncio from outside: _asyncio's task registries, each task's await chain, and the running
 * loops, read with process_vm_readv. Where the registries live depends on the version
 * (cpython-internals.md §3.1): a WeakSet exported by _asyncio (3.8-3.11), a WeakSet plus a set
 * in the module state (3.12/3.13), intrusive per-thread lists described by the AsyncioDebug
 * section (3.14+). Offsets come from py_layout.aio (pyversions.c); this file has no version
 * numbers, only the kinds of layout the table names.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "pyinternal.h"
#include "pyproc.h"
#include "pysym.h"
#include "pytasks.h"

#define NONE PY_OFF_NONE

#define MAX_TASKS 100000	/* tasks gathered per listing */
#define MAX_DICT_ENTRIES 65536	/* sys.modules and instance dicts are far smaller */
#define MAX_SET_SLOTS (1 << 20)	/* a WeakSet of MAX_TASKS tasks needs 256k */
#define MAX_THREADS 1024
#define MAX_BASES 16		/* tp_base hops when checking for a Task subclass */
#define TYPE_SLOTS 256		/* direct-mapped type cache, power of two */
#define TYPE_NAME_LEN 64
#define HEADER_MAX 512		/* bytes of a task read at once */
#define TYPE_HDR 296		/* PyTypeObject up to and including tp_dictoffset */
#define INDEX_MIN_AGE_NS (2 * 1000000ULL)	/* rebuilds of the coroutine index: at most 500/s */

/* tp_flags bits, identical 3.8-3.15 unless noted */
#define TPF_INLINE_VALUES (1ULL << 2)	/* 3.13+ */
#define TPF_MANAGED_DICT (1ULL << 4)	/* 3.11+ */
#define TPF_HEAPTYPE (1ULL << 9)
#define TPF_LONG_SUBCLASS (1ULL << 24)
#define TPF_UNICODE_SUBCLASS (1ULL << 28)
#define TPF_DICT_SUBCLASS (1ULL << 29)

#define RUNNING_LOOP_KEY "__asyncio_running_event_loop__"

struct type_info {
	__u64 addr;			/* 0: empty slot */
	__u64 flags;
	__u64 base;
	__u64 basicsize;
	__s64 dictoffset;
	__u64 cached_keys;		/* shared instance-dict keys of heap types, or 0 */
	int is_task;			/* -1: not known yet */
	char name[TYPE_NAME_LEN];	/* tp_name as the interpreter has it */
};

/* An entry of the coroutine index: a task as the registries showed it, alive. */
struct coro_task {
	__u64 coro;
	__u64 task;
	__u64 qualname;			/* the coroutine's __qualname__ str object, or 0 */
	char name[64];			/* the task's name then; "" if it could not be read */
};

/* An attribute name and the str object that last matched it (names are interned). */
struct name_cache {
	const char *name;
	__u64 str;
};

struct pytasks {
	struct pyproc *p;
	const struct py_layout *l;
	struct pysym *sym;
	__u64 module;			/* the _asyncio module object */
	__u64 module_dict;
	__u64 task_type;		/* _asyncio.Task */
	struct type_info *types;
	struct name_cache names[16];
	__u64 *addrs;			/* tasks found by the latest gathering */
	size_t naddrs;
	size_t cap;
	unsigned int gather_flags;	/* PY_TASKS_* of the latest gathering */
	unsigned int list_flags;
	struct coro_task *index;	/* sorted by coro */
	size_t nindex;
	__u64 index_time;
};

/* ------------------------------------------------------------------------------------------ */
/* reading */

static int rd(struct pytasks *t, __u64 addr, void *buf, size_t len)
{
	return pyproc__read(t->p, addr, buf, len);
}

static int rd64(struct pytasks *t, __u64 addr, __u64 *v)
{
	return pyproc__read_u64(t->p, addr, v);
}

static __u64 get64(const __u8 *buf, size_t off)
{
	__u64 v;

	memcpy(&v, buf + off, sizeof(v));
	return v;
}

static __s32 get32(const __u8 *buf, size_t off)
{
	__s32 v;

	memcpy(&v, buf + off, sizeof(v));
	return v;
}

/* A C string of the target, read without crossing into a page that may not be mapped. */
static int rd_cstr(struct pytasks *t, __u64 addr, char *out, size_t len)
{
	size_t pos = 0, chunk;
	char *nul;
	int err;

	if (!len)
		return -EINVAL;
	while (pos + 1 < len) {
		chunk = 4096 - ((addr + pos) & 4095);
		if (chunk > len - 1 - pos)
			chunk = len - 1 - pos;
		err = rd(t, addr + pos, out + pos, chunk);
		if (err)
			return err;
		nul = memchr(out + pos, '\0', chunk);
		if (nul)
			return 0;
		pos += chunk;
	}
	out[pos] = '\0';
	return 0;
}

static __u64 now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + (__u64)ts.tv_nsec;
}

/* ------------------------------------------------------------------------------------------ */
/* types */

static void types_reset(struct pytasks *t)
{
	memset(t->types, 0, TYPE_SLOTS * sizeof(*t->types));
}

/* The type object at addr, cached: type objects outlive the objects that point at them. */
static const struct type_info *type_info(struct pytasks *t, __u64 addr)
{
	const struct py_asyncio_layout *a = &t->l->aio;
	struct type_info *ti = &t->types[(addr >> 4) & (TYPE_SLOTS - 1)];
	__u8 hdr[TYPE_HDR];
	__u64 name;

	if (!addr)
		return NULL;
	if (ti->addr == addr)
		return ti;
	if (a->type_dictoffset + 8 > sizeof(hdr) || rd(t, addr, hdr, a->type_dictoffset + 8))
		return NULL;
	memset(ti, 0, sizeof(*ti));
	name = get64(hdr, a->type_name);
	if (rd_cstr(t, name, ti->name, sizeof(ti->name)))
		return NULL;
	ti->flags = get64(hdr, a->type_flags);
	ti->base = get64(hdr, a->type_base);
	ti->basicsize = get64(hdr, a->type_basicsize);
	ti->dictoffset = (__s64)get64(hdr, a->type_dictoffset);
	if ((ti->flags & TPF_HEAPTYPE) && a->ht_cached_keys != NONE &&
	    rd64(t, addr + a->ht_cached_keys, &ti->cached_keys))
		ti->cached_keys = 0;
	ti->is_task = -1;
	ti->addr = addr;
	return ti;
}

static const struct type_info *type_of(struct pytasks *t, __u64 obj)
{
	__u64 type;

	if (!obj || rd64(t, obj + t->l->off.obj_type, &type))
		return NULL;
	return type_info(t, type);
}

static bool type_is(const struct type_info *ti, const char *name)
{
	return ti && !strcmp(ti->name, name);
}

/* "_asyncio.Task" -> "Task": what Python's type(x).__name__ says. */
static const char *short_name(const char *name)
{
	const char *dot = strrchr(name, '.');

	return dot ? dot + 1 : name;
}

/* _asyncio.Task or a subclass of it. */
static bool type_is_task(struct pytasks *t, __u64 type)
{
	const struct type_info *ti = type_info(t, type);
	struct type_info *slot;
	__u64 base = type;
	int i, is_task = 0;

	if (!ti)
		return false;
	if (ti->is_task >= 0)
		return ti->is_task;
	for (i = 0; base && i < MAX_BASES; i++) {
		if (base == t->task_type) {
			is_task = 1;
			break;
		}
		ti = type_info(t, base);
		if (!ti)
			break;
		base = ti->base;
	}
	/* looking at the bases may have evicted the type's own slot */
	slot = (struct type_info *)type_info(t, type);
	if (slot)
		slot->is_task = is_task;
	return is_task;
}

/* ------------------------------------------------------------------------------------------ */
/* str, int, dict, set */

/* Does str object key spell name? Matches are remembered: attribute names are interned. */
static bool key_is(struct pytasks *t, __u64 key, const char *name, bool slow)
{
	struct name_cache *c = NULL;
	char buf[128];
	size_t i;

	for (i = 0; i < sizeof(t->names) / sizeof(t->names[0]); i++) {
		if (!t->names[i].name || !strcmp(t->names[i].name, name)) {
			c = &t->names[i];
			break;
		}
	}
	if (c && c->name && c->str == key)
		return true;
	if (!slow || pyobj__read_str(t->p, key, buf, sizeof(buf)) || strcmp(buf, name))
		return false;
	if (c) {
		c->name = name;
		c->str = key;
	}
	return true;
}

/* Task names: a str, or since 3.12 the int N of an unnamed "Task-N". */
static int read_name(struct pytasks *t, __u64 obj, char *out, size_t len)
{
	const struct type_info *ti = type_of(t, obj);
	__u8 hdr[32];
	__u64 v, n;
	__s64 size;
	bool neg;

	out[0] = '\0';
	if (!ti)
		return -EFAULT;
	if (ti->flags & TPF_UNICODE_SUBCLASS)
		return pyobj__read_str(t->p, obj, out, len);
	if (!(ti->flags & TPF_LONG_SUBCLASS) || rd(t, obj, hdr, sizeof(hdr)))
		return -EINVAL;
	if (t->l->aio.long_tag) {
		v = get64(hdr, 16);
		n = v >> 3;
		neg = (v & 3) == 2;
	} else {
		size = (__s64)get64(hdr, 16);
		n = size < 0 ? -size : size;
		neg = size < 0;
	}
	/* 30-bit digits; task counters never need more than two */
	if (n > 2)
		return -ERANGE;
	v = n ? (__u32)get32(hdr, 24) : 0;
	if (n > 1)
		v |= (__u64)(__u32)get32(hdr, 28) << 30;
	snprintf(out, len, "Task-%s%llu", neg ? "-" : "", (unsigned long long)v);
	return 0;
}

typedef int (*kv_cb)(struct pytasks *t, __u64 key, __u64 value, void *ctx);

/*
 * Visit the live entries of a dict keys object. values, when non-zero, is the first value of
 * a split table (at most nvalues of them); otherwise values sit in the entries.
 */
static int keys_for_each(struct pytasks *t, __u64 keys, __u64 values, __u64 nvalues, kv_cb cb,
			 void *ctx)
{
	const struct py_asyncio_layout *a = &t->l->aio;
	__u64 n, size, entries, *vals = NULL, key, val;
	size_t esize = 24, koff = 8, voff = 16, ib, i;
	__u8 hdr[40], *ents = NULL;
	int err, ret = 0;

	err = rd(t, keys, hdr, sizeof(hdr));
	if (err)
		return err;
	if (a->dict_log2) {
		if (hdr[8] > 30 || hdr[9] > 34 || hdr[10] > 2)
			return -EPROTO;
		size = 1ULL << hdr[8];
		n = get64(hdr, 24);
		entries = keys + 32 + (1ULL << hdr[9]);
		if (hdr[10]) {		/* unicode or split: no hash stored */
			esize = 16;
			koff = 0;
			voff = 8;
		}
	} else {
		size = get64(hdr, 8);
		n = get64(hdr, 32);
		if (!size || (size & (size - 1)) || size > (1ULL << 30))
			return -EPROTO;
		ib = size <= 0xff ? 1 : size <= 0xffff ? 2 : size <= 0xffffffffULL ? 4 : 8;
		entries = keys + 40 + size * ib;
	}
	if (n > size || n > MAX_DICT_ENTRIES)
		return -EPROTO;
	if (!n)
		return 0;
	ents = malloc(n * esize);
	if (!ents)
		return -ENOMEM;
	err = rd(t, entries, ents, n * esize);
	if (err)
		goto cleanup;
	if (values) {
		if (nvalues < n)
			n = nvalues;
		vals = calloc(n ? n : 1, sizeof(*vals));
		if (!vals) {
			err = -ENOMEM;
			goto cleanup;
		}
		err = rd(t, values, vals, n * sizeof(*vals));
		if (err)
			goto cleanup;
	}
	for (i = 0; i < n && !ret; i++) {
		key = get64(ents, i * esize + koff);
		val = vals ? vals[i] : get64(ents, i * esize + voff);
		if (key && val)
			ret = cb(t, key, val, ctx);
	}
	err = ret < 0 ? ret : 0;
cleanup:
	free(vals);
	free(ents);
	return err;
}

/* Visit a dict object's entries. */
static int dict_for_each(struct pytasks *t, __u64 dict, kv_cb cb, void *ctx)
{
	const struct type_info *ti;
	__u8 d[48];
	__u64 values;
	int err;

	err = rd(t, dict, d, sizeof(d));
	if (err)
		return err;
	ti = type_info(t, get64(d, t->l->off.obj_type));
	if (!ti || !(ti->flags & TPF_DICT_SUBCLASS))
		return -EPROTO;
	values = get64(d, 40);		/* ma_values: split table */
	if (values)
		values += t->l->aio.values_data;
	return keys_for_each(t, get64(d, 32), values, ~0ULL, cb, ctx);
}

struct lookup {
	const char *name;
	bool slow;		/* compare strings, not just remembered pointers */
	__u64 value;
};

static int match_key(struct pytasks *t, __u64 key, __u64 value, void *ctx)
{
	struct lookup *q = ctx;

	if (!key_is(t, key, q->name, q->slow))
		return 0;
	q->value = value;
	return 1;
}

/* A str-keyed lookup: remembered key pointers first, then string compares. */
static int lookup_in(struct pytasks *t, __u64 dict, __u64 keys, __u64 values, __u64 nvalues,
		     const char *name, __u64 *value)
{
	struct lookup q = { .name = name };
	int err, pass;

	for (pass = 0; pass < 2; pass++) {
		q.slow = pass;
		err = dict ? dict_for_each(t, dict, match_key, &q) :
			     keys_for_each(t, keys, values, nvalues, match_key, &q);
		if (err)
			return err;
		if (q.value) {
			*value = q.value;
			return 0;
		}
	}
	return -ENOENT;
}

static int dict_get(struct pytasks *t, __u64 dict, const char *name, __u64 *value)
{
	if (!dict)
		return -ENOENT;
	return lookup_in(t, dict, 0, 0, 0, name, value);
}

/* obj.name from the instance's __dict__, however this version stores it. */
static int obj_attr(struct pytasks *t, __u64 obj, const char *name, __u64 *value)
{
	const struct py_asyncio_layout *a = &t->l->aio;
	const struct type_info *ti = type_of(t, obj);
	__u64 w, dict = 0, cached_keys;
	__u8 hdr[8];

	if (!ti)
		return -EFAULT;
	cached_keys = ti->cached_keys;
	if (a->attrs == PY_ATTRS_DICTOFFSET || !(ti->flags & TPF_MANAGED_DICT)) {
		if (ti->dictoffset <= 0 || rd64(t, obj + ti->dictoffset, &dict))
			return -ENOENT;
		return dict_get(t, dict, name, value);
	}
	switch (a->attrs) {
	case PY_ATTRS_MANAGED:
		if (rd64(t, obj - 24, &dict))
			return -EFAULT;
		if (dict)
			return dict_get(t, dict, name, value);
		if (rd64(t, obj - 32, &w) || !w || !cached_keys)
			return -ENOENT;
		return lookup_in(t, 0, cached_keys, w, ~0ULL, name, value);
	case PY_ATTRS_TAGGED:
		if (rd64(t, obj - 24, &w))
			return -EFAULT;
		if (!(w & 1))
			return dict_get(t, w, name, value);
		if (!cached_keys)
			return -ENOENT;
		return lookup_in(t, 0, cached_keys, w + 1, ~0ULL, name, value);
	default:
		if ((ti->flags & TPF_INLINE_VALUES) && cached_keys &&
		    !rd(t, obj + ti->basicsize, hdr, sizeof(hdr)) && hdr[3])
			/* valid inline values: capacity in byte 0 */
			return lookup_in(t, 0, cached_keys, obj + ti->basicsize + a->values_data,
					 hdr[0], name, value);
		if (rd64(t, obj - 24, &dict))
			return -EFAULT;
		return dict_get(t, dict, name, value);
	}
}

typedef int (*item_cb)(struct pytasks *t, __u64 item, void *ctx);

/* Visit the members of a set; a table that disagrees with its count is read twice. */
static int set_for_each(struct pytasks *t, __u64 set, item_cb cb, void *ctx, bool *partial)
{
	__u8 hdr[48], *table = NULL;
	__u64 used, mask, key, found;
	size_t i;
	int err, attempt, ret = 0;

	for (attempt = 0; attempt < 2; attempt++) {
		err = rd(t, set, hdr, sizeof(hdr));
		if (err)
			goto cleanup;
		used = get64(hdr, 24);
		mask = get64(hdr, 32);
		if (mask + 1 > MAX_SET_SLOTS || ((mask + 1) & mask) || used > mask + 1) {
			err = -EPROTO;
			continue;
		}
		free(table);
		table = malloc((mask + 1) * 16);
		if (!table) {
			err = -ENOMEM;
			goto cleanup;
		}
		err = rd(t, get64(hdr, 40), table, (mask + 1) * 16);
		if (err)
			continue;
		/* setentry {key, hash}: deleted slots keep a dummy key with hash -1 */
		for (i = 0, found = 0; i <= mask; i++)
			found += get64(table, i * 16) && (__s64)get64(table, i * 16 + 8) != -1;
		if (found == used)
			break;
		err = -EAGAIN;
	}
	if (err == -EAGAIN) {
		*partial = true;	/* changing under us: use what the last read saw */
		err = 0;
	}
	if (err)
		goto cleanup;
	for (i = 0; i <= mask && !ret; i++) {
		key = get64(table, i * 16);
		if (key && (__s64)get64(table, i * 16 + 8) != -1)
			ret = cb(t, key, ctx);
	}
	err = ret < 0 ? ret : 0;
cleanup:
	free(table);
	return err;
}

/* ------------------------------------------------------------------------------------------ */
/* gathering task addresses from the registries */

static int add_addr(struct pytasks *t, __u64 addr)
{
	__u64 *v;

	if (t->naddrs >= MAX_TASKS) {
		t->gather_flags |= PY_TASKS_CAPPED;
		return 1;
	}
	if (t->naddrs == t->cap) {
		v = realloc(t->addrs, (t->cap ? t->cap * 2 : 256) * sizeof(*v));
		if (!v)
			return -ENOMEM;
		t->addrs = v;
		t->cap = t->cap ? t->cap * 2 : 256;
	}
	t->addrs[t->naddrs++] = addr;
	return 0;
}

static bool is_task(struct pytasks *t, __u64 obj)
{
	__u64 type;

	return obj && !rd64(t, obj + t->l->off.obj_type, &type) && type_is_task(t, type);
}

static int add_task(struct pytasks *t, __u64 obj, void *ctx)
{
	(void)ctx;
	return is_task(t, obj) ? add_addr(t, obj) : 0;
}

/* WeakSet members are weakrefs: the referent is wr_object (None once it died). */
static int add_weak_task(struct pytasks *t, __u64 ref, void *ctx)
{
	__u64 obj;

	if (rd64(t, ref + 16, &obj))
		return 0;
	return add_task(t, obj, ctx);
}

static int gather_weakset(struct pytasks *t, __u64 weakset)
{
	bool partial = false;
	__u64 data;
	int err;

	err = obj_attr(t, weakset, "data", &data);
	if (!err)
		err = set_for_each(t, data, add_weak_task, NULL, &partial);
	if (partial)
		t->gather_flags |= PY_TASKS_PARTIAL;
	return err;
}

static int gather_set(struct pytasks *t, __u64 set)
{
	bool partial = false;
	int err;

	err = set_for_each(t, set, add_task, NULL, &partial);
	if (partial)
		t->gather_flags |= PY_TASKS_PARTIAL;
	return err;
}

/* A registry in the 3.12/3.13 module state, checked by type, else the module attribute. */
static int state_member(struct pytasks *t, __u16 off, const char *type, const char *attr,
			__u64 *obj)
{
	__u64 state;

	if (!rd64(t, t->module + t->l->aio.module_state, &state) && state &&
	    !rd64(t, state + off, obj) && type_is(type_of(t, *obj), type))
		return 0;
	if (dict_get(t, t->module_dict, attr, obj) || !type_is(type_of(t, *obj), type))
		return -EPROTO;
	return 0;
}

/* One 3.14+ intrusive list (llist_node {next, prev} in each TaskObj), bounded. */
static int gather_llist(struct pytasks *t, __u64 head)
{
	const struct py_asyncio_layout *a = &t->l->aio;
	size_t start = t->naddrs;
	__u64 node, task;
	int attempt, i, err;

	for (attempt = 0; attempt < 2; attempt++) {
		t->naddrs = start;
		if (rd64(t, head, &node))
			return -EFAULT;
		for (i = 0; node != head && i < MAX_TASKS; i++) {
			task = node - a->task_node;
			/* a node unlinked while we walked: the list is torn, walk it again */
			if (!node || !is_task(t, task))
				break;
			err = add_addr(t, task);
			if (err)
				return err < 0 ? err : 0;
			if (rd64(t, node, &node))
				break;
		}
		if (node == head)
			return 0;
		if (i == MAX_TASKS) {
			t->gather_flags |= PY_TASKS_CAPPED;
			return 0;
		}
	}
	t->gather_flags |= PY_TASKS_PARTIAL;
	return 0;
}

static int gather_thread(__u64 ts, void *ctx)
{
	struct pytasks *t = ctx;
	int err;

	err = gather_llist(t, ts + t->l->aio.tstate_tasks_head);
	return err < 0 ? err : 0;
}

static int cmp_u64(const void *a, const void *b)
{
	__u64 x = *(const __u64 *)a, y = *(const __u64 *)b;

	return x < y ? -1 : x > y;
}

/* Every task object the registries hold, deduplicated, into t->addrs. */
static int gather(struct pytasks *t)
{
	const struct py_asyncio_layout *a = &t->l->aio;
	__u64 obj;
	size_t i, n;
	int err;

	t->naddrs = 0;
	t->gather_flags = 0;
	if (a->task_node != NONE) {
		err = pythreads__for_each(t->p, gather_thread, t);
		if (err)
			return err;
		err = gather_llist(t, t->l->off.interp_addr + a->interp_tasks_head);
	} else if (a->state_scheduled_tasks != NONE) {
		err = state_member(t, a->state_scheduled_tasks, "WeakSet", "_scheduled_tasks",
				   &obj);
		if (!err)
			err = gather_weakset(t, obj);
		/* tasks in their first, eager step: a short-lived set, worth no failure */
		if (!err && (state_member(t, a->state_eager_tasks, "set", "_eager_tasks", &obj) ||
			     gather_set(t, obj) < 0))
			t->gather_flags |= PY_TASKS_PARTIAL;
	} else {
		err = dict_get(t, t->module_dict, "_all_tasks", &obj);
		if (!err)
			err = gather_weakset(t, obj);
	}
	if (err)
		return err;
	if (t->naddrs > 1)	/* qsort(NULL, 0) is undefined */
		qsort(t->addrs, t->naddrs, sizeof(*t->addrs), cmp_u64);
	for (i = 0, n = 0; i < t->naddrs; i++) {
		if (!n || t->addrs[n - 1] != t->addrs[i])
			t->addrs[n++] = t->addrs[i];
	}
	t->naddrs = n;
	return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* coroutines */

/* The code object and instruction of a frame, exactly as the stack walker reports them. */
static int frame_raw(struct pytasks *t, __u64 frame, struct py_raw_frame *rf)
{
	const struct py_offsets *o = &t->l->off;
	__u64 code, type, ip;
	__s32 lasti32;
	__s64 lasti;

	if (rd64(t, frame + o->frame_code, &code))
		return -EFAULT;
	code &= o->code_mask;
	if (!code || rd64(t, code + o->obj_type, &type) || type != o->code_type)
		return -EINVAL;
	if (o->flags & PY_F_INSTR_PTR) {
		if (rd64(t, frame + o->frame_instr, &ip))
			return -EFAULT;
		lasti = (__s64)(ip - (code + o->code_adaptive)) >> 1;
	} else {
		if (rd(t, frame + o->frame_instr, &lasti32, sizeof(lasti32)))
			return -EFAULT;
		lasti = lasti32;
	}
	if (lasti < -1 || lasti > 0x7fffffff)
		lasti = -1;
	rf->code = code;
	rf->lasti = (__s32)lasti;
	rf->flags = PY_FRAME_GENERATOR;
	/* the symbolizer's check that the code object is still the one we saw */
	if (rd64(t, code + o->code_filename, &rf->ident))
		rf->ident = 0;
	return 0;
}

/* The opcode byte at index idx of a 3.8-3.10 code object's co_code. */
static int code_byte(struct pytasks *t, __u64 frame, __u64 idx, __u8 *op)
{
	__u64 code, bytes;

	if (rd64(t, frame + t->l->off.frame_code, &code) ||
	    rd64(t, code + t->l->aio.code_code, &bytes))
		return -EFAULT;
	return rd(t, bytes + t->l->bytes_data + idx, op, 1);
}

/* What a suspended coroutine/generator awaits (its yield-from target), or 0. */
static __u64 awaited_of(struct pytasks *t, __u64 gen, __u64 frame)
{
	const struct py_asyncio_layout *a = &t->l->aio;
	__u64 top = 0, ptr, ip;
	__s32 lasti, depth;
	__s8 state;
	__u16 next;
	__u8 op;

	switch (a->await_kind) {
	case PY_AWAIT_STACKTOP:
		if (rd64(t, frame + a->frame_stack, &ptr) || !ptr ||
		    rd(t, frame + t->l->off.frame_instr, &lasti, sizeof(lasti)) || lasti < 0 ||
		    code_byte(t, frame, (__u64)lasti + 2, &op) ||
		    (op != a->await_op && op != a->await_op_alt) ||
		    rd64(t, ptr - 8, &top))
			return 0;
		return top;
	case PY_AWAIT_STACKDEPTH:
		if (rd(t, frame + a->frame_stack, &depth, sizeof(depth)) || depth <= 0 ||
		    rd(t, frame + t->l->off.frame_instr, &lasti, sizeof(lasti)) || lasti < 0 ||
		    code_byte(t, frame, ((__u64)lasti + 1) * 2, &op) ||
		    (op != a->await_op && op != a->await_op_alt) ||
		    rd64(t, frame + a->frame_localsplus, &ptr) ||
		    rd64(t, ptr + 8 * (__u64)(depth - 1), &top))
			return 0;
		return top;
	default:
		break;
	}
	if (rd(t, gen + a->gen_frame_state, &state, 1) || state < a->state_yield_from ||
	    state > a->state_yield_from_max)
		return 0;
	switch (a->await_kind) {
	case PY_AWAIT_RESUME:
		/* suspended in an await only if the next instruction is RESUME with oparg >= 2 */
		if (rd64(t, frame + t->l->off.frame_instr, &ip) || rd(t, ip + 2, &next, 2) ||
		    ((next & 0xff) != a->await_op && (next & 0xff) != a->await_op_alt) ||
		    (next >> 8) < 2)
			return 0;
		/* fall through */
	case PY_AWAIT_INDEX:
		if (rd(t, frame + a->frame_stack, &depth, sizeof(depth)) || depth <= 0 ||
		    depth > 65536 ||
		    rd64(t, frame + a->frame_localsplus + 8 * (__u64)(depth - 1), &top))
			return 0;
		return top;
	case PY_AWAIT_POINTER:
		if (rd64(t, frame + a->frame_stack, &ptr) || ptr <= frame ||
		    rd64(t, ptr - 8 * (__u64)a->await_slot, &top))
			return 0;
		return top & ~7ULL;	/* a _PyStackRef: clear the tag bits */
	default:
		return 0;
	}
}

static bool is_coroutine_like(struct pytasks *t, const struct type_info *ti)
{
	/* generators appear in await chains as @types.coroutine helpers and __await__ */
	return ti->addr == t->l->off.coro_type || type_is(ti, "coroutine") ||
	       type_is(ti, "generator");
}

/* Where an await chain stops being interesting to name: the library's public entry point. */
static bool asyncio_api(const char *file, const char *qualname)
{
	const char *last = strrchr(qualname, '.');

	last = last ? last + 1 : qualname;
	return strstr(file, "/asyncio/") && last[0] != '_' && last[0] != '<';
}

/*
 * Follow coroutine -> awaited coroutine from the task's coroutine, recording each frame.
 * desc receives the innermost asyncio API call in the chain ("Semaphore.acquire"), if any.
 */
static void walk_chain(struct pytasks *t, __u64 coro, struct py_task *out, char *desc,
		       size_t dlen)
{
	const struct py_asyncio_layout *a = &t->l->aio;
	const struct type_info *ti;
	struct py_frame f;
	char qualname[128];
	__u64 obj = coro, frame, qn;
	int depth;

	desc[0] = '\0';
	for (depth = 0; obj && depth <= PY_TASK_MAX_FRAMES; depth++) {
		ti = type_of(t, obj);
		if (!ti || !is_coroutine_like(t, ti))
			break;
		if (a->gen_frame != NONE) {
			if (rd64(t, obj + a->gen_frame, &frame)) {
				out->flags |= PY_TASK_PARTIAL;
				break;
			}
		} else {
			/* a finished coroutine keeps its embedded frame: check its state */
			frame = obj + t->l->off.gen_iframe;
		}
		if (!frame)
			break;		/* finished */
		if (out->nframes == PY_TASK_MAX_FRAMES) {
			out->flags |= PY_TASK_CHAIN_TRUNCATED;
			break;
		}
		if (frame_raw(t, frame, &out->frames[out->nframes])) {
			out->flags |= PY_TASK_PARTIAL;
			break;
		}
		if (!rd64(t, obj + a->gen_qualname, &qn) &&
		    !pyobj__read_str(t->p, qn, qualname, sizeof(qualname)) &&
		    !pysym__resolve(t->sym, &out->frames[out->nframes], &f) &&
		    asyncio_api(f.file, qualname))
			snprintf(desc, dlen, "%s", qualname);
		out->nframes++;
		obj = awaited_of(t, obj, frame);
	}
}

/* ------------------------------------------------------------------------------------------ */
/* tasks */

/* One read of a task's fields; fails unless obj is an _asyncio.Task. */
static int read_task_hdr(struct pytasks *t, __u64 obj, __u8 *hdr)
{
	__u16 size = t->l->aio.task_size;

	if (size > HEADER_MAX)
		return -EPROTO;
	if (rd(t, obj, hdr, size))
		return -EFAULT;
	return type_is_task(t, get64(hdr, t->l->off.obj_type)) ? 0 : -ENOENT;
}

static int coro_qualname(struct pytasks *t, __u64 coro, char *out, size_t len)
{
	__u64 qn;

	out[0] = '\0';
	if (!coro || rd64(t, coro + t->l->aio.gen_qualname, &qn))
		return -EFAULT;
	return pyobj__read_str(t->p, qn, out, len);
}

static int add_awaited_by(struct pytasks *t, __u64 obj, void *ctx)
{
	struct py_task *pt = ctx;

	(void)t;
	if (pt->nawaited_by < PY_TASK_MAX_AWAITED_BY)
		pt->awaited_by[pt->nawaited_by++] = obj;
	return 0;
}

/* 3.14+: the futures/tasks awaiting this one, as the interpreter records them. */
static void read_awaited_by(struct pytasks *t, const __u8 *hdr, struct py_task *pt)
{
	const struct py_asyncio_layout *a = &t->l->aio;
	__u64 by = get64(hdr, a->task_awaited_by);
	bool partial = false;

	if (!by)
		return;
	if (!hdr[a->task_awaited_by_is_set]) {
		pt->awaited_by[pt->nawaited_by++] = by;
		return;
	}
	if (set_for_each(t, by, add_awaited_by, pt, &partial) || partial)
		pt->flags |= PY_TASK_PARTIAL;
}

static void describe_waiter(struct pytasks *t, struct py_task *pt, const char *chain_desc)
{
	const struct type_info *ti = type_of(t, pt->waiter);
	char name[64];

	if (!ti) {
		pt->flags |= PY_TASK_PARTIAL;
		return;
	}
	snprintf(pt->waiter_type, sizeof(pt->waiter_type), "%s", short_name(ti->name));
	if (type_is_task(t, ti->addr)) {
		__u8 hdr[HEADER_MAX];

		if (!read_task_hdr(t, pt->waiter, hdr) &&
		    !read_name(t, get64(hdr, t->l->aio.task_name), name, sizeof(name)))
			snprintf(pt->waiter_desc, sizeof(pt->waiter_desc), "Task %s", name);
		else
			snprintf(pt->waiter_desc, sizeof(pt->waiter_desc), "Task");
	} else if (chain_desc[0]) {
		snprintf(pt->waiter_desc, sizeof(pt->waiter_desc), "%s", chain_desc);
	} else if (!strcmp(pt->waiter_type, "_GatheringFuture")) {
		snprintf(pt->waiter_desc, sizeof(pt->waiter_desc), "gather");
	} else {
		snprintf(pt->waiter_desc, sizeof(pt->waiter_desc), "%s", pt->waiter_type);
	}
}

static int read_task(struct pytasks *t, __u64 addr, struct py_task *pt)
{
	const struct py_asyncio_layout *a = &t->l->aio;
	__u8 hdr[HEADER_MAX];
	char desc[128];
	int err;

	memset(pt, 0, sizeof(*pt));
	err = read_task_hdr(t, addr, hdr);
	if (err)
		return err;
	pt->addr = addr;
	pt->loop = get64(hdr, a->fut_loop);
	pt->coro = get64(hdr, a->task_coro);
	pt->state = get32(hdr, a->fut_state);
	if (pt->state < PY_TASK_PENDING || pt->state > PY_TASK_FINISHED)
		return -EPROTO;	/* torn or reused memory */
	pt->done_exc_unretrieved = pt->state == PY_TASK_FINISHED &&
				   (hdr[a->fut_log_tb] & a->fut_log_tb_mask);
	if (read_name(t, get64(hdr, a->task_name), pt->name, sizeof(pt->name)))
		pt->flags |= PY_TASK_PARTIAL;
	if (coro_qualname(t, pt->coro, pt->coro_qualname, sizeof(pt->coro_qualname)))
		pt->flags |= PY_TASK_PARTIAL;
	if (a->task_awaited_by != NONE)
		read_awaited_by(t, hdr, pt);
	if (pt->state != PY_TASK_PENDING)
		return 0;
	walk_chain(t, pt->coro, pt, desc, sizeof(desc));
	pt->waiter = get64(hdr, a->task_fut_waiter);
	if (pt->waiter)
		describe_waiter(t, pt, desc);
	return 0;
}

static int cmp_coro(const void *a, const void *b)
{
	const struct coro_task *x = a, *y = b;

	return x->coro < y->coro ? -1 : x->coro > y->coro;
}

static const struct coro_task *index_find(const struct pytasks *t, __u64 coro)
{
	struct coro_task key = { .coro = coro };

	if (!t->nindex)
		return NULL;
	return bsearch(&key, t->index, t->nindex, sizeof(*t->index), cmp_coro);
}

/*
 * Fill e for a live task. Its name is read now, while it can be: a stack may reach us after
 * the task finished. name, if not NULL, is the name the caller has just read; a task the
 * index already holds with this coroutine keeps what was read then.
 */
static void index_entry(struct pytasks *t, struct coro_task *e, __u64 task, __u64 coro,
			__u64 name_obj, const char *name)
{
	const struct coro_task *old = index_find(t, coro);
	bool known = old && old->task == task;

	e->task = task;
	e->coro = coro;
	if (name)
		snprintf(e->name, sizeof(e->name), "%s", name);
	else if (known && old->name[0])
		memcpy(e->name, old->name, sizeof(e->name));
	else if (read_name(t, name_obj, e->name, sizeof(e->name)))
		e->name[0] = '\0';
	if (known && old->qualname)
		e->qualname = old->qualname;
	else if (!coro || rd64(t, coro + t->l->aio.gen_qualname, &e->qualname))
		e->qualname = 0;
}

/* Make v (n entries, from the registries just read) the index. */
static void index_replace(struct pytasks *t, struct coro_task *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_coro);
	free(t->index);
	t->index = v;
	t->nindex = n;
	t->index_time = now_ns();
}

/* Rebuild the coro -> task index from the registries. */
static int index_rebuild(struct pytasks *t)
{
	const struct py_asyncio_layout *a = &t->l->aio;
	struct coro_task *v;
	__u8 hdr[HEADER_MAX];
	size_t i, n = 0;
	int err;

	err = gather(t);
	if (err)
		return err;
	v = malloc((t->naddrs ? t->naddrs : 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (i = 0; i < t->naddrs; i++) {
		if (read_task_hdr(t, t->addrs[i], hdr))
			continue;
		index_entry(t, &v[n++], t->addrs[i], get64(hdr, a->task_coro),
			    get64(hdr, a->task_name), NULL);
	}
	index_replace(t, v, n);
	return 0;
}

/*
 * The task whose coroutine is coro: checked against the live task, since tasks die. When
 * there is none, *gone (coro 0 if not) is the task the index last held for coro, if that
 * task has finished since and the registries, read afresh, hold no other.
 */
static __u64 task_of_coro(struct pytasks *t, __u64 coro, struct coro_task *gone)
{
	const struct py_asyncio_layout *a = &t->l->aio;
	const struct coro_task *e;
	__u8 hdr[HEADER_MAX];
	int attempt;

	memset(gone, 0, sizeof(*gone));
	for (attempt = 0; attempt < 2; attempt++) {
		e = index_find(t, coro);
		if (e && !read_task_hdr(t, e->task, hdr) && get64(hdr, a->task_coro) == coro)
			return e->task;
		if (e)
			*gone = *e;
		/* a finished task is worth a read at once: its entry then leaves the index */
		if (attempt || (!e && now_ns() - t->index_time < INDEX_MIN_AGE_NS) ||
		    index_rebuild(t))
			break;
	}
	/* only what the registries, read afresh, confirm */
	if (attempt < 1 || !gone->name[0])
		gone->coro = 0;
	return 0;
}

int pytasks__name(struct pytasks *t, __u64 task, __u64 coro, char *name, size_t nlen,
		  char *coro_qn, size_t clen)
{
	const struct py_asyncio_layout *a = &t->l->aio;
	const struct type_info *ti;
	struct coro_task gone;
	__u8 hdr[HEADER_MAX];
	__u64 qn;

	if (!task && coro) {
		task = task_of_coro(t, coro, &gone);
		/*
		 * A stack that reached us after its task finished (taken as a blocking call
		 * returned, e.g. when the interpreter was found during that call): name the
		 * task as the index last saw it, unless coro's memory is now another coroutine.
		 */
		if (!task && gone.coro) {
			ti = type_of(t, coro);
			if (ti && is_coroutine_like(t, ti) &&
			    !rd64(t, coro + a->gen_qualname, &qn) && qn && qn != gone.qualname)
				return -ENOENT;
			if (name && nlen)
				snprintf(name, nlen, "%s", gone.name);
			if (coro_qn && clen && (!gone.qualname ||
			    pyobj__read_str(t->p, gone.qualname, coro_qn, clen)))
				coro_qn[0] = '\0';
			return 0;
		}
	}
	if (!task || read_task_hdr(t, task, hdr))
		return -ENOENT;
	if (coro && get64(hdr, a->task_coro) != coro)
		return -ENOENT;
	if (name && nlen && read_name(t, get64(hdr, a->task_name), name, nlen))
		return -ENOENT;
	if (coro_qn && clen && coro_qualname(t, get64(hdr, a->task_coro), coro_qn, clen))
		coro_qn[0] = '\0';
	return 0;
}

/* Before 3.14 nothing records awaited-by: a task whose waiter is a task is awaited by it. */
static void derive_awaited_by(struct py_task *v, int n)
{
	int i, j;

	for (i = 0; i < n; i++) {
		if (!v[i].waiter || strncmp(v[i].waiter_desc, "Task", 4))
			continue;
		for (j = 0; j < n; j++) {
			if (v[j].addr == v[i].waiter && v[j].nawaited_by < PY_TASK_MAX_AWAITED_BY)
				v[j].awaited_by[v[j].nawaited_by++] = v[i].addr;
		}
	}
}

int pytasks__list(struct pytasks *t, struct py_task *out, int max, int *total)
{
	struct coro_task *index = NULL;
	struct py_task *pt = NULL;
	__u64 *unretrieved = NULL;
	size_t i, nindex = 0, nun = 0;
	int n = 0, pending = 0, err;

	if (total)
		*total = 0;
	if (max < 0)
		return -EINVAL;
	types_reset(t);
	err = gather(t);
	if (err)
		return err;
	t->list_flags = t->gather_flags;
	index = malloc((t->naddrs ? t->naddrs : 1) * sizeof(*index));
	pt = malloc(sizeof(*pt));
	unretrieved = calloc(t->naddrs ? t->naddrs : 1, sizeof(*unretrieved));
	if (!index || !pt || !unretrieved) {
		err = -ENOMEM;
		goto cleanup;
	}
	for (i = 0; i < t->naddrs; i++) {
		/* a task changing under us is read once more before it is reported partial */
		if (read_task(t, t->addrs[i], pt) ||
		    ((pt->flags & PY_TASK_PARTIAL) && read_task(t, t->addrs[i], pt)))
			continue;
		index_entry(t, &index[nindex++], pt->addr, pt->coro, 0, pt->name);
		if (pt->done_exc_unretrieved)
			unretrieved[nun++] = pt->addr;
		if (pt->state != PY_TASK_PENDING)
			continue;
		pending++;
		if (n < max)
			out[n++] = *pt;
	}
	index_replace(t, index, nindex);
	index = NULL;
	/* after the pending tasks: finished ones whose exception nobody retrieved */
	for (i = 0; i < nun && n < max; i++) {
		if (!read_task(t, unretrieved[i], pt) && pt->done_exc_unretrieved)
			out[n++] = *pt;
	}
	if (t->l->aio.task_awaited_by == NONE)
		derive_awaited_by(out, n);
	if (total)
		*total = pending;
	err = n;
cleanup:
	free(unretrieved);
	free(pt);
	free(index);
	return err;
}

unsigned int pytasks__list_flags(const struct pytasks *t)
{
	return t->list_flags;
}

/* ------------------------------------------------------------------------------------------ */
/* loops */

/* The loop running in a thread, or 0. */
static __u64 running_loop(struct pytasks *t, __u64 ts)
{
	const struct py_asyncio_layout *a = &t->l->aio;
	__u64 dict, v;

	if (a->tstate_running_loop != NONE)
		return rd64(t, ts + a->tstate_running_loop, &v) ? 0 : v;
	if (rd64(t, ts + a->tstate_dict, &dict) || !dict ||
	    dict_get(t, dict, RUNNING_LOOP_KEY, &v))
		return 0;
	if (a->holder_loop != NONE) {
		if (!type_is(type_of(t, v), "_RunningLoopHolder") ||
		    rd64(t, v + a->holder_loop, &v))
			return 0;
	}
	/* stopping a loop stores None */
	return type_is(type_of(t, v), "NoneType") ? 0 : v;
}

struct lookup_ptr {
	__u64 key;
	__u64 value;
};

static int match_ptr(struct pytasks *t, __u64 key, __u64 value, void *ctx)
{
	struct lookup_ptr *q = ctx;

	if (key != q->key)
		return 0;
	q->value = value;
	return 1;
}

/* The task a thread is stepping: in the thread state (3.14+) or current_tasks[loop]. */
static __u64 current_task(struct pytasks *t, __u64 ts, __u64 loop)
{
	const struct py_asyncio_layout *a = &t->l->aio;
	struct lookup_ptr q = { .key = loop };
	__u64 dict;

	if (t->l->off.tstate_running_task != NONE) {
		if (rd64(t, ts + t->l->off.tstate_running_task, &q.value))
			return 0;
	} else {
		if (a->state_current_tasks != NONE ?
		    state_member(t, a->state_current_tasks, "dict", "_current_tasks", &dict) :
		    dict_get(t, t->module_dict, "_current_tasks", &dict))
			return 0;
		/* keyed by the loop object itself: compare pointers, no hashing */
		if (dict_for_each(t, dict, match_ptr, &q))
			return 0;
	}
	return is_task(t, q.value) ? q.value : 0;
}

/* len() of a deque or list attribute: ob_size. */
static bool attr_len(struct pytasks *t, __u64 loop, const char *attr, const char *type, long *len)
{
	__u64 obj, size;

	if (obj_attr(t, loop, attr, &obj) || !type_is(type_of(t, obj), type) ||
	    rd64(t, obj + 16, &size) || (__s64)size < 0)
		return false;
	*len = (long)size;
	return true;
}

int pytasks__loops(struct pytasks *t, struct py_loop_stats *out, int max)
{
	struct py_thread *threads;
	const struct type_info *ti;
	struct py_loop_stats *s;
	int i, n, nloops = 0;
	__u64 loop;

	threads = calloc(MAX_THREADS, sizeof(*threads));
	if (!threads)
		return -ENOMEM;
	types_reset(t);
	n = pyproc__threads(t->p, threads, MAX_THREADS);
	for (i = 0; i < n && nloops < max; i++) {
		loop = running_loop(t, threads[i].tstate);
		ti = type_of(t, loop);
		if (!ti)
			continue;
		s = &out[nloops++];
		memset(s, 0, sizeof(*s));
		s->loop = loop;
		s->thread_ns_tid = threads[i].ns_tid;
		s->running_task = current_task(t, threads[i].tstate, loop);
		snprintf(s->type, sizeof(s->type), "%s", short_name(ti->name));
		/* loops written in C (uvloop) keep these in C structures: unknown, not 0 */
		s->ready_known = attr_len(t, loop, "_ready", "collections.deque", &s->ready);
		s->scheduled_known = attr_len(t, loop, "_scheduled", "list", &s->scheduled);
	}
	free(threads);
	return n < 0 ? n : nloops;
}

/* ------------------------------------------------------------------------------------------ */

int pytasks__new(struct pyproc *p, struct pytasks **out)
{
	struct pytasks *t;
	__u64 modules;
	int err;

	*out = NULL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->p = p;
	t->l = pyproc__layout(p);
	t->types = calloc(TYPE_SLOTS, sizeof(*t->types));
	if (!t->types) {
		err = -ENOMEM;
		goto cleanup;
	}
	err = pysym__new(p, &t->sym);
	if (err)
		goto cleanup;
	if (rd64(t, t->l->off.interp_addr + t->l->aio.interp_modules, &modules)) {
		err = -EFAULT;
		goto cleanup;
	}
	/* sys.modules: the module's attributes are the one stable way in before 3.12 */
	err = dict_get(t, modules, "_asyncio", &t->module);
	if (err) {
		err = err == -ENOENT ? -EAGAIN : -EPROTO;
		goto cleanup;
	}
	if (!type_is(type_of(t, t->module), "module") ||
	    rd64(t, t->module + t->l->aio.module_dict, &t->module_dict) ||
	    dict_get(t, t->module_dict, "Task", &t->task_type) ||
	    !type_is(type_info(t, t->task_type), "_asyncio.Task")) {
		err = -EPROTO;
		goto cleanup;
	}
	if (t->l->minor >= 14) {
		err = pyproc__load_asyncio_debug(p);
		if (err) {
			err = err == -ENOENT ? -EOPNOTSUPP : err;
			goto cleanup;
		}
	}
	*out = t;
	return 0;

cleanup:
	pytasks__free(t);
	return err;
}

void pytasks__free(struct pytasks *t)
{
	if (!t)
		return;
	pysym__free(t->sym);
	free(t->types);
	free(t->addrs);
	free(t->index);
	free(t);
}
