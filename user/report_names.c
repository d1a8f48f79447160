// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "report.h"
#include "syscalls.h"

static const char *const cause_names[NR_CAUSES] = {
	[LS_R_SLEEP] = "sleep",	  [LS_R_NET] = "net",	  [LS_R_DISK] = "disk",
	[LS_R_LOCK] = "lock",	  [LS_R_SYSCALL] = "syscall", [LS_R_FAULT] = "fault",
	[LS_R_PREEMPT] = "preempted", [CAUSE_CPU] = "cpu",
};

static const char *const cause_labels[NR_CAUSES] = {
	[LS_R_SLEEP] = "sleep",		  [LS_R_NET] = "network I/O",
	[LS_R_DISK] = "disk I/O",	  [LS_R_LOCK] = "lock/futex wait",
	[LS_R_SYSCALL] = "other syscall", [LS_R_FAULT] = "page fault",
	[LS_R_PREEMPT] = "preempted",	  [CAUSE_CPU] = "on-CPU",
};

static const char *const fd_names[LS_NR_FDKINDS] = {
	[LS_FD_NONE] = "",	[LS_FD_TCP] = "TCP",   [LS_FD_UDP] = "UDP",
	[LS_FD_UNIX] = "unix socket", [LS_FD_SOCK] = "socket", [LS_FD_FILE] = "file",
	[LS_FD_PIPE] = "pipe",	[LS_FD_CHR] = "char device", [LS_FD_BLK] = "block device",
	[LS_FD_ANON] = "anon inode", [LS_FD_OTHER] = "other",
};

const char *cause__name(int c)
{
	return c >= 0 && c < NR_CAUSES ? cause_names[c] : "?";
}

const char *cause__label(int c)
{
	return c >= 0 && c < NR_CAUSES ? cause_labels[c] : "?";
}

const char *fdkind__name(int k)
{
	return k >= 0 && k < LS_NR_FDKINDS ? fd_names[k] : "?";
}

const char *source__name(enum probe_source s)
{
	switch (s) {
	case SRC_USDT: return "usdt";
	case SRC_UPROBE: return "uprobe";
	case SRC_OFF: return "off";
	default: return "none";
	}
}

void block__peer(const struct ls_block *b, char *buf, size_t len)
{
	char addr[INET6_ADDRSTRLEN] = "";

	buf[0] = '\0';
	if (b->family == 2)
		inet_ntop(AF_INET, b->peer, addr, sizeof(addr));
	else if (b->family == 10)
		inet_ntop(AF_INET6, b->peer, addr, sizeof(addr));
	else
		return;
	snprintf(buf, len, b->family == 10 ? "[%s]:%u" : "%s:%u", addr, b->port);
}

void block__describe(const struct ls_block *b, int reason, char *buf, size_t len)
{
	const char *sc = b->syscall >= 0 ? syscall__name(b->syscall) : NULL;
	char peer[64];
	size_t n = 0;

	buf[0] = '\0';
	if (b->syscall < 0)
		return;
	n += snprintf(buf + n, len - n, "%s", sc ?: "syscall");
	if (sc == NULL && n < len)
		n += snprintf(buf + n, len - n, " %d", b->syscall);
	if (b->fd >= 0 && n < len) {
		block__peer(b, peer, sizeof(peer));
		n += snprintf(buf + n, len - n, " fd %d", b->fd);
		if (b->fd_kind != LS_FD_NONE && n < len)
			n += snprintf(buf + n, len - n, " (%s%s%s)", fdkind__name(b->fd_kind),
				      peer[0] ? " " : "", peer);
	}
	if (b->addr && n < len)
		n += snprintf(buf + n, len - n, " at 0x%llx", (unsigned long long)b->addr);
	if (reason == LS_R_LOCK && b->waker_tid && n < len)
		n += snprintf(buf + n, len - n, ", woken by tid %u (%s)", b->waker_tid,
			      b->waker_comm);
	if (b->audit[0] && n < len)
		snprintf(buf + n, len - n, " [audit: %.*s]", LS_AUDIT_LEN, b->audit);
}

const char *short_path(const char *file)
{
	static const char *const marks[] = { "/site-packages/", "/dist-packages/", "/lib/python" };
	const char *p;
	size_t i;

	for (i = 0; i < sizeof(marks) / sizeof(marks[0]); i++) {
		p = strstr(file, marks[i]);
		if (!p)
			continue;
		if (i == 2)	/* ".../lib/python3.11/asyncio/x.py" -> "asyncio/x.py" */
			p = strchr(p + 1 + strlen("lib/python"), '/');
		else
			p += strlen(marks[i]);
		return p ? (*p == '/' ? p + 1 : p) : file;
	}
	return file;
}

void fmt_clock(double wall, char *buf, size_t len, bool millis)
{
	time_t secs = (time_t)wall;
	struct tm tm;
	size_t n;

	localtime_r(&secs, &tm);
	n = strftime(buf, len, "%H:%M:%S", &tm);
	if (millis && n < len)
		snprintf(buf + n, len - n, ".%03d", (int)((wall - secs) * 1000));
}
