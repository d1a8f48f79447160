/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* /metrics: loop health, stalls, GC, tasks and loopscope's own cost, for Prometheus. */
#ifndef __METRICS_H
#define __METRICS_H

#include <stdbool.h>
#include "http.h"

struct daemon;

void metrics__render(const struct daemon *d, bool openmetrics, struct http_resp *r);

#endif /* __METRICS_H */
