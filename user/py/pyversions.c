// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Per-version CPython layouts for x86_64, the one file that knows Python version numbers.
 *
 * 3.8-3.12: measured from DWARF (pyenv builds) and cross-checked against Debian's 3.11; they
 * did not move between the patch releases compared. 3.13+: the compiled-in values are only a
 * starting point; the target's own _Py_DebugOffsets (parsed with the field order of its minor
 * release, since CPython inserts members mid-group between minors) override them, because
 * PyThreadState grew inside 3.13.x. Sources: /work/shared/reference/cpython-internals.md.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "pyinternal.h"

#define NONE PY_OFF_NONE

/* Fields every supported version shares. */
static void common_layout(struct py_layout *l)
{
	struct py_offsets *o = &l->off;

	memset(l, 0, sizeof(*l));
	o->code_mask = ~0ULL;
	o->gil_size = 208;		/* struct _gil_runtime_state, unchanged 3.8-3.13 */
	o->gil_last_holder = 8;
	o->gil_locked = 16;
	o->tstate_next = 8;
	o->tstate_interp = 16;
	o->obj_type = 8;
	o->code_filename = 112;
	o->code_name = 120;
	o->code_qualname = 128;
	o->code_linetable = 136;
	o->cframe_frame = NONE;
	o->tstate_base_frame = NONE;
	o->frame_owner = NONE;
	o->frame_gen = NONE;
	o->gen_iframe = NONE;
	o->code_adaptive = NONE;
	o->pthread_tid = NONE;
	o->owner_shim_min = PY_OWNER_NONE;
	o->owner_generator = PY_OWNER_NONE;
	o->tstate_running_task = NONE;
	l->tstate_base_frame_ptr = NONE;
	l->runtime_gil = NONE;
	l->interp_gil_ptr = NONE;
	l->interp_gil = NONE;
	l->str_length = 16;
	l->str_state = 32;
	l->bytes_size = 16;
	l->bytes_data = 32;
	l->lines = PY_LINES_LOCATIONS;
}

/* 3.8-3.10: heap PyFrameObjects chained by f_back; threads matched by pthread_self(). */
static void layout_frameobject(struct py_layout *l, unsigned int minor)
{
	struct py_offsets *o = &l->off;

	o->flags = PY_F_TID_PTHREAD;
	o->runtime_interp_head = 32;
	o->interp_next = 0;
	o->interp_tstate_head = 8;
	o->tstate_tid = 176;
	o->tstate_thread_id = 176;
	o->tstate_frame = 24;
	o->frame_previous = 24;
	o->frame_code = 32;
	o->frame_gen = minor == 10 ? 88 : 96;
	o->frame_instr = minor == 10 ? 96 : 104;
	o->code_firstlineno = 40;
	o->code_filename = 104;
	o->code_name = 112;
	o->code_qualname = NONE;
	o->code_linetable = 120;
	l->runtime_main_thread = 72;
	l->runtime_gil = minor == 8 ? 1152 : 352;
	l->str_ascii_data = 48;
	l->str_compact_data = 72;
	if (minor == 10) {
		l->lines = PY_LINES_LINETABLE;
	} else {
		o->flags |= PY_F_LASTI_BYTES;
		l->lines = PY_LINES_LNOTAB;
	}
}

static void layout_311(struct py_layout *l)
{
	struct py_offsets *o = &l->off;

	o->flags = PY_F_INSTR_PTR;
	o->runtime_interp_head = 40;
	o->interp_next = 0;
	o->interp_tstate_head = 16;
	o->tstate_tid = 160;
	o->tstate_thread_id = 152;
	o->tstate_frame = 56;		/* cframe */
	o->cframe_frame = 8;
	o->frame_previous = 48;
	o->frame_code = 32;
	o->frame_instr = 56;		/* prev_instr */
	o->frame_owner = 69;
	o->owner_generator = 1;
	o->gen_iframe = 80;
	o->code_adaptive = 184;
	o->code_firstlineno = 72;
	l->runtime_main_thread = 80;
	l->runtime_gil = 360;
	l->str_ascii_data = 48;
	l->str_compact_data = 72;
}

static void layout_312(struct py_layout *l)
{
	struct py_offsets *o = &l->off;

	o->flags = PY_F_INSTR_PTR;
	o->runtime_interp_head = 40;
	o->interp_next = 0;
	o->interp_tstate_head = 72;
	o->tstate_tid = 144;
	o->tstate_thread_id = 136;
	o->tstate_frame = 56;		/* cframe */
	o->cframe_frame = 0;
	o->frame_previous = 8;
	o->frame_code = 0;
	o->frame_instr = 56;		/* prev_instr */
	o->frame_owner = 70;
	o->owner_shim_min = 3;		/* FRAME_OWNED_BY_CSTACK */
	o->owner_generator = 1;
	o->gen_iframe = 72;
	o->code_adaptive = 192;
	o->code_firstlineno = 68;
	l->runtime_main_thread = 64;
	l->interp_gil_ptr = 384;
	l->interp_gil = 1040;
	l->str_ascii_data = 40;
	l->str_compact_data = 56;
}

/* 3.13+: defaults matching the builds in the reference; debug offsets override most. */
static void layout_313plus(struct py_layout *l, unsigned int minor)
{
	struct py_offsets *o = &l->off;

	l->debug_offsets = true;
	o->flags = PY_F_INSTR_PTR;
	o->tstate_tid = minor >= 15 ? 184 : 160;
	o->tstate_thread_id = minor >= 15 ? 176 : 152;
	o->tstate_frame = 72;		/* current_frame */
	o->frame_previous = 8;
	o->frame_code = 0;		/* f_executable */
	o->frame_instr = 56;		/* instr_ptr */
	o->frame_owner = minor >= 14 ? 74 : 70;
	/* 3.13: CSTACK; 3.14+: INTERPRETER (entry frames), CSTACK (4) */
	o->owner_shim_min = 3;
	o->owner_generator = 1;
	o->gen_iframe = 72;
	o->code_adaptive = minor >= 14 ? 208 : 200;
	o->code_firstlineno = 68;
	l->str_ascii_data = 40;
	l->str_compact_data = 56;
	if (minor >= 14)
		o->code_mask = ~7ULL;	/* f_executable is a tagged _PyStackRef */
	switch (minor) {
	case 13:
		o->runtime_interp_head = 632;
		o->interp_next = 7264;
		o->interp_tstate_head = 7344;
		l->runtime_main_thread = 656;
		l->interp_gil_ptr = 16;
		l->interp_gil = 7752;
		break;
	case 14:
		o->runtime_interp_head = 808;
		o->interp_next = 7272;
		o->interp_tstate_head = 7344;
		l->runtime_main_thread = 832;
		l->interp_gil_ptr = 16;
		l->interp_gil = 7784;
		break;
	default:
		o->runtime_interp_head = 936;
		o->interp_next = 7264;
		o->interp_tstate_head = 7336;
		o->tstate_base_frame = 888;	/* re-derived from tstate->base_frame */
		l->runtime_main_thread = 960;
		l->interp_gil_ptr = 16;
		l->interp_gil = 7736;
		break;
	}
}

/* One column per minor release, 3.8 first. */
#define PER_MINOR(minor, v8, v9, v10, v11, v12, v13, v14, v15) \
	((const __u16[]){ v8, v9, v10, v11, v12, v13, v14, v15 }[(minor) - 8])

/*
 * _asyncio's C objects and where asyncio keeps its state. TaskObj/FutureObj measured from DWARF
 * and checked in-process (ctypes) on every build; 3.13's running loop and 3.14+'s task lists
 * are only defaults here: debug offsets and the AsyncioDebug section override them.
 */
static void layout_asyncio(struct py_layout *l, unsigned int minor)
{
	struct py_asyncio_layout *a = &l->aio;

	a->interp_modules = PER_MINOR(minor, 56, 856, 856, 888, 944, 7656, 7688, 7592);
	a->module_dict = 16;
	a->module_state = minor >= 15 ? 24 : 32;
	a->state_current_tasks = minor == 12 || minor == 13 ? 48 : NONE;
	a->state_scheduled_tasks = minor == 12 || minor == 13 ? 56 : NONE;
	a->state_eager_tasks = minor == 12 || minor == 13 ? 64 : NONE;
	a->tstate_dict = PER_MINOR(minor, 152, 152, 152, 128, 112, NONE, NONE, NONE);
	a->holder_loop = minor <= 11 ? 16 : NONE;
	a->tstate_running_loop = PER_MINOR(minor, NONE, NONE, NONE, NONE, NONE, 312, 864, 1024);
	a->tstate_tasks_head = PER_MINOR(minor, NONE, NONE, NONE, NONE, NONE, NONE, 880, 1048);
	a->interp_tasks_head = PER_MINOR(minor, NONE, NONE, NONE, NONE, NONE, NONE, 10880, 10856);

	a->task_size = PER_MINOR(minor, 144, 184, 192, 176, 176, 144, 168, 168);
	a->fut_loop = 16;
	a->fut_state = PER_MINOR(minor, 72, 80, 88, 88, 88, 96, 104, 104);
	/* an int up to 3.12, then bit 0 of a bitfield word */
	a->fut_log_tb = PER_MINOR(minor, 76, 84, 92, 92, 92, 100, 110, 110);
	a->fut_log_tb_mask = 1;
	a->task_fut_waiter = PER_MINOR(minor, 104, 144, 152, 128, 128, 112, 120, 120);
	a->task_coro = PER_MINOR(minor, 112, 152, 160, 136, 136, 120, 128, 128);
	a->task_name = PER_MINOR(minor, 120, 160, 168, 144, 144, 128, 136, 136);
	a->task_awaited_by = minor >= 14 ? 96 : NONE;
	a->task_awaited_by_is_set = minor >= 14 ? 109 : NONE;
	a->task_node = minor >= 14 ? 152 : NONE;

	a->gen_qualname = PER_MINOR(minor, 56, 56, 48, 40, 32, 32, 32, 32);
	a->gen_frame = minor <= 10 ? 16 : NONE;
	a->gen_frame_state = PER_MINOR(minor, NONE, NONE, NONE, 75, 67, 67, 67, 67);
	a->code_code = minor <= 10 ? 48 : NONE;
	a->frame_localsplus = NONE;
	a->await_slot = 1;
	if (minor <= 9) {
		a->await_kind = PY_AWAIT_STACKTOP;
		a->frame_stack = 72;		/* f_stacktop */
		a->await_op = 72;		/* YIELD_FROM */
		a->await_op_alt = 72;
	} else if (minor == 10) {
		a->await_kind = PY_AWAIT_STACKDEPTH;
		a->frame_stack = 80;		/* f_stackdepth */
		a->frame_localsplus = 64;	/* f_valuestack */
		a->await_op = 72;
		a->await_op_alt = 72;
	} else if (minor <= 12) {
		a->await_kind = PY_AWAIT_RESUME;
		a->state_yield_from = -1;	/* FRAME_SUSPENDED */
		a->state_yield_from_max = -1;
		a->frame_stack = 64;		/* stacktop */
		a->frame_localsplus = 72;
		a->await_op = 151;		/* RESUME */
		/* RESUME_QUICK (3.11) / INSTRUMENTED_RESUME (3.12) */
		a->await_op_alt = minor == 11 ? 150 : 240;
	} else if (minor == 13) {
		a->await_kind = PY_AWAIT_INDEX;
		a->state_yield_from = -1;	/* FRAME_SUSPENDED_YIELD_FROM */
		a->state_yield_from_max = -1;
		a->frame_stack = 64;
		a->frame_localsplus = 72;
	} else {
		a->await_kind = PY_AWAIT_POINTER;
		a->frame_stack = 64;		/* stackpointer */
		if (minor == 14) {
			a->state_yield_from = -1;
			a->state_yield_from_max = -1;
		} else {
			/* renumbered; _LOCKED is a yield-from being inspected by another thread */
			a->state_yield_from = 2;
			a->state_yield_from_max = 3;
			a->await_slot = 2;	/* slot -1 holds NULL */
		}
	}

	a->attrs = minor <= 10 ? PY_ATTRS_DICTOFFSET : minor == 11 ? PY_ATTRS_MANAGED :
		   minor == 12 ? PY_ATTRS_TAGGED : PY_ATTRS_INLINE;
	a->type_name = 24;
	a->type_basicsize = 32;
	a->type_flags = 168;
	a->type_base = 256;
	a->type_dictoffset = 288;
	a->ht_cached_keys = PER_MINOR(minor, NONE, NONE, NONE, 872, 880, 880, 880, 888);
	a->values_data = minor >= 13 ? 8 : 0;	/* 3.13 put a header before the values */
	a->dict_log2 = minor >= 11;
	a->long_tag = minor >= 12;
}

int pyversion__layout(unsigned int minor, struct py_layout *l)
{
	if (minor < PY_MINOR_FIRST || minor > PY_MINOR_LAST)
		return -EOPNOTSUPP;
	common_layout(l);
	l->minor = minor;
	if (minor <= 10)
		layout_frameobject(l, minor);
	else if (minor == 11)
		layout_311(l);
	else if (minor == 12)
		layout_312(l);
	else
		layout_313plus(l, minor);
	layout_asyncio(l, minor);
	return 0;
}

/*
 * _Py_DebugOffsets member order per minor release, after CPython's
 * Include/internal/pycore_runtime.h (3.13) and pycore_debug_offsets.h (3.14, 3.15). Every
 * member is a uint64_t; the struct starts with cookie[8], version, free_threaded. Each list
 * was checked against a real build's .PyRuntime (pyenv 3.13.0, Debian 3.13.18, 3.14.10,
 * 3.15.2): the values read match the offsets measured from those builds' debug info.
 */
static const char *const do_313[] = {
	"runtime_state.size", "runtime_state.finalizing", "runtime_state.interpreters_head",
	"interpreter_state.size", "interpreter_state.id", "interpreter_state.next",
	"interpreter_state.threads_head", "interpreter_state.gc",
	"interpreter_state.imports_modules", "interpreter_state.sysdict",
	"interpreter_state.builtins", "interpreter_state.ceval_gil",
	"interpreter_state.gil_runtime_state", "interpreter_state.gil_runtime_state_enabled",
	"interpreter_state.gil_runtime_state_locked", "interpreter_state.gil_runtime_state_holder",
	"thread_state.size", "thread_state.prev", "thread_state.next", "thread_state.interp",
	"thread_state.current_frame", "thread_state.thread_id", "thread_state.native_thread_id",
	"thread_state.datastack_chunk", "thread_state.status",
	"interpreter_frame.size", "interpreter_frame.previous", "interpreter_frame.executable",
	"interpreter_frame.instr_ptr", "interpreter_frame.localsplus", "interpreter_frame.owner",
	"code_object.size", "code_object.filename", "code_object.name", "code_object.qualname",
	"code_object.linetable", "code_object.firstlineno", "code_object.argcount",
	"code_object.localsplusnames", "code_object.localspluskinds",
	"code_object.co_code_adaptive",
	"pyobject.size", "pyobject.ob_type",
	"type_object.size", "type_object.tp_name", "type_object.tp_repr", "type_object.tp_flags",
	"tuple_object.size", "tuple_object.ob_item", "tuple_object.ob_size",
	"list_object.size", "list_object.ob_item", "list_object.ob_size",
	"dict_object.size", "dict_object.ma_keys", "dict_object.ma_values",
	"float_object.size", "float_object.ob_fval",
	"long_object.size", "long_object.lv_tag", "long_object.ob_digit",
	"bytes_object.size", "bytes_object.ob_size", "bytes_object.ob_sval",
	"unicode_object.size", "unicode_object.state", "unicode_object.length",
	"unicode_object.asciiobject_size",
	"gc.size", "gc.collecting",
	NULL,
};

static const char *const do_314[] = {
	"runtime_state.size", "runtime_state.finalizing", "runtime_state.interpreters_head",
	"interpreter_state.size", "interpreter_state.id", "interpreter_state.next",
	"interpreter_state.threads_head", "interpreter_state.threads_main", "interpreter_state.gc",
	"interpreter_state.imports_modules", "interpreter_state.sysdict",
	"interpreter_state.builtins", "interpreter_state.ceval_gil",
	"interpreter_state.gil_runtime_state", "interpreter_state.gil_runtime_state_enabled",
	"interpreter_state.gil_runtime_state_locked", "interpreter_state.gil_runtime_state_holder",
	"interpreter_state.code_object_generation", "interpreter_state.tlbc_generation",
	"thread_state.size", "thread_state.prev", "thread_state.next", "thread_state.interp",
	"thread_state.current_frame", "thread_state.thread_id", "thread_state.native_thread_id",
	"thread_state.datastack_chunk", "thread_state.status",
	"interpreter_frame.size", "interpreter_frame.previous", "interpreter_frame.executable",
	"interpreter_frame.instr_ptr", "interpreter_frame.localsplus", "interpreter_frame.owner",
	"interpreter_frame.stackpointer", "interpreter_frame.tlbc_index",
	"code_object.size", "code_object.filename", "code_object.name", "code_object.qualname",
	"code_object.linetable", "code_object.firstlineno", "code_object.argcount",
	"code_object.localsplusnames", "code_object.localspluskinds",
	"code_object.co_code_adaptive", "code_object.co_tlbc",
	"pyobject.size", "pyobject.ob_type",
	"type_object.size", "type_object.tp_name", "type_object.tp_repr", "type_object.tp_flags",
	"tuple_object.size", "tuple_object.ob_item", "tuple_object.ob_size",
	"list_object.size", "list_object.ob_item", "list_object.ob_size",
	"set_object.size", "set_object.used", "set_object.table", "set_object.mask",
	"dict_object.size", "dict_object.ma_keys", "dict_object.ma_values",
	"float_object.size", "float_object.ob_fval",
	"long_object.size", "long_object.lv_tag", "long_object.ob_digit",
	"bytes_object.size", "bytes_object.ob_size", "bytes_object.ob_sval",
	"unicode_object.size", "unicode_object.state", "unicode_object.length",
	"unicode_object.asciiobject_size",
	"gc.size", "gc.collecting",
	"gen_object.size", "gen_object.gi_name", "gen_object.gi_iframe",
	"gen_object.gi_frame_state",
	NULL,
};

static const char *const do_315[] = {
	"runtime_state.size", "runtime_state.finalizing", "runtime_state.interpreters_head",
	"interpreter_state.size", "interpreter_state.id", "interpreter_state.next",
	"interpreter_state.threads_head", "interpreter_state.threads_main", "interpreter_state.gc",
	"interpreter_state.imports_modules", "interpreter_state.sysdict",
	"interpreter_state.builtins", "interpreter_state.ceval_gil",
	"interpreter_state.gil_runtime_state", "interpreter_state.gil_runtime_state_enabled",
	"interpreter_state.gil_runtime_state_locked", "interpreter_state.gil_runtime_state_holder",
	"interpreter_state.code_object_generation", "interpreter_state.tlbc_generation",
	"thread_state.size", "thread_state.prev", "thread_state.next", "thread_state.interp",
	"thread_state.current_frame", "thread_state.base_frame",
	"thread_state.last_profiled_frame", "thread_state.last_profiled_frame_seq",
	"thread_state.thread_id", "thread_state.native_thread_id",
	"thread_state.datastack_chunk", "thread_state.status",
	"thread_state.holds_gil", "thread_state.gil_requested",
	"thread_state.current_exception", "thread_state.exc_state",
	"err_stackitem.exc_value",
	"interpreter_frame.size", "interpreter_frame.previous", "interpreter_frame.executable",
	"interpreter_frame.instr_ptr", "interpreter_frame.localsplus", "interpreter_frame.owner",
	"interpreter_frame.stackpointer", "interpreter_frame.tlbc_index",
	"code_object.size", "code_object.filename", "code_object.name", "code_object.qualname",
	"code_object.linetable", "code_object.firstlineno", "code_object.argcount",
	"code_object.localsplusnames", "code_object.localspluskinds",
	"code_object.co_code_adaptive", "code_object.co_tlbc",
	"pyobject.size", "pyobject.ob_type",
	"type_object.size", "type_object.tp_name", "type_object.tp_repr", "type_object.tp_flags",
	"type_object.tp_basicsize", "type_object.tp_dictoffset",
	"heap_type_object.size", "heap_type_object.ht_cached_keys",
	"tuple_object.size", "tuple_object.ob_item", "tuple_object.ob_size",
	"list_object.size", "list_object.ob_item", "list_object.ob_size",
	"set_object.size", "set_object.used", "set_object.table", "set_object.mask",
	"dict_object.size", "dict_object.ma_keys", "dict_object.ma_values",
	"float_object.size", "float_object.ob_fval",
	"long_object.size", "long_object.lv_tag", "long_object.ob_digit",
	"bytes_object.size", "bytes_object.ob_size", "bytes_object.ob_sval",
	"unicode_object.size", "unicode_object.state", "unicode_object.length",
	"unicode_object.asciiobject_size", "unicode_object.compactunicodeobject_size",
	"gc.size", "gc.collecting", "gc.frame", "gc.generation_stats_size",
	"gc.generation_stats",
	"gen_object.size", "gen_object.gi_name", "gen_object.gi_iframe",
	"gen_object.gi_frame_state",
	NULL,
};

#define DO_HEADER 24	/* cookie[8], version, free_threaded */

struct debug_offsets {
	const char *const *names;
	const __u64 *vals;	/* members after the header, unaligned-safe copy */
	size_t nvals;
};

static int do_get(const struct debug_offsets *d, const char *name, __u64 *val)
{
	size_t i;

	for (i = 0; d->names[i]; i++) {
		if (strcmp(d->names[i], name))
			continue;
		if (i >= d->nvals)
			return -EPROTO;
		*val = d->vals[i];
		return 0;
	}
	return -ENOENT;
}

/* Store a debug offset into a 16-bit table slot; offsets past 64 KiB mean garbage. */
static int do_set16(const struct debug_offsets *d, const char *name, __u16 *slot)
{
	__u64 v;
	int err;

	err = do_get(d, name, &v);
	if (err)
		return err;
	if (v >= NONE)
		return -EPROTO;
	*slot = (__u16)v;
	return 0;
}

struct do_map {
	const char *name;
	size_t slot;		/* byte offset of the __u16 inside struct py_layout */
};

#define LAYOUT(f) offsetof(struct py_layout, f)

static const struct do_map do_required[] = {
	{ "runtime_state.interpreters_head", LAYOUT(off.runtime_interp_head) },
	{ "interpreter_state.next", LAYOUT(off.interp_next) },
	{ "interpreter_state.threads_head", LAYOUT(off.interp_tstate_head) },
	{ "interpreter_state.ceval_gil", LAYOUT(interp_gil_ptr) },
	{ "interpreter_state.gil_runtime_state", LAYOUT(interp_gil) },
	{ "thread_state.next", LAYOUT(off.tstate_next) },
	{ "thread_state.interp", LAYOUT(off.tstate_interp) },
	{ "thread_state.current_frame", LAYOUT(off.tstate_frame) },
	{ "thread_state.thread_id", LAYOUT(off.tstate_thread_id) },
	{ "thread_state.native_thread_id", LAYOUT(off.tstate_tid) },
	{ "interpreter_frame.previous", LAYOUT(off.frame_previous) },
	{ "interpreter_frame.executable", LAYOUT(off.frame_code) },
	{ "interpreter_frame.instr_ptr", LAYOUT(off.frame_instr) },
	{ "interpreter_frame.owner", LAYOUT(off.frame_owner) },
	{ "code_object.filename", LAYOUT(off.code_filename) },
	{ "code_object.name", LAYOUT(off.code_name) },
	{ "code_object.qualname", LAYOUT(off.code_qualname) },
	{ "code_object.linetable", LAYOUT(off.code_linetable) },
	{ "code_object.firstlineno", LAYOUT(off.code_firstlineno) },
	{ "code_object.co_code_adaptive", LAYOUT(off.code_adaptive) },
	{ "pyobject.ob_type", LAYOUT(off.obj_type) },
	{ "bytes_object.ob_size", LAYOUT(bytes_size) },
	{ "bytes_object.ob_sval", LAYOUT(bytes_data) },
	{ "unicode_object.state", LAYOUT(str_state) },
	{ "unicode_object.length", LAYOUT(str_length) },
	{ "unicode_object.asciiobject_size", LAYOUT(str_ascii_data) },
};

/* Members that only some minors have. */
static const struct do_map do_optional[] = {
	{ "thread_state.base_frame", LAYOUT(tstate_base_frame_ptr) },
	{ "gen_object.gi_iframe", LAYOUT(off.gen_iframe) },
	{ "unicode_object.compactunicodeobject_size", LAYOUT(str_compact_data) },
	{ "interpreter_state.imports_modules", LAYOUT(aio.interp_modules) },
	{ "interpreter_frame.stackpointer", LAYOUT(aio.frame_stack) },
	{ "gen_object.gi_frame_state", LAYOUT(aio.gen_frame_state) },
	{ "type_object.tp_name", LAYOUT(aio.type_name) },
	{ "type_object.tp_flags", LAYOUT(aio.type_flags) },
	{ "type_object.tp_basicsize", LAYOUT(aio.type_basicsize) },
	{ "type_object.tp_dictoffset", LAYOUT(aio.type_dictoffset) },
	{ "heap_type_object.ht_cached_keys", LAYOUT(aio.ht_cached_keys) },
};

int pyversion__apply_debug_offsets(struct py_layout *l, const void *buf, size_t len,
				   char *msg, size_t msglen)
{
	const char *const *names;
	struct debug_offsets d;
	__u64 version, ft, gil = 0, v, fsize = 0;
	__u64 vals[PY_DEBUG_OFFSETS_MAX / 8];
	size_t i, n;
	int err;

	if (len < DO_HEADER || memcmp(buf, "xdebugpy", 8)) {
		snprintf(msg, msglen, "_PyRuntime does not start with the debug offsets cookie");
		return -EPROTO;
	}
	memcpy(&version, (const char *)buf + 8, 8);
	memcpy(&ft, (const char *)buf + 16, 8);
	if (((version >> 24) & 0xff) != 3 || ((version >> 16) & 0xff) != l->minor) {
		snprintf(msg, msglen, "debug offsets are for version 0x%llx, expected 3.%u",
			 (unsigned long long)version, l->minor);
		return -EOPNOTSUPP;
	}
	if (ft) {
		snprintf(msg, msglen, "free-threaded CPython 3.%u builds are not supported",
			 l->minor);
		return -EOPNOTSUPP;
	}
	names = l->minor == 13 ? do_313 : l->minor == 14 ? do_314 : do_315;
	n = (len - DO_HEADER) / 8;
	if (n > sizeof(vals) / 8)
		n = sizeof(vals) / 8;
	memcpy(vals, (const char *)buf + DO_HEADER, n * 8);
	d.names = names;
	d.vals = vals;
	d.nvals = n;

	for (i = 0; i < sizeof(do_required) / sizeof(do_required[0]); i++) {
		err = do_set16(&d, do_required[i].name,
			       (__u16 *)((char *)l + do_required[i].slot));
		if (err) {
			snprintf(msg, msglen, "debug offsets: bad or missing %s",
				 do_required[i].name);
			return -EPROTO;
		}
	}
	for (i = 0; i < sizeof(do_optional) / sizeof(do_optional[0]); i++) {
		err = do_set16(&d, do_optional[i].name,
			       (__u16 *)((char *)l + do_optional[i].slot));
		if (err && err != -ENOENT) {
			snprintf(msg, msglen, "debug offsets: bad %s", do_optional[i].name);
			return -EPROTO;
		}
	}
	/*
	 * 3.13 keeps the running loop first in _PyThreadStateImpl, right after PyThreadState,
	 * whose size changed inside 3.13.x.
	 */
	if (l->minor == 13 && !do_get(&d, "thread_state.size", &v) && v >= 64 && v < NONE - 8)
		l->aio.tstate_running_loop = (__u16)v;
	/* GIL members are given relative to the interpreter; the table wants them in the GIL */
	do_get(&d, "interpreter_state.gil_runtime_state", &gil);
	if (!do_get(&d, "interpreter_state.gil_runtime_state_locked", &v) && v > gil &&
	    v - gil < 256)
		l->off.gil_locked = (__u16)(v - gil);
	if (!do_get(&d, "interpreter_state.gil_runtime_state_holder", &v) && v > gil &&
	    v - gil < 256)
		l->off.gil_last_holder = (__u16)(v - gil);

	/* Cheap sanity checks that catch a wrong member order for this minor. */
	if (!do_get(&d, "gen_object.size", &v) && !do_get(&d, "interpreter_frame.size", &fsize) &&
	    l->off.gen_iframe + fsize > v) {
		snprintf(msg, msglen, "debug offsets of 3.%u: frame does not fit in a generator",
			 l->minor);
		return -EPROTO;
	}
	if (l->off.tstate_next != 8 || l->off.obj_type != 8 || l->off.frame_owner < 16 ||
	    l->off.frame_instr < 16 || l->off.code_adaptive < l->off.code_linetable ||
	    l->str_ascii_data < l->str_state ||
	    /* a str header is small in every build: these size reads of it (pyobj.c) */
	    l->str_ascii_data > 120 || l->str_compact_data > 120 ||
	    l->str_length + 8 > l->str_ascii_data || l->str_state + 4 > l->str_ascii_data) {
		snprintf(msg, msglen, "debug offsets of 3.%u did not pass sanity checks", l->minor);
		return -EPROTO;
	}
	return 0;
}

/*
 * Py_AsyncioModuleDebugOffsets, 3.14 and 3.15 alike: asyncio_task_object {size, task_name,
 * task_awaited_by, task_is_task, task_awaited_by_is_set, task_coro, task_node},
 * asyncio_interpreter_state {size, asyncio_tasks_head}, asyncio_thread_state {size,
 * asyncio_running_loop, asyncio_running_task, asyncio_tasks_head}; all uint64_t.
 */
enum {
	AD_TASK_SIZE, AD_TASK_NAME, AD_TASK_AWAITED_BY, AD_TASK_IS_TASK, AD_TASK_AWAITED_BY_IS_SET,
	AD_TASK_CORO, AD_TASK_NODE, AD_INTERP_SIZE, AD_INTERP_TASKS_HEAD, AD_THREAD_SIZE,
	AD_THREAD_RUNNING_LOOP, AD_THREAD_RUNNING_TASK, AD_THREAD_TASKS_HEAD, AD_NR,
};

int pyversion__apply_asyncio_debug(struct py_layout *l, const void *buf, size_t len,
				   char *msg, size_t msglen)
{
	struct py_asyncio_layout *a = &l->aio;
	__u64 v[AD_NR];
	int i;

	if (l->minor < 14 || len < sizeof(v)) {
		snprintf(msg, msglen, "AsyncioDebug: %zu bytes for 3.%u", len, l->minor);
		return -EPROTO;
	}
	memcpy(v, buf, sizeof(v));
	/* each group's members must fall inside the group's struct, which must be sane */
	if (v[AD_TASK_SIZE] < 64 || v[AD_TASK_SIZE] > 1024 || v[AD_THREAD_SIZE] >= NONE ||
	    v[AD_INTERP_SIZE] < v[AD_INTERP_TASKS_HEAD] + 16 || v[AD_INTERP_TASKS_HEAD] >= NONE)
		goto bad;
	for (i = AD_TASK_NAME; i <= AD_TASK_NODE; i++) {
		if (v[i] >= v[AD_TASK_SIZE])
			goto bad;
	}
	for (i = AD_THREAD_RUNNING_LOOP; i <= AD_THREAD_TASKS_HEAD; i++) {
		if (v[i] + 8 > v[AD_THREAD_SIZE])
			goto bad;
	}
	if (a->fut_state >= v[AD_TASK_SIZE] || a->task_fut_waiter >= v[AD_TASK_SIZE] ||
	    a->fut_log_tb >= v[AD_TASK_SIZE])
		goto bad;
	a->task_size = (__u16)v[AD_TASK_SIZE];
	a->task_name = (__u16)v[AD_TASK_NAME];
	a->task_awaited_by = (__u16)v[AD_TASK_AWAITED_BY];
	a->task_awaited_by_is_set = (__u16)v[AD_TASK_AWAITED_BY_IS_SET];
	a->task_coro = (__u16)v[AD_TASK_CORO];
	a->task_node = (__u16)v[AD_TASK_NODE];
	a->interp_tasks_head = (__u16)v[AD_INTERP_TASKS_HEAD];
	a->tstate_running_loop = (__u16)v[AD_THREAD_RUNNING_LOOP];
	a->tstate_tasks_head = (__u16)v[AD_THREAD_TASKS_HEAD];
	l->off.tstate_running_task = (__u16)v[AD_THREAD_RUNNING_TASK];
	a->asyncio_debug = true;
	return 0;
bad:
	snprintf(msg, msglen, "AsyncioDebug section of 3.%u did not pass sanity checks",
		 l->minor);
	return -EPROTO;
}

int pyversion__parse(const char *s, unsigned int *major, unsigned int *minor,
		     unsigned int *micro)
{
	char *end;
	unsigned long a, b, c;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	a = strtoul(s, &end, 10);
	if (*end != '.' || end[1] < '0' || end[1] > '9')
		return -EINVAL;
	b = strtoul(end + 1, &end, 10);
	if (*end != '.' || end[1] < '0' || end[1] > '9')
		return -EINVAL;
	c = strtoul(end + 1, &end, 10);
	if (a > 9 || b > 99 || c > 999)
		return -EINVAL;
	*major = (unsigned int)a;
	*minor = (unsigned int)b;
	*micro = (unsigned int)c;
	return 0;
}
