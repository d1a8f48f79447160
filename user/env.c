// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <argp.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "env.h"
#include "frames.h"
#include "record.h"

#define EXIT_USAGE 2

const char *argp_program_version = "loopscope 0.1";
const char *argp_program_bug_address = "<https://github.com/loopscope/loopscope/issues>";

static const char top_doc[] =
	"loopscope: find what blocks a Python event loop, from outside, without restarting it.\n"
	"\n"
	"USAGE: loopscope attach PID [OPTIONS]\n"
	"       loopscope run [OPTIONS] [--] PROGRAM [ARGS...]\n"
	"       loopscope record PID|[--] PROGRAM... -o FILE [--view V] [-d SEC]\n"
	"       loopscope tasks PID [--json]\n"
	"       loopscope daemon [--config FILE] [--pid|--unit|--cgroup|--match X]...\n"
	"\n"
	"Commands:\n"
	"  attach PID   follow the event loops of a running Python process\n"
	"  run CMD...   start CMD and follow its loops from the first iteration\n"
	"  record       write a flamegraph of where the loop's time went (svg, folded,\n"
	"               speedscope, pprof)\n"
	"  tasks PID    every asyncio task, its await chain and what it waits on, now\n"
	"  daemon       the sidecar: follow services across restarts, serve /metrics\n"
	"\n"
	"Run `loopscope COMMAND --help` for a command's options.\n";

static const char cmd_doc[] =
	"Report event-loop health every interval and every stall: a loop iteration whose\n"
	"callbacks held the loop longer than the threshold, with its on-CPU time and its\n"
	"off-CPU time by reason (sleep, network, disk, lock, page fault, preempted).\n"
	"\v"
	"EXAMPLES:\n"
	"  loopscope attach 4242                 # report until Ctrl-C or the target exits\n"
	"  loopscope attach 4242 -t 50 -d 60     # 50 ms threshold, for one minute\n"
	"  loopscope attach 4242 --json | jq .   # JSON lines for machines\n"
	"  loopscope run -- python3 app.py       # start app.py under loopscope\n"
	"  loopscope record 4242 -d 30 -o loop.svg          # 30 s, stall view, as SVG\n"
	"  loopscope record 4242 --view wall -o loop.pb.gz  # all loop time, as pprof\n"
	"\n"
	"Exit status: 0 on success, 1 on an error, 2 on bad usage, 3 when the target never ran\n"
	"an event loop. Attaching needs root (or CAP_BPF, CAP_PERFMON and CAP_SYS_PTRACE).\n";

enum {
	OPT_BTF = 0x100,
	OPT_POLL_LOOPS,
	OPT_TOP,
	OPT_RAW_TP,
	OPT_OWN,
	OPT_AUDIT,
	OPT_FORMAT,
	OPT_NO_TASKS,
	OPT_HANG,
	OPT_VIEW,
	OPT_LIBRARY,
};

static const struct argp_option opts[] = {
	{ NULL, 0, NULL, 0, "Reporting:", 1 },
	{ "threshold", 't', "MS", 0, "Report busy periods longer than MS ms (default 100, "
				     "asyncio's slow_callback_duration)", 1 },
	{ "interval", 'i', "SEC", 0, "Print loop health every SEC seconds (default 1; 0: never)", 1 },
	{ "duration", 'd', "SEC", 0, "Stop after SEC seconds (default: until Ctrl-C or exit)", 1 },
	{ "json", 'j', NULL, 0, "JSON lines instead of text", 1 },
	{ "top", OPT_TOP, "N", 0, "Longest stalls listed in the summary (default 5)", 1 },
	{ "no-tasks", OPT_NO_TASKS, NULL, 0, "Don't read the pending tasks every interval", 1 },
	{ "hang-after", OPT_HANG, "SEC", 0, "Report a hang when tasks wait on each other or on "
					    "a primitive, none finishes and the loop idles this "
					    "long (default 10)", 1 },
	{ NULL, 0, NULL, 0, "Recording (record):", 2 },
	{ "output", 'o', "FILE", 0, "Where to write the flamegraph (- for stdout)", 2 },
	{ "format", OPT_FORMAT, "FMT", 0, "svg, folded, speedscope or pprof (default: from the "
					  "extension: .svg .folded .json .pb.gz)", 2 },
	{ "view", OPT_VIEW, "VIEW", 0, "stall (default: ms the loop was unavailable, coloured "
				      "by cause), cpu (on-CPU samples), offcpu (blocked time, "
				      "cause as root), wall (all loop time, idle included)", 2 },
	{ NULL, 0, NULL, 0, "Python stacks:", 3 },
	{ "frequency", 'F', "HZ", 0, "Sample loop threads on CPU at HZ inside busy periods "
				    "(default 199; 0: off)", 3 },
	{ "own", OPT_OWN, "PATH", 0, "Files under PATH are your code, even in site-packages "
				     "(repeatable)", 3 },
	{ "audit", OPT_AUDIT, NULL, 0,
	  "Name blocking calls with CPython's audit events (open, socket.connect, "
	  "subprocess.Popen, time.sleep on 3.13+) where the build has USDT probes. COST: while "
	  "attached, the interpreter builds every audit event even with no hook installed, a "
	  "few percent on open()- or import-heavy code", 3 },
	{ "library", OPT_LIBRARY, "PATH", 0, "Files under PATH are library code, skipped when "
					     "naming where a stall happened (repeatable)", 3 },
	{ NULL, 0, NULL, 0, "Advanced:", 4 },
	{ "poll-loops", OPT_POLL_LOOPS, NULL, 0,
	  "Also treat poll/select waits as loop waits (loops on PollSelector/SelectSelector; "
	  "off by default: sockets with timeouts poll too)", 4 },
	{ "raw-tracepoints", OPT_RAW_TP, NULL, 0,
	  "Use raw tracepoints even where BTF tracepoints work (what older kernels get)", 4 },
	{ "btf", OPT_BTF, "FILE", 0, "Kernel BTF to use when /sys/kernel/btf/vmlinux is missing", 4 },
	{ "verbose", 'v', NULL, 0, "Say more (libbpf's messages; twice: its debug output)", 4 },
	{},
};

static double parse_num(struct argp_state *state, const char *what, const char *arg, double min,
			double max)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(arg, &end);
	if (errno || end == arg || *end || v < min || v > max)
		argp_error(state, "invalid %s '%s': expected a number from %g to %g", what, arg,
			   min, max);
	return v;
}

static error_t parse_opt(int key, char *arg, struct argp_state *state)
{
	struct env *env = state->input;

	switch (key) {
	case 't':
		env->threshold_ms = parse_num(state, "threshold", arg, 0.001, 3600e3);
		break;
	case 'i':
		env->interval_s = parse_num(state, "interval", arg, 0, 86400);
		if (env->interval_s > 0 && env->interval_s < 0.1)
			argp_error(state, "invalid interval '%s': 0, or at least 0.1 s", arg);
		break;
	case 'd':
		env->duration_s = parse_num(state, "duration", arg, 0.1, 365 * 86400.0);
		break;
	case 'j':
		env->json = true;
		break;
	case 'v':
		env->verbose++;
		break;
	case OPT_TOP:
		env->top = (int)parse_num(state, "--top", arg, 0, 32);
		break;
	case OPT_POLL_LOOPS:
		env->poll_loops = true;
		break;
	case 'F':
		env->freq = (int)parse_num(state, "frequency", arg, 0, 10000);
		break;
	case 'o':
		env->output = arg;
		break;
	case OPT_FORMAT:
		if (strcmp(arg, "svg") && strcmp(arg, "folded") && strcmp(arg, "speedscope") &&
		    strcmp(arg, "pprof"))
			argp_error(state, "invalid format '%s': svg, folded, speedscope or pprof",
				   arg);
		env->format = arg;
		break;
	case OPT_VIEW: {
		enum record_view v;

		if (record__parse_view(arg, &v))
			argp_error(state, "invalid view '%s': stall, cpu, offcpu or wall", arg);
		env->view = v;
		break;
	}
	case OPT_NO_TASKS:
		env->no_tasks = true;
		break;
	case OPT_HANG:
		env->hang_s = parse_num(state, "--hang-after", arg, 0.5, 86400);
		break;
	case OPT_AUDIT:
		env->audit = true;
		break;
	case OPT_OWN:
		where__own(arg);
		break;
	case OPT_LIBRARY:
		where__skip(arg);
		break;
	case OPT_RAW_TP:
		env->raw_tp = true;
		break;
	case OPT_BTF:
		env->btf_path = arg;
		break;
	case ARGP_KEY_ARG:
		if (env->cmd == CMD_RECORD && !env->pid && !env->argv &&
		    strspn(arg, "0123456789") == strlen(arg)) {
			env->pid = (pid_t)parse_num(state, "PID", arg, 1, INT_MAX);
			break;
		}
		if (env->cmd == CMD_RUN || (env->cmd == CMD_RECORD && !env->pid)) {
			/* everything from the program name on belongs to the program */
			env->argv = &state->argv[state->next - 1];
			state->next = state->argc;
			break;
		}
		if (env->pid)
			argp_error(state, "unexpected argument '%s'", arg);
		env->pid = (pid_t)parse_num(state, "PID", arg, 1, INT_MAX);
		break;
	case ARGP_KEY_END:
		if ((env->cmd == CMD_ATTACH || env->cmd == CMD_TASKS) && !env->pid)
			argp_error(state, "%s needs a PID", env->cmd == CMD_TASKS ? "tasks" : "attach");
		if (env->cmd == CMD_RUN && !env->argv)
			argp_error(state, "run needs a program to start");
		if (env->cmd == CMD_RECORD && !env->pid && !env->argv)
			argp_error(state, "record needs a PID or a program to start");
		if (env->cmd == CMD_RECORD && !env->output)
			argp_error(state, "record needs -o FILE");
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

void env__parse(struct env *env, int argc, char **argv)
{
	struct argp argp = { opts, parse_opt, NULL, cmd_doc };
	const char *cmd = argc > 1 ? argv[1] : "";

	memset(env, 0, sizeof(*env));
	env->threshold_ms = 100;
	env->interval_s = 1;
	env->top = 5;
	env->freq = 199;
	env->hang_s = 10;
	argp_err_exit_status = EXIT_USAGE;

	if (!strcmp(cmd, "attach")) {
		env->cmd = CMD_ATTACH;
		argp.args_doc = "PID";
	} else if (!strcmp(cmd, "run")) {
		env->cmd = CMD_RUN;
		argp.args_doc = "[--] PROGRAM [ARGS...]";
	} else if (!strcmp(cmd, "tasks")) {
		env->cmd = CMD_TASKS;
		argp.args_doc = "PID";
	} else if (!strcmp(cmd, "record")) {
		env->cmd = CMD_RECORD;
		argp.args_doc = "PID | [--] PROGRAM [ARGS...]";
	} else if (!strcmp(cmd, "--version") || !strcmp(cmd, "-V")) {
		printf("%s\n", argp_program_version);
		exit(0);
	} else {
		bool help = !strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h");

		fputs(top_doc, help ? stdout : stderr);
		if (!help && cmd[0])
			fprintf(stderr, "\nloopscope: unknown command '%s'\n", cmd);
		exit(help ? 0 : EXIT_USAGE);
	}
	argv[1] = argv[0];	/* "loopscope attach" reads as one program name in messages */
	argp_parse(&argp, argc - 1, argv + 1, ARGP_IN_ORDER, NULL, env);
	/* a recording of a running process is bounded unless asked otherwise */
	if (env->cmd == CMD_RECORD && env->pid && !env->duration_s)
		env->duration_s = 30;
}
