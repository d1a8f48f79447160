/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef __FAKE_TARGET_H
#define __FAKE_TARGET_H

#include <stddef.h>
#include <linux/types.h>

#define FAKE_PID 4242		/* the one process the fake /proc knows */

/* Parse a captured target (target_image.h). The input must outlive the reads. */
int fake_target__load(const __u8 *in, size_t size);
void fake_target__reset(void);
unsigned int fake_target__interp(void);
/* The interpreter ELF on this machine for table entry i (NULL if absent), and its _asyncio. */
const char *fake_target__interp_path(unsigned int i, const char **asyncio);

#endif
