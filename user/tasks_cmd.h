/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* `loopscope tasks PID`: every asyncio task of a live process, as a tree or JSON. */
#ifndef __TASKS_CMD_H
#define __TASKS_CMD_H

#include "env.h"

int tasks__run(const struct env *env);

#endif /* __TASKS_CMD_H */
