// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * loopscope: an eBPF profiler for Python event loops.
 *
 * Layout: env.c parses the command line; session.c runs one attach/run/record session
 * using target.c (the process), tracer.c (the BPF object), python.c (the interpreter, via
 * py/), stats.c (numbers), taskwatch.c (pending tasks), record.c (flamegraphs) and
 * report_*.c (text or JSON); tasks_cmd.c is the one-shot task dump. `loopscope daemon`, the
 * sidecar that follows services and serves metrics, lives in daemon/.
 */
#include <string.h>
#include "daemon/daemon.h"
#include "env.h"
#include "session.h"
#include "tasks_cmd.h"

int main(int argc, char **argv)
{
	struct env env;

	if (argc > 1 && !strcmp(argv[1], "daemon"))
		return daemon__main(argc - 1, argv + 1);
	env__parse(&env, argc, argv);
	if (env.cmd == CMD_TASKS)
		return tasks__run(&env);
	return session__run(&env);
}
