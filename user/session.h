/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* One profiling run: find or start the target, attach, report until the end, detach. */
#ifndef __SESSION_H
#define __SESSION_H

#include "env.h"

#define EXIT_NO_LOOP 3

/* Returns the process exit status. */
int session__run(const struct env *env);

#endif /* __SESSION_H */
