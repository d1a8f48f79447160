/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * `loopscope daemon` settings: one table of keys, read from a config file (KEY = VALUE lines)
 * and from --KEY VALUE flags, validated the same way for both. Flags win over the file.
 */
#ifndef __DAEMON_CONFIG_H
#define __DAEMON_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#define CONF_MAX_SELECTORS 16
#define CONF_STR 256

enum selector_kind {
	SEL_PID,	/* a PID and its descendants */
	SEL_PIDFILE,	/* the PID in a file, read again at every scan */
	SEL_UNIT,	/* a systemd unit: every process in its cgroup */
	SEL_CGROUP,	/* a cgroup v2 directory (path under /sys/fs/cgroup, or absolute) */
	SEL_MATCH,	/* an extended regular expression over the command line */
};

struct selector {
	enum selector_kind kind;
	char value[CONF_STR];
};

struct dconf {
	struct selector sel[CONF_MAX_SELECTORS];
	int nsel;
	char service[64];		/* the `service` label */
	char listen[CONF_STR];		/* HOST:PORT; port 0 picks one; "off" serves nothing */
	double threshold_ms;		/* a busy period this long is a stall */
	double interval_s;		/* counters and task readings */
	double scan_s;			/* looking for new and gone processes */
	double wedged_s;		/* no iteration for this long: wedged */
	double duration_s;		/* 0: until SIGTERM */
	int freq;			/* on-CPU sampling, Hz, before the budget lowers it */
	double budget_pct;		/* loopscope's own CPU, % of one CPU */
	char flight_dir[CONF_STR];	/* "" : no flight recorder */
	double flight_s;		/* seconds kept */
	double flight_threshold_ms;	/* a stall this long writes a dump */
	long long flight_max_bytes;	/* the directory's size limit */
	char flight_format[32];		/* "folded", "pprof" or both, comma-separated */
	bool tasks;			/* read pending tasks each interval */
	bool audit;
	int verbose;
	char btf[CONF_STR];
};

/* Defaults, then the file named by --config (if any), then the flags. Exits 2 on bad input. */
void dconf__parse(struct dconf *c, int argc, char **argv);

/* Read one config file into c; returns 0, or -1 with a "FILE:LINE: why" message in err. */
int dconf__load(struct dconf *c, const char *path, char *err, size_t len);

/* Set one key; returns 0, or -1 with why in err. Shared by the file and the flags. */
int dconf__set(struct dconf *c, const char *key, const char *value, char *err, size_t len);

const char *selector__name(enum selector_kind k);

#endif /* __DAEMON_CONFIG_H */
