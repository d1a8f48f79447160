// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <linux/capability.h>
#include "preflight.h"

#ifndef CAP_PERFMON
#define CAP_PERFMON 38
#endif
#ifndef CAP_BPF
#define CAP_BPF 39
#endif

static bool has_cap(const struct __user_cap_data_struct *d, int cap)
{
	return d[cap / 32].effective & (1U << (cap % 32));
}

int preflight__privileges(char *err, size_t len)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2] = {};
	static const struct {
		int cap;
		const char *name;
	} need[] = {
		{ CAP_BPF, "CAP_BPF" },
		{ CAP_PERFMON, "CAP_PERFMON" },
		{ CAP_SYS_PTRACE, "CAP_SYS_PTRACE" },
	};
	char missing[128] = "";
	size_t i, n = 0;

	if (syscall(SYS_capget, &hdr, data)) {
		snprintf(err, len, "capget: %s", strerror(errno));
		return -errno;
	}
	for (i = 0; i < sizeof(need) / sizeof(need[0]); i++) {
		/* CAP_SYS_ADMIN stands in for CAP_BPF and CAP_PERFMON on kernels before 5.8 */
		if (has_cap(data, need[i].cap) ||
		    (need[i].cap != CAP_SYS_PTRACE && has_cap(data, CAP_SYS_ADMIN)))
			continue;
		n += snprintf(missing + n, sizeof(missing) - n, "%s%s", n ? ", " : "", need[i].name);
	}
	if (!n)
		return 0;
	snprintf(err, len,
		 "needs root, or the capabilities CAP_BPF, CAP_PERFMON and CAP_SYS_PTRACE "
		 "(missing: %s): run it with sudo",
		 missing);
	return -EPERM;
}

int preflight__btf(const char *custom, char *err, size_t len)
{
	if (custom) {
		if (!access(custom, R_OK))
			return 0;
		snprintf(err, len, "cannot read BTF file %s: %s", custom, strerror(errno));
		return -ENOENT;
	}
	if (!access("/sys/kernel/btf/vmlinux", R_OK))
		return 0;
	snprintf(err, len,
		 "this kernel has no BTF (/sys/kernel/btf/vmlinux is missing): use a kernel built "
		 "with CONFIG_DEBUG_INFO_BTF=y, or pass --btf FILE with its BTF (e.g. from btfhub)");
	return -ENOENT;
}
