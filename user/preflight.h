/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* What the machine must offer before anything is loaded: privileges and kernel BTF. */
#ifndef __PREFLIGHT_H
#define __PREFLIGHT_H

#include <stddef.h>

/* 0 if loopscope may load BPF and read other processes, else -EPERM and a message. */
int preflight__privileges(char *err, size_t len);

/* 0 if CO-RE has kernel BTF (the running kernel's, or custom), else -ENOENT and a message. */
int preflight__btf(const char *custom, char *err, size_t len);

#endif /* __PREFLIGHT_H */
