// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * loopscope: an eBPF profiler for Python event loops.
 *
 * Layout: env.c parses the command line, session.c runs one attach/run session using
 * target.c (the process), tracer.c (the BPF object), stats.c (numbers) and report_*.c (text
 * or JSON).
 */
#include "env.h"
#include "session.h"

int main(int argc, char **argv)
{
	struct env env;

	env__parse(&env, argc, argv);
	return session__run(&env);
}
