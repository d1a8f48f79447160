// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "procfs.h"
#include "pyinternal.h"
#include "pyproc.h"
#include "remote.h"

#define MAX_INTERPS 64
#define PTHREAD_SCAN 2048	/* bytes of glibc's struct pthread searched for the TID */
#define PTHREAD_TID_GLIBC 720	/* where glibc 2.x on x86_64 keeps it: tried first */
#define MAX_TASKS 4096

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

/* Visit every PyThreadState of every interpreter, both lists bounded. */
static int for_each_tstate(const struct pyproc *p, int (*cb)(__u64 ts, void *ctx), void *ctx)
{
	const struct py_offsets *o = &p->lay.off;
	__u64 interp, ts;
	int i, j, ret;

	if (pyproc__read_u64(p, o->runtime_addr + o->runtime_interp_head, &interp))
		return -EFAULT;
	for (i = 0; interp && i < MAX_INTERPS; i++) {
		if (pyproc__read_u64(p, interp + o->interp_tstate_head, &ts))
			return -EFAULT;
		for (j = 0; ts && j < PY_MAX_THREADS; j++) {
			ret = cb(ts, ctx);
			if (ret)
				return ret;
			if (pyproc__read_u64(p, ts + o->tstate_next, &ts))
				return -EFAULT;
		}
		if (pyproc__read_u64(p, interp + o->interp_next, &interp))
			return -EFAULT;
	}
	return 0;
}

/* The namespace-local TID of a thread state, following PY_F_TID_PTHREAD. */
static int tstate_ns_tid(const struct pyproc *p, __u64 ts, int *tid)
{
	const struct py_offsets *o = &p->lay.off;
	__u32 v32;
	__u64 v;

	if (pyproc__read_u64(p, ts + o->tstate_tid, &v))
		return -EFAULT;
	if (!(o->flags & PY_F_TID_PTHREAD)) {
		*tid = (int)v;
		return 0;
	}
	if (o->pthread_tid == PY_OFF_NONE)
		return -ENOENT;
	if (pyproc__read(p, v + o->pthread_tid, &v32, sizeof(v32)))
		return -EFAULT;
	*tid = (int)v32;
	return 0;
}

struct tid_query {
	const struct pyproc *p;
	int ns_tid;
	__u64 ts;
};

static int match_tstate(__u64 ts, void *ctx)
{
	struct tid_query *q = ctx;
	int tid;

	if (tstate_ns_tid(q->p, ts, &tid) || tid != q->ns_tid)
		return 0;
	q->ts = ts;
	return 1;
}

int pyproc__thread_state(const struct pyproc *p, int ns_tid, __u64 *tstate)
{
	struct tid_query q = { .p = p, .ns_tid = ns_tid };
	int ret;

	ret = for_each_tstate(p, match_tstate, &q);
	if (ret < 0)
		return ret;
	if (ret != 1)
		return -ENOENT;
	*tstate = q.ts;
	return 0;
}

struct thread_list {
	const struct pyproc *p;
	struct py_thread *v;
	int n;
	int max;
};

static int add_thread(__u64 ts, void *ctx)
{
	struct thread_list *l = ctx;

	if (l->n >= l->max)
		return 1;
	l->v[l->n].tstate = ts;
	if (tstate_ns_tid(l->p, ts, &l->v[l->n].ns_tid))
		l->v[l->n].ns_tid = -1;
	l->n++;
	return 0;
}

int pyproc__threads(const struct pyproc *p, struct py_thread *threads, int max)
{
	struct thread_list l = { .p = p, .v = threads, .max = max };
	int ret;

	ret = for_each_tstate(p, add_thread, &l);
	return ret < 0 ? ret : l.n;
}

/* Namespace-local TIDs of the target's threads, for calibration. */
struct task_set {
	int pid;
	int v[MAX_TASKS];
	int n;
};

static int add_task(int tid, void *ctx)
{
	struct task_set *s = ctx;

	if (s->n < MAX_TASKS && !procfs__ns_tid(s->pid, tid, &s->v[s->n]))
		s->n++;
	return 0;
}

struct calib {
	const struct pyproc *p;
	const struct task_set *tasks;
	int ok;
	int bad;
};

static int check_tstate_tid(__u64 ts, void *ctx)
{
	struct calib *c = ctx;
	int tid, i;

	if (tstate_ns_tid(c->p, ts, &tid)) {
		c->bad++;
		return 1;
	}
	for (i = 0; i < c->tasks->n; i++) {
		if (c->tasks->v[i] == tid) {
			c->ok++;
			return 0;
		}
	}
	c->bad++;
	return 1;
}

/*
 * Before 3.11 a thread state stores only pthread_self(). On x86_64 glibc that is the thread's
 * struct pthread, which holds the TID: find where by looking for the main thread's TID (the
 * namespace PID) in the main thread's struct pthread, and keep the first candidate that maps
 * every thread state to a live thread of the target.
 */
static void calibrate_pthread_tid(struct pyproc *p)
{
	struct py_offsets *o = &p->lay.off;
	struct task_set *tasks = NULL;
	struct calib c;
	__u32 words[PTHREAD_SCAN / 4];
	__u64 main_pt;
	int i, cand;

	o->pthread_tid = PY_OFF_NONE;
	if (!(o->flags & PY_F_TID_PTHREAD) ||
	    pyproc__read_u64(p, o->runtime_addr + p->lay.runtime_main_thread, &main_pt) ||
	    pyproc__read(p, main_pt, words, sizeof(words)))
		return;
	tasks = calloc(1, sizeof(*tasks));
	if (!tasks)
		return;
	tasks->pid = p->pid;
	procfs__for_each_task(p->pid, add_task, tasks);
	for (i = -1; i < PTHREAD_SCAN / 4; i++) {
		cand = i < 0 ? PTHREAD_TID_GLIBC : i * 4;
		if (words[cand / 4] != (__u32)p->nspid || (i >= 0 && cand == PTHREAD_TID_GLIBC))
			continue;
		o->pthread_tid = (__u16)cand;
		c = (struct calib){ .p = p, .tasks = tasks };
		if (!for_each_tstate(p, check_tstate_tid, &c) && c.ok && !c.bad)
			break;
		o->pthread_tid = PY_OFF_NONE;
	}
	free(tasks);
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
	return 0;
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
	calibrate_pthread_tid(p);
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
