/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Python stacks as a report shows them: symbolized frames, no interpreter knowledge. */
#ifndef __FRAMES_H
#define __FRAMES_H

#include <stdbool.h>
#include <linux/types.h>

#define VIEW_FRAMES 24		/* frames kept per stack in a report */
#define VIEW_STACKS 4		/* distinct on-CPU stacks kept per stall */

struct frame_text {
	char func[96];
	char file[200];
	__u32 line;
	bool library;		/* stdlib, asyncio, site-packages: not the user's own code */
};

struct stack_text {
	int n;			/* frames kept, innermost first */
	int depth;		/* frames the walk saw */
	int count;		/* samples with this stack (on-CPU stacks) */
	bool partial;		/* the walk was cut short: a read failed or too deep */
	struct frame_text f[VIEW_FRAMES];
};

/* Files that are not the user's code unless --own says otherwise. */
void where__own(const char *prefix);		/* a path prefix that is the user's code */
void where__skip(const char *prefix);		/* a path prefix that is library code */
bool where__is_library(const char *file);

/* The innermost frame of the user's own code, or NULL. */
const struct frame_text *stack__where(const struct stack_text *st);

#endif /* __FRAMES_H */
