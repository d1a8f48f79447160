// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/sysmacros.h>
#include "procfs.h"

#define MAX_MAPS 65536		/* a sane process has far fewer; bounds a hostile maps file */

static int parse_map_line(char *line, struct proc_map *m)
{
	unsigned int maj, min;
	unsigned long long start, end, off, ino;
	int pos = 0;
	char *path;

	if (sscanf(line, "%llx-%llx %4s %llx %x:%x %llu %n", &start, &end, m->perms, &off, &maj,
		   &min, &ino, &pos) < 7 || !pos)
		return -EINVAL;
	m->start = start;
	m->end = end;
	m->offset = off;
	m->dev = makedev(maj, min);
	m->inode = ino;
	m->path = NULL;
	path = line + pos;
	path[strcspn(path, "\n")] = '\0';
	if (ino && path[0] == '/') {
		m->path = strdup(path);
		if (!m->path)
			return -ENOMEM;
	}
	return 0;
}

int procfs__maps(int pid, struct proc_maps *maps)
{
	struct proc_map *v = NULL, *nv;
	size_t n = 0, cap = 0;
	char path[64], *line = NULL;
	size_t linecap = 0;
	FILE *f;
	int err = 0;

	maps->v = NULL;
	maps->n = 0;
	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	f = fopen(path, "re");
	if (!f)
		return errno == ENOENT ? -ESRCH : -errno;
	while (getline(&line, &linecap, f) > 0 && n < MAX_MAPS) {
		if (n == cap) {
			cap = cap ? cap * 2 : 256;
			nv = realloc(v, cap * sizeof(*v));
			if (!nv) {
				err = -ENOMEM;
				goto cleanup;
			}
			v = nv;
		}
		if (parse_map_line(line, &v[n]) == 0)
			n++;
	}
	if (!n) {
		/* maps of a zombie or kernel thread read as empty */
		err = -ESRCH;
		goto cleanup;
	}
	maps->v = v;
	maps->n = n;
	v = NULL;
cleanup:
	if (v) {
		maps->v = v;
		maps->n = n;
		procfs__maps_free(maps);
	}
	free(line);
	fclose(f);
	return err;
}

void procfs__maps_free(struct proc_maps *maps)
{
	size_t i;

	for (i = 0; i < maps->n; i++)
		free(maps->v[i].path);
	free(maps->v);
	maps->v = NULL;
	maps->n = 0;
}

int procfs__mapped_path(int pid, const struct proc_map *m, char *buf, size_t len)
{
	/* map_files names the exact mapped inode, whatever namespace or chroot the target is in */
	snprintf(buf, len, "/proc/%d/map_files/%" PRIx64 "-%" PRIx64, pid, (uint64_t)m->start,
		 (uint64_t)m->end);
	if (access(buf, R_OK) == 0)
		return 0;
	if (!m->path)
		return -ENOENT;
	snprintf(buf, len, "/proc/%d/root%s", pid, m->path);
	if (access(buf, R_OK) == 0)
		return 0;
	snprintf(buf, len, "%s", m->path);
	return access(buf, R_OK) == 0 ? 0 : -ENOENT;
}

int procfs__ns_tid(int pid, int tid, int *ns_tid)
{
	char path[64], *line = NULL, *p, *last = NULL;
	size_t cap = 0;
	int err = -ENOENT;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/status", pid, tid);
	f = fopen(path, "re");
	if (!f)
		return errno == ENOENT ? -ESRCH : -errno;
	while (getline(&line, &cap, f) > 0) {
		if (strncmp(line, "NSpid:", 6))
			continue;
		for (p = strtok(line + 6, " \t\n"); p; p = strtok(NULL, " \t\n"))
			last = p;
		if (last) {
			*ns_tid = atoi(last);
			err = 0;
		}
		break;
	}
	free(line);
	fclose(f);
	return err;
}

int procfs__for_each_task(int pid, int (*cb)(int tid, void *ctx), void *ctx)
{
	char path[64];
	struct dirent *de;
	DIR *d;
	int ret = 0;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	d = opendir(path);
	if (!d)
		return errno == ENOENT ? -ESRCH : -errno;
	while ((de = readdir(d))) {
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		ret = cb(atoi(de->d_name), ctx);
		if (ret)
			break;
	}
	closedir(d);
	return ret;
}

struct host_query {
	int pid;
	int ns_tid;
	int tid;
};

static int match_ns_tid(int tid, void *ctx)
{
	struct host_query *q = ctx;
	int ns;

	if (procfs__ns_tid(q->pid, tid, &ns) || ns != q->ns_tid)
		return 0;
	q->tid = tid;
	return 1;
}

int procfs__host_tid(int pid, int ns_tid, int *tid)
{
	struct host_query q = { .pid = pid, .ns_tid = ns_tid };
	int ret;

	ret = procfs__for_each_task(pid, match_ns_tid, &q);
	if (ret < 0)
		return ret;
	if (ret != 1)
		return -ENOENT;
	*tid = q.tid;
	return 0;
}
