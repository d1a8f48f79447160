/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A minimal HTTP/1.1 server for /metrics, /loops and /health: one request per connection,
 * answered in the daemon's own loop with short timeouts, so a stuck client costs a second at
 * most and no thread. GET and HEAD only.
 */
#ifndef __HTTP_H
#define __HTTP_H

#include <stdarg.h>
#include <stddef.h>

struct http;

struct http_resp {
	int status;
	const char *type;	/* Content-Type */
	char *body;
	size_t len, cap;
	int oom;
};

void resp__printf(struct http_resp *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* path: without the query; accept: the Accept header ("" if none). Fill r. */
typedef void (*http_handler)(void *ctx, const char *path, const char *accept,
			     struct http_resp *r);

/* Listen on HOST:PORT (port 0: any); returns 0 or -errno with why in err. */
int http__listen(const char *hostport, struct http **out, char *err, size_t len);
int http__fd(const struct http *h);
int http__port(const struct http *h);
/* Answer every connection waiting now. */
void http__serve(struct http *h, http_handler fn, void *ctx);
void http__free(struct http *h);

#endif /* __HTTP_H */
