// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include "http.h"

#define REQ_MAX 8192
#define MAX_PER_SERVE 16	/* then back to the ring buffer; the rest wait in the backlog */

struct http {
	int fd;
	int port;
};

void resp__printf(struct http_resp *r, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (r->oom)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(r->body + r->len, r->cap - r->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			r->oom = 1;
			return;
		}
		if (r->len + n < r->cap)
			break;
		{
			size_t cap = (r->cap + n + 1) * 2;
			char *b = realloc(r->body, cap);

			if (!b) {
				r->oom = 1;
				return;
			}
			r->body = b;
			r->cap = cap;
		}
	}
	r->len += n;
}

int http__listen(const char *hostport, struct http **out, char *err, size_t len)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
	struct addrinfo *ai = NULL;
	char host[256], *colon;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	struct http *h;
	int one = 1, rc, ret;

	snprintf(host, sizeof(host), "%s", hostport);
	colon = strrchr(host, ':');
	if (!colon)
		return snprintf(err, len, "listen: '%s' is not HOST:PORT", hostport), -EINVAL;
	*colon = '\0';
	if (host[0] == '[' && colon[-1] == ']') {	/* [::1]:9464 */
		colon[-1] = '\0';
		memmove(host, host + 1, strlen(host));
	}
	rc = getaddrinfo(host[0] ? host : NULL, colon + 1, &hints, &ai);
	if (rc) {
		snprintf(err, len, "listen: %s: %s", hostport, gai_strerror(rc));
		return -EINVAL;
	}
	h = calloc(1, sizeof(*h));
	if (!h) {
		freeaddrinfo(ai);
		return -ENOMEM;
	}
	h->fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (h->fd < 0 ||
	    setsockopt(h->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(h->fd, ai->ai_addr, ai->ai_addrlen) || listen(h->fd, 64) ||
	    getsockname(h->fd, (struct sockaddr *)&ss, &sl)) {
		ret = -errno;
		snprintf(err, len, "cannot listen on %s: %s%s", hostport, strerror(errno),
			 errno == EADDRINUSE ? " (another loopscope? set listen = HOST:PORT)" : "");
		freeaddrinfo(ai);
		http__free(h);
		return ret;
	}
	freeaddrinfo(ai);
	h->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
						 : ((struct sockaddr_in *)&ss)->sin_port);
	*out = h;
	return 0;
}

int http__fd(const struct http *h)
{
	return h->fd;
}

int http__port(const struct http *h)
{
	return h->port;
}

static const char *reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 400: return "Bad Request";
	case 503: return "Service Unavailable";
	default: return "Internal Server Error";
	}
}

static void send_all(int fd, const char *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		w = send(fd, p, n, MSG_NOSIGNAL);
		if (w <= 0)
			return;
		p += w;
		n -= w;
	}
}

/* The request head, the path (query cut) and the Accept header, in place. */
static int parse(char *req, char **method, char **path, const char **accept)
{
	char *sp1, *sp2, *q, *a;

	sp1 = strchr(req, ' ');
	if (!sp1)
		return -1;
	*sp1 = '\0';
	sp2 = strchr(sp1 + 1, ' ');
	if (!sp2)
		return -1;
	*sp2 = '\0';
	*method = req;
	*path = sp1 + 1;
	q = strchr(*path, '?');
	if (q)
		*q = '\0';
	*accept = "";
	for (a = sp2 + 1; (a = strchr(a, '\n')); a++) {
		if (!strncasecmp(a + 1, "accept:", 7)) {
			char *e = strpbrk(a + 8, "\r\n");

			if (e)
				*e = '\0';
			*accept = a + 8;
			break;
		}
	}
	return 0;
}

static void answer(int fd, http_handler fn, void *ctx)
{
	struct timeval tv = { .tv_sec = 1 };
	struct http_resp r = { .status = 200, .type = "text/plain; charset=utf-8" };
	char req[REQ_MAX], head[256], *method, *path;
	const char *accept;
	size_t got = 0;
	int hl, head_only = 0;
	ssize_t n;

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	while (got < sizeof(req) - 1) {
		n = recv(fd, req + got, sizeof(req) - 1 - got, 0);
		if (n <= 0)
			return;
		got += n;
		req[got] = '\0';
		if (strstr(req, "\r\n\r\n") || strstr(req, "\n\n"))
			break;
	}
	if (parse(req, &method, &path, &accept)) {
		r.status = 400;
		resp__printf(&r, "bad request\n");
	} else if (strcmp(method, "GET") && strcmp(method, "HEAD")) {
		r.status = 405;
		resp__printf(&r, "GET or HEAD only\n");
	} else {
		head_only = !strcmp(method, "HEAD");
		fn(ctx, path, accept, &r);
	}
	if (r.oom) {
		r.status = 500;
		r.len = 0;
	}
	hl = snprintf(head, sizeof(head),
		      "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
		      "Connection: close\r\n\r\n", r.status, reason(r.status), r.type, r.len);
	send_all(fd, head, hl);
	if (!head_only && r.len)
		send_all(fd, r.body, r.len);
	free(r.body);
}

void http__serve(struct http *h, http_handler fn, void *ctx)
{
	int i, fd;

	for (i = 0; i < MAX_PER_SERVE; i++) {
		fd = accept4(h->fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			return;
		answer(fd, fn, ctx);
		close(fd);
	}
}

void http__free(struct http *h)
{
	if (!h)
		return;
	if (h->fd >= 0)
		close(h->fd);
	free(h);
}
