// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * verifier_stats OBJ [PROG...]: load each BPF program of OBJ on its own (its maps with it, the
 * other programs not loaded, read-only data at its defaults) and print what the verifier
 * spent on it, one tab-separated line per program:
 *
 *   name  section  insns  verified_insns  peak_states  verify_usec  status
 *
 * insns is the program's size, verified_insns the instructions the verifier processed (the
 * number the kernel's 1M limit applies to), status "ok" or "error:<errno>" with the
 * verifier's last lines on stderr. Used by scripts/verifier-budget.sh. Needs root.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#define STATS_LOG (64 << 10)
#define FAIL_LOG (16 << 20)

static int quiet(enum libbpf_print_level level, const char *fmt, va_list args)
{
	return 0;
}

static long grab(const char *log, const char *key)
{
	const char *p = strstr(log, key);

	return p ? strtol(p + strlen(key), NULL, 10) : -1;
}

static void print_tail(const char *name, const char *log)
{
	size_t n = strlen(log);
	const char *p = log + n;
	int lines = 0;

	while (p > log && lines < 25)
		if (*--p == '\n')
			lines++;
	fprintf(stderr, "--- %s: verifier log (tail) ---\n%s\n", name, p);
}

/* Open OBJ with only program `want` set to load; returns the object or NULL. */
static struct bpf_object *open_one(const char *path, const char *want, char *log, size_t loglen,
				   int level, struct bpf_program **out)
{
	struct bpf_object *obj = bpf_object__open_file(path, NULL);
	struct bpf_program *p;

	*out = NULL;
	if (!obj)
		return NULL;
	bpf_object__for_each_program(p, obj) {
		bool me = !strcmp(bpf_program__name(p), want);

		bpf_program__set_autoload(p, me);
		if (me) {
			bpf_program__set_log_buf(p, log, loglen);
			bpf_program__set_log_level(p, level);
			*out = p;
		}
	}
	return obj;
}

static int one(const char *path, const char *name)
{
	struct bpf_prog_info info = {};
	__u32 info_len = sizeof(info);
	struct bpf_program *p;
	struct bpf_object *obj;
	char *log = calloc(1, FAIL_LOG);
	const char *sec = "?";
	size_t insns = 0;
	int err;

	if (!log)
		return -ENOMEM;
	obj = open_one(path, name, log, STATS_LOG, 4, &p);
	if (!obj || !p) {
		fprintf(stderr, "verifier_stats: cannot open %s / %s\n", path, name);
		free(log);
		return -ENOENT;
	}
	sec = bpf_program__section_name(p);
	insns = bpf_program__insn_cnt(p);
	err = bpf_object__load(obj);
	if (!err) {
		err = bpf_obj_get_info_by_fd(bpf_program__fd(p), &info, &info_len);
		printf("%s\t%s\t%zu\t%ld\t%ld\t%ld\tok\n", name, sec, insns,
		       err ? grab(log, "processed ") : (long)info.verified_insns,
		       grab(log, "peak_states "), grab(log, "verification time "));
		err = 0;
	} else {
		long processed = grab(log, "processed ");

		/* again with the full log, for the reason */
		bpf_object__close(obj);
		memset(log, 0, FAIL_LOG);
		obj = open_one(path, name, log, FAIL_LOG, 1, &p);
		if (obj && p && bpf_object__load(obj) && !processed)
			processed = grab(log, "processed ");
		printf("%s\t%s\t%zu\t%ld\t%ld\t%ld\terror:%d\n", name, sec, insns, processed,
		       grab(log, "peak_states "), grab(log, "verification time "), err);
		print_tail(name, log);
	}
	bpf_object__close(obj);
	free(log);
	return err;
}

int main(int argc, char **argv)
{
	struct bpf_object *obj;
	struct bpf_program *p;
	char **names = NULL;
	int i, n = 0, failed = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: verifier_stats OBJ [PROG...]\n");
		return 2;
	}
	libbpf_set_print(getenv("VERIFIER_STATS_DEBUG") ? NULL : quiet);
	if (argc > 2) {
		names = argv + 2;
		n = argc - 2;
	} else {
		obj = bpf_object__open_file(argv[1], NULL);
		if (!obj) {
			fprintf(stderr, "verifier_stats: cannot open %s: %s\n", argv[1],
				strerror(errno));
			return 1;
		}
		names = calloc(256, sizeof(*names));
		bpf_object__for_each_program(p, obj)
			if (n < 256)
				names[n++] = strdup(bpf_program__name(p));
		bpf_object__close(obj);
	}
	for (i = 0; i < n; i++)
		failed += one(argv[1], names[i]) != 0;
	return failed ? 1 : 0;
}
