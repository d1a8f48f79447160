// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * pydump [-v] [-o] PID: print the Python stack of every thread of a live CPython process,
 * innermost frame first, read from outside with the interpreter reader (user/py/). Test tool.
 *
 * Build (from the repository root):
 *   mkdir -p .output && cc -O2 -g -Wall -Iuser -Ibpf tests/tools/pydump.c user/py/[a-z]*.c \
 *       -lelf -lz -o .output/pydump
 *
 * Output:
 *   Thread <host tid> (ns <tid>, tstate 0x..., coro 0x...) [flags]
 *     <function> (<file>:<line>)
 * Exit status: 0, 1 on error (message on stderr), 2 for an unsupported interpreter.
 */
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/types.h>
#include "py/pyproc.h"
#include "py/pysym.h"

#define MAX_THREADS 1024
#define MAX_FRAMES 128

static void print_flags(__u32 flags)
{
	if (flags & PY_WALK_TRUNCATED)
		printf(" [truncated]");
	if (flags & PY_WALK_FAULT)
		printf(" [read fault]");
	if (flags & PY_WALK_BAD_CODE)
		printf(" [invalid frames skipped]");
}

static void print_offsets(const struct py_offsets *o)
{
#define ADDR(f) printf("  %-20s 0x%llx\n", #f, (unsigned long long)o->f)
#define OFF(f) printf(o->f == PY_OFF_NONE ? "  %-20s none\n" : "  %-20s %u\n", #f, o->f)
	ADDR(runtime_addr);
	ADDR(interp_addr);
	ADDR(code_type);
	ADDR(coro_type);
	ADDR(gil_addr);
	ADDR(code_mask);
	ADDR(flags);
	printf("  %-20s %u\n", "gil_size", o->gil_size);
	OFF(runtime_interp_head);
	OFF(interp_next);
	OFF(interp_tstate_head);
	OFF(tstate_next);
	OFF(tstate_interp);
	OFF(tstate_tid);
	OFF(tstate_thread_id);
	OFF(pthread_tid);
	OFF(tstate_frame);
	OFF(cframe_frame);
	OFF(tstate_base_frame);
	OFF(frame_previous);
	OFF(frame_code);
	OFF(frame_instr);
	OFF(frame_owner);
	OFF(frame_gen);
	OFF(gen_iframe);
	OFF(obj_type);
	OFF(code_adaptive);
	OFF(code_firstlineno);
	OFF(code_filename);
	OFF(code_name);
	OFF(code_qualname);
	OFF(code_linetable);
	OFF(gil_locked);
	OFF(gil_last_holder);
	printf("  %-20s %u\n  %-20s %u\n", "owner_shim_min", o->owner_shim_min,
	       "owner_generator", o->owner_generator);
#undef ADDR
#undef OFF
}

static void dump_thread(const struct pyproc *p, struct pysym *sym, int host, int ns_tid,
			__u64 tstate)
{
	struct py_raw_frame frames[MAX_FRAMES];
	struct py_walk_info info;
	struct py_frame f;
	int i, n;

	n = pyproc__walk(p, tstate, frames, MAX_FRAMES, &info);
	printf("Thread %d (ns %d, tstate 0x%llx, coro 0x%llx)", host, ns_tid,
	       (unsigned long long)tstate, (unsigned long long)(n < 0 ? 0 : info.coro));
	if (n < 0) {
		printf(" [cannot read the stack: %s]\n", strerror(-n));
		return;
	}
	print_flags(info.flags);
	printf("\n");
	for (i = 0; i < n; i++) {
		if (pysym__resolve(sym, &frames[i], &f))
			printf("  <invalid code object 0x%llx>\n",
			       (unsigned long long)frames[i].code);
		else
			printf("  %s (%s:%u)\n", f.func, f.file, f.line);
	}
}

/*
 * OS threads first, the way a profiler meets them: host TID -> namespace TID -> thread
 * state. Thread states no OS thread matched (starting, exiting, or TIDs unknown) follow.
 */
static int dump_all(const struct pyproc *p, struct pysym *sym, struct py_thread *threads,
		    int n)
{
	char path[64];
	struct dirent *de;
	__u64 ts;
	int i, tid, ns_tid;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", pyproc__pid(p));
	d = opendir(path);
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		tid = atoi(de->d_name);
		if (tid <= 0 || pyproc__ns_tid(p, tid, &ns_tid) ||
		    pyproc__thread_state(p, ns_tid, &ts))
			continue;
		dump_thread(p, sym, tid, ns_tid, ts);
		for (i = 0; i < n; i++) {
			if (threads[i].tstate == ts)
				threads[i].tstate = 0;
		}
	}
	closedir(d);
	for (i = 0; i < n; i++) {
		if (threads[i].tstate)
			dump_thread(p, sym, -1, threads[i].ns_tid, threads[i].tstate);
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct py_thread *threads = NULL;
	struct pysym_stats ss;
	struct pyproc_stats ps;
	struct pyproc *p = NULL;
	struct pysym *sym = NULL;
	char desc[512], *end;
	bool verbose = false, offsets = false;
	int n, pid, err;

	for (; argc > 1 && argv[1][0] == '-'; argv++, argc--) {
		if (!strcmp(argv[1], "-v"))
			verbose = true;
		else if (!strcmp(argv[1], "-o"))
			offsets = true;
		else
			break;
	}
	if (argc != 2) {
		fprintf(stderr, "usage: pydump [-v] [-o] PID\n"
			"  -v  print read and symbolizer counters on stderr\n"
			"  -o  print the offsets table handed to BPF\n");
		return 1;
	}
	pid = (int)strtol(argv[1], &end, 10);
	if (*end || pid <= 0) {
		fprintf(stderr, "pydump: bad PID '%s'\n", argv[1]);
		return 1;
	}
	err = pyproc__open(pid, &p);
	if (err) {
		fprintf(stderr, "pydump: %d: %s\n", pid, pyproc__strerror(err));
		return err == -EOPNOTSUPP ? 2 : 1;
	}
	err = pysym__new(p, &sym);
	threads = calloc(MAX_THREADS, sizeof(*threads));
	if (err || !threads) {
		fprintf(stderr, "pydump: out of memory\n");
		err = -ENOMEM;
		goto cleanup;
	}
	pyproc__describe(p, desc, sizeof(desc));
	printf("Process %d: %s\n", pid, desc);
	if (offsets)
		print_offsets(pyproc__offsets(p));
	n = pyproc__threads(p, threads, MAX_THREADS);
	if (n < 0) {
		err = n;
		fprintf(stderr, "pydump: %d: cannot list threads: %s\n", pid, strerror(-err));
		goto cleanup;
	}
	err = dump_all(p, sym, threads, n);
	if (err) {
		fprintf(stderr, "pydump: %d: cannot list threads: %s\n", pid, strerror(-err));
		goto cleanup;
	}
	if (verbose) {
		pyproc__stats(p, &ps);
		pysym__stats(sym, &ss);
		fprintf(stderr, "pydump: %llu reads, %llu failed, %llu faults; symbols: %llu "
			"lookups, %llu hits, %llu stale, %llu invalid, %llu bad tables\n",
			(unsigned long long)ps.reads, (unsigned long long)ps.read_failures,
			(unsigned long long)ps.faults, (unsigned long long)ss.lookups,
			(unsigned long long)ss.hits, (unsigned long long)ss.stale,
			(unsigned long long)ss.invalid, (unsigned long long)ss.bad_tables);
	}
	err = 0;
cleanup:
	free(threads);
	pysym__free(sym);
	pyproc__free(p);
	return err ? 1 : 0;
}
