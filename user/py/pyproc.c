// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "elf.h"
#include "procfs.h"
#include "pyinternal.h"
#include "pyproc.h"
#include "remote.h"

_Static_assert(sizeof(struct py_offsets) % 8 == 0, "py_offsets must stay 8-byte padded");

struct pyproc_counters {
	__u64 faults;
};

struct pyproc {
	int pid;
	int nspid;
	struct py_layout lay;
	struct py_image img;
	/* behind a pointer so that readers holding a const pyproc can count */
	struct pyproc_counters *cnt;
};

static __thread int last_err;
static __thread char last_msg[512];

static int fail(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(last_msg, sizeof(last_msg), fmt, ap);
	va_end(ap);
	last_err = err;
	return err;
}

const char *pyproc__strerror(int err)
{
	if (err && err == last_err && last_msg[0])
		return last_msg;
	switch (err) {
	case -ESRCH:
		return "no such process";
	case -ENOEXEC:
		return "no CPython interpreter in the process";
	case -EOPNOTSUPP:
		return "unsupported CPython version or build";
	case -EAGAIN:
		return "the interpreter is not initialised yet";
	case -EPROTO:
		return "the interpreter's memory does not match its expected layout";
	default:
		return strerror(err < 0 ? -err : err);
	}
}

int pyproc__read(const struct pyproc *p, __u64 addr, void *buf, size_t len)
{
	int err = remote__read(p->pid, addr, buf, len);

	if (err)
		__atomic_add_fetch(&p->cnt->faults, 1, __ATOMIC_RELAXED);
	return err;
}

int pyproc__read_u64(const struct pyproc *p, __u64 addr, __u64 *val)
{
	return pyproc__read(p, addr, val, sizeof(*val));
}

const struct py_layout *pyproc__layout(const struct pyproc *p)
{
	return &p->lay;
}

const struct py_offsets *pyproc__offsets(const struct pyproc *p)
{
	return &p->lay.off;
}

int pyproc__pid(const struct pyproc *p)
{
	return p->pid;
}

int pyproc__nspid(const struct pyproc *p)
{
	return p->nspid;
}

void pyproc__describe(const struct pyproc *p, char *buf, size_t len)
{
	snprintf(buf, len, "CPython %s in %s, _PyRuntime at 0x%llx", p->img.version, p->img.path,
		 (unsigned long long)p->img.runtime);
}

int pyproc__ns_tid(const struct pyproc *p, int tid, int *ns_tid)
{
	return procfs__ns_tid(p->pid, tid, ns_tid);
}

int pyproc__host_tid(const struct pyproc *p, int ns_tid, int *tid)
{
	return procfs__host_tid(p->pid, ns_tid, tid);
}

void pyproc__stats(const struct pyproc *p, struct pyproc_stats *st)
{
	struct remote_stats rs;

	remote__stats(&rs);
	st->reads = rs.reads;
	st->read_failures = rs.failures;
	st->faults = __atomic_load_n(&p->cnt->faults, __ATOMIC_RELAXED);
}

/* The main interpreter's GIL: in _PyRuntime up to 3.11, per interpreter since 3.12. */
static void resolve_gil(struct pyproc *p)
{
	struct py_offsets *o = &p->lay.off;
	__u64 gil = 0;

	if (p->lay.runtime_gil != PY_OFF_NONE)
		gil = o->runtime_addr + p->lay.runtime_gil;
	else if (p->lay.interp_gil_ptr != PY_OFF_NONE &&
		 pyproc__read_u64(p, o->interp_addr + p->lay.interp_gil_ptr, &gil))
		gil = 0;
	if (!gil && p->lay.interp_gil != PY_OFF_NONE)
		gil = o->interp_addr + p->lay.interp_gil;
	o->gil_addr = gil;
	if (!gil)
		o->gil_size = 0;
}

static int read_nspid(int pid, int *nspid)
{
	return procfs__ns_tid(pid, pid, nspid);
}

/* Fill the layout for the image's version, from tables and, on 3.13+, debug offsets. */
static int load_layout(struct pyproc *p)
{
	struct py_layout *l = &p->lay;
	struct py_image *img = &p->img;
	char buf[PY_DEBUG_OFFSETS_MAX], msg[256];
	int err;

	if (img->major != 3 || pyversion__layout(img->minor, l))
		return fail(-EOPNOTSUPP, "CPython %s (%s) is not supported (3.8 to 3.%d are)",
			    img->version[0] ? img->version : "of unknown version", img->path,
			    PY_MINOR_LAST);
	if (img->debug_build && !l->debug_offsets)
		return fail(-EOPNOTSUPP, "CPython %s (%s) is a debug build: not supported",
			    img->version, img->path);
	if (l->debug_offsets) {
		err = pyproc__read(p, img->runtime, buf, sizeof(buf));
		if (err)
			return fail(err, "cannot read _PyRuntime of process %d: %s", p->pid,
				    strerror(-err));
		err = pyversion__apply_debug_offsets(l, buf, sizeof(buf), msg, sizeof(msg));
		if (err)
			return fail(err, "CPython %s (%s): %s", img->version, img->path, msg);
	}
	l->off.runtime_addr = img->runtime;
	l->off.code_type = img->code_type;
	l->off.coro_type = img->coro_type;
	l->str_type = img->str_type;
	l->bytes_type = img->bytes_type;
	if (!img->code_type || !img->str_type || !img->bytes_type)
		return fail(-EPROTO, "CPython %s (%s) does not export PyCode_Type/PyUnicode_Type",
			    img->version, img->path);
	return 0;
}

/*
 * 3.15 debug offsets give tstate->base_frame, a pointer to the sentinel frame embedded in the
 * thread state; the walker wants the sentinel's offset so that it can stop without a read.
 */
static void resolve_base_frame(struct pyproc *p, __u64 ts)
{
	__u64 base;

	if (p->lay.tstate_base_frame_ptr == PY_OFF_NONE ||
	    pyproc__read_u64(p, ts + p->lay.tstate_base_frame_ptr, &base))
		return;
	if (base > ts && base - ts < PY_OFF_NONE)
		p->lay.off.tstate_base_frame = (__u16)(base - ts);
}

/* The interpreter must exist and its first thread must point back at it. */
static int validate(struct pyproc *p)
{
	struct py_offsets *o = &p->lay.off;
	__u64 interp, ts, back;
	int err;

	err = pyproc__read_u64(p, o->runtime_addr + o->runtime_interp_head, &interp);
	if (err == -ESRCH)
		return fail(err, "process %d exited", p->pid);
	if (err)
		return fail(-EPROTO, "cannot read _PyRuntime of process %d", p->pid);
	if (!interp)
		return fail(-EAGAIN, "CPython %s in process %d has no interpreter yet",
			    p->img.version, p->pid);
	o->interp_addr = interp;
	if (pyproc__read_u64(p, interp + o->interp_tstate_head, &ts))
		return fail(-EPROTO, "cannot read the thread list of process %d", p->pid);
	if (!ts)
		return fail(-EAGAIN, "CPython %s in process %d has no thread yet", p->img.version,
			    p->pid);
	if (pyproc__read_u64(p, ts + o->tstate_interp, &back) || back != interp)
		return fail(-EPROTO, "CPython %s in process %d: thread state 0x%llx does not "
			    "point back at interpreter 0x%llx", p->img.version, p->pid,
			    (unsigned long long)ts, (unsigned long long)interp);
	resolve_base_frame(p, ts);
	return 0;
}

#define MAX_ASYNCIO_FILES 16

/*
 * Files that may define AsyncioDebug: _asyncio built as its own extension module (3.14
 * distributions) or the interpreter image itself (3.15 builds _asyncio in; so do builds that
 * link extensions into libpython).
 */
static bool asyncio_candidate(const struct pyproc *p, const struct proc_map *m)
{
	const char *base;

	if (!m->path || !m->inode)
		return false;
	if (!strcmp(m->path, p->img.path))
		return true;
	base = strrchr(m->path, '/');
	return strstr(base ? base + 1 : m->path, "_asyncio") != NULL;
}

/* Returns 0 with the section's bytes in buf, -ENOENT if m has no AsyncioDebug section. */
static int read_asyncio_debug(const struct pyproc *p, const struct proc_map *m, __u8 *buf)
{
	struct elf_file *ef = NULL;
	struct elf_section sec;
	const void *data;
	char path[4200];
	size_t len;
	int err;

	err = procfs__mapped_path(p->pid, m, path, sizeof(path));
	if (err)
		return err;
	err = elf__open(path, &ef);
	if (err)
		return err;
	/* the variable's section is named after it, with or without the dot depending on build */
	if (elf__find_section(ef, ".AsyncioDebug", &sec) &&
	    elf__find_section(ef, "AsyncioDebug", &sec)) {
		err = -ENOENT;
		goto cleanup;
	}
	err = elf__section_data(ef, &sec, &data, &len);
	if (err)
		goto cleanup;
	if (len < PY_ASYNCIO_DEBUG_LEN) {
		err = -EPROTO;
		goto cleanup;
	}
	memcpy(buf, data, PY_ASYNCIO_DEBUG_LEN);
cleanup:
	elf__close(ef);
	return err;
}

int pyproc__load_asyncio_debug(struct pyproc *p)
{
	struct proc_maps maps = { 0 };
	__u8 buf[PY_ASYNCIO_DEBUG_LEN];
	__u64 seen[MAX_ASYNCIO_FILES];
	char msg[256];
	size_t i, j, nseen = 0;
	int err;

	if (p->lay.minor < 14)
		return -EOPNOTSUPP;
	if (p->lay.aio.asyncio_debug)
		return 0;
	err = procfs__maps(p->pid, &maps);
	if (err)
		return err;
	err = -ENOENT;
	for (i = 0; i < maps.n && err == -ENOENT; i++) {
		if (!asyncio_candidate(p, &maps.v[i]))
			continue;
		for (j = 0; j < nseen && seen[j] != maps.v[i].inode; j++)
			;
		if (j < nseen || nseen == MAX_ASYNCIO_FILES)
			continue;
		seen[nseen++] = maps.v[i].inode;
		err = read_asyncio_debug(p, &maps.v[i], buf);
		if (err && err != -ENOENT)
			err = -ENOENT;	/* unreadable candidate: try the others */
	}
	if (!err)
		err = pyversion__apply_asyncio_debug(&p->lay, buf, sizeof(buf), msg, sizeof(msg));
	procfs__maps_free(&maps);
	return err;
}

int pyproc__open(int pid, struct pyproc **out)
{
	struct pyproc *p = NULL;
	char msg[512];
	int err;

	*out = NULL;
	last_err = 0;
	last_msg[0] = '\0';
	p = calloc(1, sizeof(*p));
	if (!p)
		return fail(-ENOMEM, "out of memory");
	p->cnt = calloc(1, sizeof(*p->cnt));
	if (!p->cnt) {
		err = fail(-ENOMEM, "out of memory");
		goto cleanup;
	}
	p->pid = pid;
	err = read_nspid(pid, &p->nspid);
	if (err) {
		err = fail(-ESRCH, "no process %d", pid);
		goto cleanup;
	}
	err = pyfind__image(pid, &p->img, msg, sizeof(msg));
	if (err) {
		err = fail(err, "%s", msg);
		goto cleanup;
	}
	err = load_layout(p);
	if (err)
		goto cleanup;
	err = validate(p);
	if (err)
		goto cleanup;
	resolve_gil(p);
	p->lay.off.pthread_tid = pythreads__pthread_tid(p);
	/* 3.14+ running task for BPF; _asyncio may not be loaded yet: pytasks retries */
	if (p->lay.minor >= 14)
		pyproc__load_asyncio_debug(p);
	*out = p;
	return 0;

cleanup:
	pyproc__free(p);
	return err;
}

void pyproc__free(struct pyproc *p)
{
	if (!p)
		return;
	free(p->cnt);
	free(p);
}
