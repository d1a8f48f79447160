// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "config.h"

#define EXIT_USAGE 2

enum ktype { K_NUM, K_INT, K_STR, K_SEL, K_BOOL, K_SIZE, K_FORMAT, K_LISTEN, K_SERVICE };

struct key {
	const char *name;
	enum ktype type;
	size_t off;		/* into struct dconf; for K_SEL the selector kind */
	double min, max;
	const char *unit;
	int shortopt;
	const char *help;
};

#define OFF(f) offsetof(struct dconf, f)

static const struct key keys[] = {
	{ "pid", K_SEL, SEL_PID, 1, 4194304, "", 'p', "watch this process and its children" },
	{ "pidfile", K_SEL, SEL_PIDFILE, 0, 0, "", 0, "watch the process named in this file" },
	{ "unit", K_SEL, SEL_UNIT, 0, 0, "", 'u', "watch a systemd unit's processes (its cgroup)" },
	{ "cgroup", K_SEL, SEL_CGROUP, 0, 0, "", 0, "watch a cgroup v2 directory's processes" },
	{ "match", K_SEL, SEL_MATCH, 0, 0, "", 'm', "watch processes whose command line matches" },
	{ "service", K_SERVICE, OFF(service), 1, 63, "", 0, "the `service` label in metrics" },
	{ "listen", K_LISTEN, OFF(listen), 0, 65535, "", 'l', "HOST:PORT of /metrics, or off" },
	{ "threshold", K_NUM, OFF(threshold_ms), 1, 60000, "ms", 't', "a stall is this long" },
	{ "interval", K_NUM, OFF(interval_s), 0.1, 3600, "s", 'i', "how often loops are read" },
	{ "scan", K_NUM, OFF(scan_s), 0.1, 60, "s", 0, "how often targets are looked for" },
	{ "wedged-after", K_NUM, OFF(wedged_s), 0.1, 86400, "s", 0,
	  "no iteration for this long: wedged" },
	{ "duration", K_NUM, OFF(duration_s), 0, 31536000, "s", 'd', "stop after (0: never)" },
	{ "freq", K_INT, OFF(freq), 0, 10000, "Hz", 'F', "on-CPU sampling rate (0: off)" },
	{ "budget", K_NUM, OFF(budget_pct), 0.01, 100, "%", 0,
	  "loopscope's own CPU, % of one CPU" },
	{ "flight-dir", K_STR, OFF(flight_dir), 1, CONF_STR - 1, "", 0,
	  "where flight-recorder dumps go" },
	{ "flight-seconds", K_NUM, OFF(flight_s), 1, 3600, "s", 0, "seconds a dump covers" },
	{ "flight-threshold", K_NUM, OFF(flight_threshold_ms), 1, 3600000, "ms", 0,
	  "a stall this long writes a dump" },
	{ "flight-max-size", K_SIZE, OFF(flight_max_bytes), 4096, 1e12, "bytes", 0,
	  "the dump directory's size limit (K, M, G suffixes)" },
	{ "flight-format", K_FORMAT, OFF(flight_format), 0, 0, "", 0,
	  "folded, pprof, or folded,pprof" },
	{ "tasks", K_BOOL, OFF(tasks), 0, 0, "", 0, "read pending asyncio tasks (yes/no)" },
	{ "audit", K_BOOL, OFF(audit), 0, 0, "", 0, "CPython audit events name blocking calls" },
	{ "verbose", K_INT, OFF(verbose), 0, 3, "", 0, "libbpf's messages (flag: -v)" },
	{ "btf", K_STR, OFF(btf), 1, CONF_STR - 1, "", 0, "kernel BTF file (no /sys/kernel/btf)" },
};

#define NKEYS (int)(sizeof(keys) / sizeof(keys[0]))

const char *selector__name(enum selector_kind k)
{
	static const char *names[] = { "pid", "pidfile", "unit", "cgroup", "match" };

	return k <= SEL_MATCH ? names[k] : "?";
}

static const struct key *find_key(const char *name)
{
	char norm[64];
	size_t i;

	for (i = 0; name[i] && i < sizeof(norm) - 1; i++)
		norm[i] = name[i] == '_' ? '-' : tolower((unsigned char)name[i]);
	norm[i] = '\0';
	for (i = 0; i < (size_t)NKEYS; i++)
		if (!strcmp(keys[i].name, norm))
			return &keys[i];
	return NULL;
}

static int parse_double(const char *s, double *v)
{
	char *end;

	errno = 0;
	*v = strtod(s, &end);
	return errno || end == s || *end || !isfinite(*v) ? -1 : 0;
}

static int parse_size(const char *s, double *v)
{
	char buf[64], *end;
	size_t n = strlen(s);
	double mult = 1;

	if (!n || n >= sizeof(buf))
		return -1;
	memcpy(buf, s, n + 1);
	switch (toupper((unsigned char)buf[n - 1])) {
	case 'K': mult = 1024; break;
	case 'M': mult = 1024 * 1024; break;
	case 'G': mult = 1024 * 1024 * 1024; break;
	}
	if (mult > 1)
		buf[n - 1] = '\0';
	errno = 0;
	*v = strtod(buf, &end) * mult;
	return errno || end == buf || *end || !isfinite(*v) ? -1 : 0;
}

static int set_bool(bool *b, const char *s)
{
	if (!strcasecmp(s, "yes") || !strcasecmp(s, "true") || !strcmp(s, "1") ||
	    !strcasecmp(s, "on"))
		*b = true;
	else if (!strcasecmp(s, "no") || !strcasecmp(s, "false") || !strcmp(s, "0") ||
		 !strcasecmp(s, "off"))
		*b = false;
	else
		return -1;
	return 0;
}

static int check_listen(const char *v, char *err, size_t len)
{
	const char *colon = strrchr(v, ':');
	double port;

	if (!strcmp(v, "off"))
		return 0;
	if (!colon || colon == v || parse_double(colon + 1, &port) || port < 0 || port > 65535 ||
	    port != (int)port) {
		snprintf(err, len, "'%s' is not HOST:PORT (e.g. 127.0.0.1:9464) or off", v);
		return -1;
	}
	return 0;
}

static int check_format(const char *v, char *err, size_t len)
{
	if (!strcmp(v, "folded") || !strcmp(v, "pprof") || !strcmp(v, "folded,pprof") ||
	    !strcmp(v, "pprof,folded"))
		return 0;
	snprintf(err, len, "'%s' is not folded, pprof or folded,pprof", v);
	return -1;
}

static int add_selector(struct dconf *c, enum selector_kind kind, const struct key *k,
			const char *v, char *err, size_t len)
{
	regex_t re;
	double pid;
	int rc;

	if (c->nsel == CONF_MAX_SELECTORS) {
		snprintf(err, len, "more than %d targets", CONF_MAX_SELECTORS);
		return -1;
	}
	if (!v[0] || strlen(v) >= CONF_STR) {
		snprintf(err, len, "needs a value of 1 to %d characters", CONF_STR - 1);
		return -1;
	}
	if (kind == SEL_PID && (parse_double(v, &pid) || pid != (long)pid || pid < k->min ||
				pid > k->max)) {
		snprintf(err, len, "'%s' is not a PID", v);
		return -1;
	}
	if (kind == SEL_MATCH) {
		rc = regcomp(&re, v, REG_EXTENDED | REG_NOSUB);
		if (rc) {
			char why[128];

			regerror(rc, &re, why, sizeof(why));
			snprintf(err, len, "'%s' is not a regular expression: %s", v, why);
			return -1;
		}
		regfree(&re);
	}
	c->sel[c->nsel].kind = kind;
	snprintf(c->sel[c->nsel].value, CONF_STR, "%s", v);
	c->nsel++;
	return 0;
}

int dconf__set(struct dconf *c, const char *name, const char *v, char *err, size_t len)
{
	const struct key *k = find_key(name);
	char *field;
	double d;
	size_t i;

	if (!k) {
		snprintf(err, len, "unknown setting '%s' (see loopscope daemon --help)", name);
		return -1;
	}
	field = (char *)c + k->off;
	switch (k->type) {
	case K_SEL:
		if (add_selector(c, (enum selector_kind)k->off, k, v, err, len))
			goto bad;
		return 0;
	case K_NUM:
	case K_INT:
	case K_SIZE:
		if ((k->type == K_SIZE ? parse_size(v, &d) : parse_double(v, &d)) ||
		    (k->type == K_INT && d != (long long)d)) {
			snprintf(err, len, "'%s' is not a%s number", v,
				 k->type == K_INT ? " whole" : "");
			goto bad;
		}
		if (d < k->min || d > k->max) {
			snprintf(err, len, "%s is out of range (%g to %g%s%s)", v, k->min, k->max,
				 k->unit[0] ? " " : "", k->unit);
			goto bad;
		}
		if (k->type == K_NUM)
			*(double *)field = d;
		else if (k->type == K_INT)
			*(int *)field = (int)d;
		else
			*(long long *)field = (long long)d;
		return 0;
	case K_BOOL:
		if (set_bool((bool *)field, v)) {
			snprintf(err, len, "'%s' is not yes or no", v);
			goto bad;
		}
		return 0;
	case K_SERVICE:
		for (i = 0; v[i]; i++)
			if (!isalnum((unsigned char)v[i]) && !strchr("_.:-@", v[i]))
				break;
		if (v[i] || !i || i > k->max) {
			snprintf(err, len, "'%s' must be 1 to 63 letters, digits or _.:-@", v);
			goto bad;
		}
		break;
	case K_LISTEN:
		if (check_listen(v, err, len))
			goto bad;
		break;
	case K_FORMAT:
		if (check_format(v, err, len))
			goto bad;
		break;
	case K_STR:
		if (!v[0] || strlen(v) > k->max) {
			snprintf(err, len, "needs a value of 1 to %d characters", (int)k->max);
			goto bad;
		}
		break;
	}
	snprintf(field, k->type == K_FORMAT ? sizeof(c->flight_format) :
			 k->type == K_SERVICE ? sizeof(c->service) : CONF_STR, "%s", v);
	return 0;
bad:
	/* "threshold: '0' is out of range": the key first */
	{
		char tmp[512];

		snprintf(tmp, sizeof(tmp), "%s: %s", k->name, err);
		snprintf(err, len, "%s", tmp);
	}
	return -1;
}

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

int dconf__load(struct dconf *c, const char *path, char *err, size_t len)
{
	char line[1024], why[400];
	int lineno = 0, ret = 0;
	FILE *f;

	f = fopen(path, "re");
	if (!f) {
		snprintf(err, len, "cannot read config %s: %s", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		char *s, *eq, *key, *val;
		size_t n;

		lineno++;
		if (!strchr(line, '\n') && !feof(f)) {
			snprintf(err, len, "%s:%d: line too long", path, lineno);
			ret = -1;
			break;
		}
		s = trim(line);
		if (!*s || *s == '#' || *s == ';')
			continue;
		eq = strchr(s, '=');
		if (!eq) {
			snprintf(err, len, "%s:%d: expected KEY = VALUE, got '%.60s'", path, lineno, s);
			ret = -1;
			break;
		}
		*eq = '\0';
		key = trim(s);
		val = trim(eq + 1);
		if (val[0] == '"') {
			/* quoted: may hold " #"; nothing but a comment may follow */
			char *end = strchr(val + 1, '"'), *rest;

			rest = end ? trim(end + 1) : NULL;
			if (!end || (*rest && *rest != '#')) {
				snprintf(err, len, "%s:%d: unterminated or trailing text after \"...\"",
					 path, lineno);
				ret = -1;
				break;
			}
			*end = '\0';
			val++;
		} else {
			/* "threshold = 100   # ms": a comment starts at whitespace and '#' */
			for (n = 1; val[0] && val[n]; n++)
				if (val[n] == '#' && isspace((unsigned char)val[n - 1])) {
					val[n] = '\0';
					val = trim(val);
					break;
				}
		}
		if (dconf__set(c, key, val, why, sizeof(why))) {
			snprintf(err, len, "%s:%d: %s", path, lineno, why);
			ret = -1;
			break;
		}
	}
	if (!ret && ferror(f)) {
		snprintf(err, len, "cannot read config %s", path);
		ret = -1;
	}
	fclose(f);
	return ret;
}

static void usage(FILE *out)
{
	int i;

	fputs("Usage: loopscope daemon [--config FILE] [--KEY VALUE]...\n\n"
	      "Watch the Python services chosen by pid, pidfile, unit, cgroup or match (each may\n"
	      "be given several times), follow them across restarts and worker replacement, and\n"
	      "serve their loop health on /metrics, /loops and /health. Stalls go to stdout as\n"
	      "JSON lines. A config file takes the same keys as KEY = VALUE lines.\n\n", out);
	for (i = 0; i < NKEYS; i++) {
		char opt[48];

		if (keys[i].shortopt)
			snprintf(opt, sizeof(opt), "-%c, --%s", keys[i].shortopt, keys[i].name);
		else
			snprintf(opt, sizeof(opt), "    --%s", keys[i].name);
		fprintf(out, "  %-26s %s\n", opt, keys[i].help);
	}
	fputs("  -c, --config FILE          read settings from FILE first\n"
	      "  -v                         more of libbpf's messages\n"
	      "\nSIGUSR1 writes a flight-recorder dump; SIGTERM or SIGINT stops.\n", out);
}

static void defaults(struct dconf *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->service, sizeof(c->service), "default");
	snprintf(c->listen, sizeof(c->listen), "127.0.0.1:9464");
	c->threshold_ms = 100;
	c->interval_s = 1;
	c->scan_s = 1;
	c->wedged_s = 10;
	c->freq = 49;
	c->budget_pct = 1;
	c->flight_s = 60;
	c->flight_threshold_ms = 1000;
	c->flight_max_bytes = 64LL << 20;
	snprintf(c->flight_format, sizeof(c->flight_format), "folded,pprof");
	c->tasks = true;
}

static void die(const char *fmt, const char *a, const char *b)
{
	fprintf(stderr, "loopscope: ");
	fprintf(stderr, fmt, a, b);
	fputc('\n', stderr);
	exit(EXIT_USAGE);
}

void dconf__parse(struct dconf *c, int argc, char **argv)
{
	struct option lopts[NKEYS + 3];
	char shorts[64] = "+c:vh", err[512];
	int i, o, idx;

	defaults(c);
	for (i = 0; i < NKEYS; i++) {
		lopts[i] = (struct option){ keys[i].name, required_argument, NULL, 256 + i };
		if (keys[i].shortopt) {
			size_t n = strlen(shorts);

			shorts[n] = keys[i].shortopt;
			shorts[n + 1] = ':';
			shorts[n + 2] = '\0';
		}
	}
	lopts[NKEYS] = (struct option){ "config", required_argument, NULL, 'c' };
	lopts[NKEYS + 1] = (struct option){ "help", no_argument, NULL, 'h' };
	lopts[NKEYS + 2] = (struct option){ NULL, 0, NULL, 0 };

	/* the file first, wherever --config is, so that flags override it */
	opterr = 0;
	while ((o = getopt_long(argc, argv, shorts, lopts, &idx)) != -1) {
		if (o == 'h') {
			usage(stdout);
			exit(0);
		}
		if (o == 'c' && dconf__load(c, optarg, err, sizeof(err)))
			die("%s%s", err, "");
	}
	optind = 0;
	opterr = 1;
	while ((o = getopt_long(argc, argv, shorts, lopts, &idx)) != -1) {
		const struct key *k = NULL;

		if (o == 'c')
			continue;
		if (o == 'v') {
			c->verbose++;
			continue;
		}
		if (o >= 256)
			k = &keys[o - 256];
		for (i = 0; !k && i < NKEYS; i++)
			if (keys[i].shortopt == o)
				k = &keys[i];
		if (!k) {
			fprintf(stderr, "Try 'loopscope daemon --help'.\n");
			exit(EXIT_USAGE);
		}
		if (dconf__set(c, k->name, optarg, err, sizeof(err)))
			die("%s%s", err, "");
	}
	if (optind < argc)
		die("unexpected argument '%s'%s (targets are --pid, --unit, --match, ...)",
		    argv[optind], "");
	if (!c->nsel)
		die("%s%s", "daemon needs a target: --pid, --pidfile, --unit, --cgroup or --match "
			    "(or the same keys in --config FILE)", "");
	if (c->flight_threshold_ms < c->threshold_ms)
		c->flight_threshold_ms = c->threshold_ms;
}
