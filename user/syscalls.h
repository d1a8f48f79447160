/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef __SYSCALLS_H
#define __SYSCALLS_H

#include <linux/types.h>

/* Name of syscall nr on this architecture, or NULL. */
const char *syscall__name(int nr);

/* Fill table[0..n) with each syscall's enum ls_sysclass. */
void syscall__classes(__u8 *table, int n);

#endif /* __SYSCALLS_H */
