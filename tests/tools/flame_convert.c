// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * flame_convert: folded stacks on stdin to any flamegraph format (user/flame.h), or synthetic
 * stacks for the benchmark. Test tool.
 *
 * Build (from the repository root):
 *   mkdir -p .output/flame && cc -O2 -g -Wall -std=gnu11 -D_GNU_SOURCE -Iuser \
 *       tests/tools/flame_convert.c user/flame*.c user/pb.c -lz -lm -o .output/flame/flame_convert
 *
 * Usage: flame_convert [-o PATH] [--format svg|folded|speedscope|pprof] [--title T]
 *                      [--unit ms|samples] [--root LABEL] [--cause C] [--min-width PCT]
 *                      [--generate N [--seed S] [--skew K] [--emit]] [--stats]
 *
 * Input lines: "[@cause;]outer;...;leaf weight". A frame "func (file:line)" or "func (file)"
 * is split into its parts, so folded output converts back to the same tree; anything else is
 * a function name alone. The optional first field "@cause" sets the line's cause (default
 * --cause, else "cpu"). Blank lines and lines starting with '#' are skipped.
 * Without -o the output goes to stdout, folded unless --format says otherwise.
 * --generate N adds N random stacks shaped like an asyncio program instead of reading stdin
 * (--emit prints them as folded lines instead); --skew K sets how strongly a function prefers
 * its first callee (2.5; lower makes more distinct stacks); --stats reports timings on stderr.
 * Exit status: 0, 1 on error, 2 on bad usage.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include "flame.h"

static double now(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Split "func (file:line)" in place; labels without the suffix are a bare function name. */
static void parse_frame(char *s, struct flame_frame *fr)
{
	size_t n = strlen(s);
	char *open, *colon, *end;
	unsigned long line;

	fr->func = s;
	fr->file = NULL;
	fr->line = 0;
	if (n < 4 || s[n - 1] != ')')
		return;
	open = NULL;
	for (char *p = s + n - 2; p > s; p--) {
		if (p[0] == '(' && p[-1] == ' ') {
			open = p;
			break;
		}
	}
	if (!open || open + 1 == s + n - 1)
		return;
	s[n - 1] = '\0';
	open[-1] = '\0';
	fr->file = open + 1;
	colon = strrchr(fr->file, ':');
	if (colon && colon[1]) {
		errno = 0;
		line = strtoul(colon + 1, &end, 10);
		if (!*end && !errno && line <= UINT32_MAX && colon[1] >= '0' && colon[1] <= '9') {
			*colon = '\0';
			fr->line = line;
		}
	}
}

static int read_folded(struct flame *f, FILE *in, const char *root, const char *cause,
		       long *lines)
{
	static struct flame_frame frames[FLAME_MAX_DEPTH];
	char *buf = NULL, *p, *sp, *end, *tok, *save;
	size_t cap = 0;
	ssize_t len;
	long lineno = 0;
	int err = 0, n;
	double w;

	while ((len = getline(&buf, &cap, in)) >= 0) {
		const char *c = cause;

		lineno++;
		while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
			buf[--len] = '\0';
		if (!len || buf[0] == '#')
			continue;
		sp = strrchr(buf, ' ');
		if (!sp) {
			fprintf(stderr, "flame_convert: line %ld: no weight\n", lineno);
			err = -EINVAL;
			goto cleanup;
		}
		*sp = '\0';
		w = strtod(sp + 1, &end);
		if (end == sp + 1 || *end) {
			fprintf(stderr, "flame_convert: line %ld: bad weight '%s'\n", lineno,
				sp + 1);
			err = -EINVAL;
			goto cleanup;
		}
		p = buf;
		if (*p == '@') {
			c = p + 1;
			p = strchr(p, ';');
			if (!p) {
				fprintf(stderr, "flame_convert: line %ld: no stack\n", lineno);
				err = -EINVAL;
				goto cleanup;
			}
			*p++ = '\0';
		}
		n = 0;
		for (tok = strtok_r(p, ";", &save); tok; tok = strtok_r(NULL, ";", &save)) {
			if (n == FLAME_MAX_DEPTH) {
				err = -E2BIG;
				break;
			}
			parse_frame(tok, &frames[n++]);
		}
		if (!err)
			err = flame__add(f, root, frames, n, c, w);
		if (err) {
			fprintf(stderr, "flame_convert: line %ld: %s\n", lineno, strerror(-err));
			goto cleanup;
		}
		(*lines)++;
	}
cleanup:
	free(buf);
	return err;
}

/* ---- synthetic stacks ---- */

static uint64_t rng;

static uint64_t next_rand(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 0x2545f4914f6cdd1dULL;
}

static double uniform(void)
{
	return (next_rand() >> 11) * (1.0 / 9007199254740992.0);
}

static double skew = 2.5;

/*
 * Child k of fan-out n (at most 64), P(k) ~ 1 / (k + 1)^skew: like real code, a few callees
 * take most of the time. Skew 2.5 gives the first of 6 callees 77% of the samples.
 */
static unsigned zipf(unsigned n)
{
	static double cdf[65][64];
	double u = uniform(), sum = 0;
	unsigned k;

	if (cdf[n][n - 1] == 0) {
		for (k = 0; k < n; k++)
			sum += cdf[n][k] = pow(k + 1, -skew);
		for (k = 0; k < n; k++)
			cdf[n][k] = (k ? cdf[n][k - 1] : 0) + cdf[n][k] / sum;
	}
	for (k = 0; k < n - 1; k++)
		if (u < cdf[n][k])
			return k;
	return n - 1;
}

static uint64_t hash64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	return x ^ (x >> 33);
}

static const struct flame_frame loop_frames[] = {
	{ "<module>", "app/main.py", 42 },
	{ "run", "/usr/lib/python3.11/asyncio/runners.py", 190 },
	{ "run", "/usr/lib/python3.11/asyncio/runners.py", 118 },
	{ "run_until_complete", "/usr/lib/python3.11/asyncio/base_events.py", 640 },
	{ "run_forever", "/usr/lib/python3.11/asyncio/base_events.py", 607 },
	{ "_run_once", "/usr/lib/python3.11/asyncio/base_events.py", 1922 },
	{ "_run", "/usr/lib/python3.11/asyncio/events.py", 80 },
};
#define LOOP_FRAMES ((int)(sizeof(loop_frames) / sizeof(loop_frames[0])))

static const struct {
	const char *cause;
	double p;
} causes[] = {
	{ "cpu", 0.50 }, { "net", 0.15 },	{ "sleep", 0.10 },     { "disk", 0.07 },
	{ "lock", 0.06 }, { "gc", 0.05 },	{ "preempted", 0.04 }, { "idle", 0.03 },
};

/*
 * A random walk down a fixed call graph: 3000 functions in 97 modules, fan-out 6, 3 to 28
 * frames under the event loop, so stacks share prefixes and functions recur in many places.
 */
#define FUNCS 3000

static int generate(struct flame *f, long n, bool emit, const char *root, bool counts)
{
	static char func[FUNCS][16], file[FUNCS][16];
	struct flame_frame frames[LOOP_FRAMES + 32];
	long i;
	int d, k, err;

	/* names made once: the benchmark times the library, not snprintf */
	for (k = 0; k < FUNCS; k++) {
		snprintf(func[k], sizeof(func[k]), "handler_%d", k);
		snprintf(file[k], sizeof(file[k]), "app/mod_%d.py", k % 97);
	}
	memcpy(frames, loop_frames, sizeof(loop_frames));
	for (i = 0; i < n; i++) {
		int depth = LOOP_FRAMES + 3 + (int)(uniform() * uniform() * 26);
		uint64_t fid = 1 + zipf(40);	/* the task's coroutine */
		const char *cause = causes[0].cause;
		double u = uniform(), w;

		for (d = LOOP_FRAMES; d < depth; d++) {
			uint64_t site = hash64(fid * 8 + zipf(6));

			fid = site % FUNCS;
			frames[d] = (struct flame_frame){ func[fid], file[fid],
							  10 + (site >> 32) % 400 };
		}
		for (k = 0; k < (int)(sizeof(causes) / sizeof(causes[0])); k++) {
			cause = causes[k].cause;
			if ((u -= causes[k].p) < 0)
				break;
		}
		w = counts ? 1 : 0.01 + uniform() * uniform() * 5;
		if (emit) {
			printf("@%s;", cause);
			for (d = 0; d < depth; d++)
				printf("%s%s (%s:%u)", d ? ";" : "", frames[d].func, frames[d].file,
				       frames[d].line);
			printf(counts ? " %.0f\n" : " %.3f\n", w);
			continue;
		}
		err = flame__add(f, root, frames, depth, cause, w);
		if (err)
			return err;
	}
	return 0;
}

static int format_by_name(const char *name, enum flame_format *fmt)
{
	static const char *const names[] = { "svg", "folded", "speedscope", "pprof" };
	int i;

	for (i = 0; i < 4; i++) {
		if (strcmp(name, names[i]) == 0) {
			*fmt = (enum flame_format)i;
			return 0;
		}
	}
	return -EINVAL;
}

static void usage(void)
{
	fprintf(stderr, "usage: flame_convert [-o PATH] [--format svg|folded|speedscope|pprof] "
			"[--title T] [--unit ms|samples] [--root LABEL] [--cause C] "
			"[--min-width PCT] [--generate N [--seed S] [--skew K] [--emit]] [--stats] "
			"< folded\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "format", required_argument, NULL, 'f' },
		{ "title", required_argument, NULL, 't' },
		{ "unit", required_argument, NULL, 'u' },
		{ "root", required_argument, NULL, 'r' },
		{ "cause", required_argument, NULL, 'c' },
		{ "min-width", required_argument, NULL, 'm' },
		{ "generate", required_argument, NULL, 'g' },
		{ "seed", required_argument, NULL, 's' },
		{ "skew", required_argument, NULL, 'k' },
		{ "emit", no_argument, NULL, 'e' },
		{ "stats", no_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	const char *path = NULL, *title = "", *unit = "samples", *root = NULL, *cause = "cpu";
	enum flame_format fmt = FLAME_FOLDED;
	bool have_fmt = false, emit = false, stats = false;
	double min_width = -1, t0, t1, t2, c0, c1, c2;
	long generate_n = -1, lines = 0;
	struct flame *f = NULL;
	FILE *out = stdout;
	struct stat st;
	int opt, err = 0;

	rng = 0x853c49e6748fea9bULL;
	while ((opt = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'o':
			path = optarg;
			break;
		case 'f':
			if (format_by_name(optarg, &fmt)) {
				usage();
				return 2;
			}
			have_fmt = true;
			break;
		case 't':
			title = optarg;
			break;
		case 'u':
			unit = optarg;
			break;
		case 'r':
			root = optarg;
			break;
		case 'c':
			cause = optarg;
			break;
		case 'm':
			min_width = strtod(optarg, NULL) / 100;
			break;
		case 'g':
			generate_n = strtol(optarg, NULL, 10);
			break;
		case 's':
			rng = strtoull(optarg, NULL, 0) | 1;
			break;
		case 'k':
			skew = strtod(optarg, NULL);
			break;
		case 'e':
			emit = true;
			break;
		case 'S':
			stats = true;
			break;
		default:
			usage();
			return opt == 'h' ? 0 : 2;
		}
	}
	if (optind != argc || (emit && generate_n < 0)) {
		usage();
		return 2;
	}
	if (path && !have_fmt && flame__format_from_path(path, &fmt)) {
		fprintf(stderr, "flame_convert: %s: unknown format, use --format\n", path);
		return 2;
	}
	if (emit)
		return generate(NULL, generate_n, true, root, strcmp(unit, "samples") == 0) ? 1 : 0;

	f = flame__new(title, unit);
	if (!f) {
		fprintf(stderr, "flame_convert: out of memory\n");
		return 1;
	}
	if (min_width >= 0)
		flame__set_min_width(f, min_width);
	/* CPU time beside wall time: a shared machine stretches the one but not the other */
	t0 = now(CLOCK_MONOTONIC);
	c0 = now(CLOCK_PROCESS_CPUTIME_ID);
	if (generate_n >= 0) {
		err = generate(f, generate_n, false, root, flame__counts(f));
		lines = generate_n;
	} else {
		err = read_folded(f, stdin, root, cause, &lines);
	}
	if (err) {
		fprintf(stderr, "flame_convert: %s\n", strerror(-err));
		goto cleanup;
	}
	t1 = now(CLOCK_MONOTONIC);
	c1 = now(CLOCK_PROCESS_CPUTIME_ID);
	if (path) {
		out = fopen(path, "w");
		if (!out) {
			err = -errno;
			fprintf(stderr, "flame_convert: %s: %s\n", path, strerror(errno));
			goto cleanup;
		}
	}
	err = flame__write(f, fmt, out);
	if (out != stdout && fclose(out) && !err)
		err = -EIO;
	if (err) {
		fprintf(stderr, "flame_convert: write: %s\n", strerror(-err));
		goto cleanup;
	}
	t2 = now(CLOCK_MONOTONIC);
	c2 = now(CLOCK_PROCESS_CPUTIME_ID);
	if (stats) {
		const struct flame_frame *frames;

		fprintf(stderr, "stacks %ld frames %d depth %d add %.3fs (cpu %.3fs) "
			"write %.3fs (cpu %.3fs)", lines, flame__frames(f, &frames),
			flame__max_depth(f), t1 - t0, c1 - c0, t2 - t1, c2 - c1);
		if (path && stat(path, &st) == 0)
			fprintf(stderr, " size %lld", (long long)st.st_size);
		fputc('\n', stderr);
	}
cleanup:
	flame__free(f);
	return err ? 1 : 0;
}
