// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include "target.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

static void read_comm(pid_t pid, pid_t tid, char *buf, size_t len)
{
	char path[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/comm", pid, tid);
	snprintf(buf, len, "?");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n <= 0) {
		snprintf(buf, len, "?");
		return;
	}
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
}

void target__thread_name(pid_t pid, pid_t tid, char *buf, size_t len)
{
	read_comm(pid, tid, buf, len);
}

/* "python3.11", "python3", "libpython3.12.so.1.0": an interpreter image, by file name. */
static bool is_python_image(const char *path)
{
	const char *base = strrchr(path, '/');

	base = base ? base + 1 : path;
	if (!strncmp(base, "libpython", 9))
		return true;
	if (strncmp(base, "python", 6))
		return false;
	for (base += 6; *base; base++)
		if (!strchr("0123456789.dmu", *base) && strncmp(base, " (deleted)", 10))
			return false;
	return true;
}

/* Look in the memory map: the interpreter may run through a loader or from a container. */
static int python_mapped(pid_t pid)
{
	char path[64], line[PATH_MAX + 128];
	int found = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (!found && fgets(line, sizeof(line), f)) {
		char *file = strchr(line, '/');

		if (!file)
			continue;
		file[strcspn(file, "\n")] = '\0';
		found = is_python_image(file);
	}
	fclose(f);
	return found;
}

static int open_pidfd(struct target *t)
{
	t->pidfd = syscall(SYS_pidfd_open, t->pid, 0);
	return t->pidfd < 0 ? -errno : 0;
}

int target__attach(struct target *t, pid_t pid, char *err, size_t errlen)
{
	int ret;

	memset(t, 0, sizeof(*t));
	t->pid = pid;
	t->pidfd = t->gate_fd = -1;
	if (pid <= 0 || (kill(pid, 0) && errno == ESRCH)) {
		snprintf(err, errlen, "no process with pid %d", pid);
		return -ESRCH;
	}
	read_comm(pid, pid, t->comm, sizeof(t->comm));
	ret = python_mapped(pid);
	if (ret < 0) {
		snprintf(err, errlen, "cannot read /proc/%d/maps: %s (needs root or CAP_SYS_PTRACE)",
			 pid, strerror(-ret));
		return ret;
	}
	if (!ret) {
		snprintf(err, errlen,
			 "pid %d (%s) is not a Python process: no python executable or libpython "
			 "in its memory map",
			 pid, t->comm);
		return -ENOEXEC;
	}
	ret = open_pidfd(t);
	if (ret) {
		snprintf(err, errlen, "pidfd_open(%d): %s", pid, strerror(-ret));
		return ret;
	}
	return 0;
}

int target__spawn(struct target *t, char **argv, char *err, size_t errlen)
{
	int gate[2], ret;
	char c;

	memset(t, 0, sizeof(*t));
	t->pidfd = t->gate_fd = -1;
	if (pipe2(gate, O_CLOEXEC)) {
		ret = -errno;
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		return ret;
	}
	t->pid = fork();
	if (t->pid < 0) {
		ret = -errno;
		snprintf(err, errlen, "fork: %s", strerror(errno));
		close(gate[0]);
		close(gate[1]);
		return ret;
	}
	if (t->pid == 0) {
		/* wait until the probes are attached, so the first iteration is seen */
		close(gate[1]);
		if (read(gate[0], &c, 1) != 1)
			_exit(127);
		execvp(argv[0], argv);
		fprintf(stderr, "loopscope: cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(gate[0]);
	t->gate_fd = gate[1];
	t->spawned = true;
	snprintf(t->comm, sizeof(t->comm), "%s", strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1
								       : argv[0]);
	ret = open_pidfd(t);
	if (ret)
		snprintf(err, errlen, "pidfd_open: %s", strerror(-ret));
	return ret;
}

int target__release(struct target *t)
{
	int ret = 0;

	if (t->gate_fd < 0)
		return 0;
	if (write(t->gate_fd, "x", 1) != 1)
		ret = -errno;
	close(t->gate_fd);
	t->gate_fd = -1;
	return ret;
}

bool target__execed(const struct target *t)
{
	struct stat self, child;
	char path[64];

	if (!t->spawned)
		return true;
	snprintf(path, sizeof(path), "/proc/%d/exe", t->pid);
	if (stat("/proc/self/exe", &self) || stat(path, &child))
		return true;
	return self.st_dev != child.st_dev || self.st_ino != child.st_ino;
}

bool target__gone(struct target *t)
{
	struct pollfd p = { .fd = t->pidfd, .events = POLLIN };

	if (t->exited)
		return true;
	if (t->spawned) {
		if (waitpid(t->pid, &t->exit_status, WNOHANG) == t->pid)
			t->exited = true;
	} else if (t->pidfd >= 0 && poll(&p, 1, 0) == 1) {
		t->exited = true;
	} else if (t->pidfd < 0 && kill(t->pid, 0) && errno == ESRCH) {
		t->exited = true;
	}
	return t->exited;
}

void target__close(struct target *t)
{
	if (t->gate_fd >= 0) {
		/* never started: don't leave a child blocked forever */
		close(t->gate_fd);
		t->gate_fd = -1;
	}
	if (t->pidfd >= 0)
		close(t->pidfd);
	t->pidfd = -1;
}
