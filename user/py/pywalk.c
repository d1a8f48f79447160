// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The reference frame walker. It must stay a line-by-line model of the BPF walker: it reads
 * one field at a time, uses nothing but struct py_offsets, and has no version branches. The
 * algorithm is documented in bpf/pyoffsets.h; the step numbers below refer to it.
 */
#include <errno.h>
#include "pyinternal.h"
#include "pyproc.h"

static int read_u8(const struct pyproc *p, __u64 addr, __u8 *v)
{
	return pyproc__read(p, addr, v, sizeof(*v));
}

static int read_s32(const struct pyproc *p, __u64 addr, __s32 *v)
{
	return pyproc__read(p, addr, v, sizeof(*v));
}

int pyproc__walk(const struct pyproc *p, __u64 tstate, struct py_raw_frame *frames, int max,
		 struct py_walk_info *info)
{
	const struct py_offsets *o = pyproc__offsets(p);
	struct py_walk_info wi = { 0 };
	__u64 f, code, type, ip, gen;
	__s32 lasti32;
	__s64 lasti;
	__u8 owner;
	int step, steps, n = 0;

	if (max < 0)
		return -EINVAL;
	/* 1. the top frame, possibly behind a C frame record */
	if (pyproc__read_u64(p, tstate + o->tstate_frame, &f))
		return -EFAULT;
	if (o->cframe_frame != PY_OFF_NONE && f && pyproc__read_u64(p, f + o->cframe_frame, &f))
		return -EFAULT;

	steps = 2 * max + 2;
	for (step = 0; step < steps; step++) {
		/* 2. end of the chain */
		if (!f ||
		    (o->tstate_base_frame != PY_OFF_NONE && f == tstate + o->tstate_base_frame)) {
			wi.flags |= PY_WALK_COMPLETE;
			break;
		}
		if (n >= max) {
			wi.flags |= PY_WALK_TRUNCATED;
			break;
		}
		/* 3. C-entry shims carry no Python code */
		owner = 0;
		if (o->frame_owner != PY_OFF_NONE && read_u8(p, f + o->frame_owner, &owner))
			goto fault;
		if (owner >= o->owner_shim_min)
			goto next;
		/* 4. the code object, validated by type */
		if (pyproc__read_u64(p, f + o->frame_code, &code))
			goto fault;
		code &= o->code_mask;
		if (!code || pyproc__read_u64(p, code + o->obj_type, &type) ||
		    type != o->code_type) {
			wi.flags |= PY_WALK_BAD_CODE;
			goto next;
		}
		/* 5. the instruction */
		if (o->flags & PY_F_INSTR_PTR) {
			if (pyproc__read_u64(p, f + o->frame_instr, &ip))
				goto fault;
			lasti = (__s64)(ip - (code + o->code_adaptive)) >> 1;
		} else {
			if (read_s32(p, f + o->frame_instr, &lasti32))
				goto fault;
			lasti = lasti32;
		}
		if (lasti < -1 || lasti > 0x7fffffff)
			lasti = -1;
		frames[n].code = code;
		frames[n].lasti = (__s32)lasti;
		frames[n].flags = 0;
		/* the identity the symbolizer checks: which file this code object was for */
		if (pyproc__read_u64(p, code + o->code_filename, &frames[n].ident))
			frames[n].ident = 0;
		/* 6. coroutine attribution: remember the outermost coroutine */
		gen = 0;
		if (o->frame_gen != PY_OFF_NONE) {
			if (pyproc__read_u64(p, f + o->frame_gen, &gen))
				gen = 0;
		} else if (owner == o->owner_generator) {
			gen = f - o->gen_iframe;
		}
		if (gen) {
			frames[n].flags |= PY_FRAME_GENERATOR;
			if (!pyproc__read_u64(p, gen + o->obj_type, &type) && type == o->coro_type)
				wi.coro = gen;
		}
		n++;
next:
		/* 7. the caller */
		if (pyproc__read_u64(p, f + o->frame_previous, &f))
			goto fault;
	}
	if (step == steps)
		wi.flags |= PY_WALK_TRUNCATED;
	goto out;
fault:
	wi.flags |= PY_WALK_FAULT;
out:
	wi.nr_frames = n;
	if (info)
		*info = wi;
	return n;
}
