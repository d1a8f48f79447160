// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Which frames are the user's code. A stall report leads with the innermost one, because the
 * frame a user can fix is rarely the innermost: that is time.sleep, socket.recv or json.
 */
#include <string.h>
#include "frames.h"

#define MAX_PREFIXES 16

static const char *own[MAX_PREFIXES], *skip[MAX_PREFIXES];
static int nown, nskip;

void where__own(const char *prefix)
{
	if (nown < MAX_PREFIXES)
		own[nown++] = prefix;
}

void where__skip(const char *prefix)
{
	if (nskip < MAX_PREFIXES)
		skip[nskip++] = prefix;
}

static bool has_prefix(const char *s, const char *const *list, int n)
{
	int i;

	for (i = 0; i < n; i++)
		if (!strncmp(s, list[i], strlen(list[i])))
			return true;
	return false;
}

bool where__is_library(const char *file)
{
	if (has_prefix(file, own, nown))
		return false;
	if (has_prefix(file, skip, nskip))
		return true;
	/* frozen modules, installed packages, the standard library (any prefix, any version) */
	return file[0] == '<' || strstr(file, "/site-packages/") || strstr(file, "/dist-packages/") ||
	       strstr(file, "/lib/python3.") || strstr(file, "/lib/python2.") ||
	       strstr(file, "/lib64/python3.");
}

const struct frame_text *stack__where(const struct stack_text *st)
{
	int i;

	for (i = 0; i < st->n; i++)
		if (!st->f[i].library)
			return &st->f[i];
	return NULL;
}
