// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "discover.h"

#define CGROOT "/sys/fs/cgroup"
#define CG_DEPTH 8

struct proc {
	pid_t pid, ppid;
	unsigned long long start;
	int sel;		/* chosen by this selector, -1 if not (yet) */
};

struct scan {
	struct proc *p;
	int n, cap;
};

static int read_stat(pid_t pid, pid_t *ppid, unsigned long long *start)
{
	char path[64], buf[1024], *s;
	int fd, i;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	buf[n] = '\0';
	s = strrchr(buf, ')');	/* the name may hold spaces and parentheses */
	if (!s)
		return -EIO;
	/* ") S ppid ..." : the state is field 3, ppid 4, starttime 22 */
	s += 2;
	for (i = 3; i < 22 && s; i++) {
		if (i == 4)
			*ppid = (pid_t)strtol(s, NULL, 10);
		s = strchr(s, ' ');
		if (s)
			s++;
	}
	if (!s)
		return -EIO;
	*start = strtoull(s, NULL, 10);
	return 0;
}

unsigned long long discover__start_time(pid_t pid)
{
	unsigned long long start = 0;
	pid_t ppid;

	return read_stat(pid, &ppid, &start) ? 0 : start;
}

static int by_pid(const void *a, const void *b)
{
	const struct proc *x = a, *y = b;

	return (x->pid > y->pid) - (x->pid < y->pid);
}

static int load_procs(struct scan *sc)
{
	struct dirent *de;
	DIR *d = opendir("/proc");

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		pid_t pid = (pid_t)strtol(de->d_name, NULL, 10);
		struct proc p = { .pid = pid, .sel = -1 };

		if (pid <= 0 || read_stat(pid, &p.ppid, &p.start))
			continue;
		if (sc->n == sc->cap) {
			struct proc *np = realloc(sc->p, (sc->cap * 2 + 256) * sizeof(*np));

			if (!np) {
				closedir(d);
				return -ENOMEM;
			}
			sc->p = np;
			sc->cap = sc->cap * 2 + 256;
		}
		sc->p[sc->n++] = p;
	}
	closedir(d);
	qsort(sc->p, sc->n, sizeof(*sc->p), by_pid);
	return 0;
}

static struct proc *find(struct scan *sc, pid_t pid)
{
	struct proc key = { .pid = pid };

	return bsearch(&key, sc->p, sc->n, sizeof(*sc->p), by_pid);
}

static void choose(struct scan *sc, pid_t pid, int sel)
{
	struct proc *p = find(sc, pid);

	if (p && p->sel < 0 && pid != getpid())
		p->sel = sel;
}

static void cmdline_matches(struct scan *sc, const char *pattern, int sel)
{
	char path[64], buf[4096];
	regex_t re;
	int i, fd;
	ssize_t n, j;

	if (regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB))
		return;
	for (i = 0; i < sc->n; i++) {
		snprintf(path, sizeof(path), "/proc/%d/cmdline", sc->p[i].pid);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n <= 0)
			continue;	/* kernel threads and zombies */
		for (j = 0; j < n - 1; j++)
			if (!buf[j])
				buf[j] = ' ';
		buf[n] = '\0';
		if (!regexec(&re, buf, 0, NULL, 0))
			choose(sc, sc->p[i].pid, sel);
	}
	regfree(&re);
}

static void cgroup_procs(struct scan *sc, const char *dir, int sel, int depth)
{
	char path[PATH_MAX];
	struct dirent *de;
	FILE *f;
	DIR *d;
	int pid;

	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	f = fopen(path, "re");
	if (f) {
		while (fscanf(f, "%d", &pid) == 1)
			choose(sc, pid, sel);
		fclose(f);
	}
	if (depth >= CG_DEPTH || !(d = opendir(dir)))
		return;
	while ((de = readdir(d))) {
		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		cgroup_procs(sc, path, sel, depth + 1);
	}
	closedir(d);
}

/* A unit's cgroup is a directory named after it, wherever its slice puts it. */
static bool find_unit_dir(const char *dir, const char *unit, int depth, char *out, size_t len)
{
	char path[PATH_MAX];
	struct dirent *de;
	bool found = false;
	DIR *d;

	if (depth >= CG_DEPTH || !(d = opendir(dir)))
		return false;
	while (!found && (de = readdir(d))) {
		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (!strcmp(de->d_name, unit)) {
			snprintf(out, len, "%s", path);
			found = true;
		} else {
			found = find_unit_dir(path, unit, depth + 1, out, len);
		}
	}
	closedir(d);
	return found;
}

/* "api.slice/x" is under the v2 root, or under a hybrid system's unified or systemd tree */
static void cgroup_dir(const char *v, char *path, size_t len)
{
	static const char *const roots[] = { CGROOT, CGROOT "/unified", CGROOT "/systemd" };
	size_t i;

	if (!strncmp(v, CGROOT "/", sizeof(CGROOT))) {
		snprintf(path, len, "%s", v);
		return;
	}
	for (i = 0; i < sizeof(roots) / sizeof(roots[0]); i++) {
		snprintf(path, len, "%s/%s", roots[i], v + (v[0] == '/'));
		if (!access(path, F_OK))
			return;
	}
	snprintf(path, len, CGROOT "/%s", v + (v[0] == '/'));
}

static void select_one(struct scan *sc, const struct selector *s, int sel)
{
	char path[PATH_MAX], unit[CONF_STR + 16];
	FILE *f;
	int pid;

	switch (s->kind) {
	case SEL_PID:
		choose(sc, (pid_t)strtol(s->value, NULL, 10), sel);
		break;
	case SEL_PIDFILE:
		f = fopen(s->value, "re");
		if (f && fscanf(f, "%d", &pid) == 1)
			choose(sc, pid, sel);
		if (f)
			fclose(f);
		break;
	case SEL_UNIT:
		/* "api" means api.service, as systemctl reads it */
		snprintf(unit, sizeof(unit), "%s%s", s->value,
			 strchr(s->value, '.') ? "" : ".service");
		if (find_unit_dir(CGROOT, unit, 0, path, sizeof(path)))
			cgroup_procs(sc, path, sel, 0);
		break;
	case SEL_CGROUP:
		cgroup_dir(s->value, path, sizeof(path));
		cgroup_procs(sc, path, sel, 0);
		break;
	case SEL_MATCH:
		cmdline_matches(sc, s->value, sel);
		break;
	}
}

int discover__scan(const struct dconf *c, struct found *out, int max)
{
	struct scan sc = {};
	bool grew = true;
	int i, n = 0, err;

	err = load_procs(&sc);
	if (err)
		goto cleanup;
	for (i = 0; i < c->nsel; i++)
		select_one(&sc, &c->sel[i], i);
	/* workers are children (or grandchildren) of what was chosen: gunicorn, uvicorn */
	while (grew) {
		grew = false;
		for (i = 0; i < sc.n; i++) {
			struct proc *parent;

			if (sc.p[i].sel >= 0 || sc.p[i].pid == getpid() ||
			    !(parent = find(&sc, sc.p[i].ppid)) || parent->sel < 0)
				continue;
			sc.p[i].sel = parent->sel;
			grew = true;
		}
	}
	for (i = 0; i < sc.n && n < max; i++)
		if (sc.p[i].sel >= 0)
			out[n++] = (struct found){ sc.p[i].pid, sc.p[i].start, sc.p[i].sel };
	err = n;
cleanup:
	free(sc.p);
	return err;
}
