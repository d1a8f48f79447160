/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * /health answers for loopscope itself; /loops says per loop whether it is healthy, busy
 * (slow but iterating) or wedged (no iteration for wedged-after seconds), as JSON, with 503
 * only when a loop is wedged: a liveness probe that must not kill a busy service.
 */
#ifndef __HEALTH_H
#define __HEALTH_H

#include "http.h"

struct daemon;

void health__self(const struct daemon *d, struct http_resp *r);
void health__loops(const struct daemon *d, struct http_resp *r);

#endif /* __HEALTH_H */
