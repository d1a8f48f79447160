// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#ifndef _GNU_SOURCE
#define _GNU_SOURCE	/* memmem */
#endif
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "elf.h"
#include "pyinternal.h"
#include "pyprobes.h"

/*
 * The collector's entry by version, when no USDT probe marks it. 3.8/3.9 only have clones
 * of collect() whose calling convention the compiler changed (.constprop): not safe to read.
 */
static const struct {
	unsigned int first, last;
	const char *symbol;
	int gen_arg;
} gc_symbols[] = {
	{ 10, 13, "gc_collect_main", 2 },	/* (tstate, generation, ...) */
};

/* memmem over a note section: the probe names are plain strings in the descriptors */
static bool has_note(const void *data, size_t len, const char *name)
{
	return memmem(data, len, name, strlen(name) + 1) != NULL;
}

static void find_usdt(struct elf_file *ef, struct py_probes *out)
{
	struct elf_section sec;
	const void *data = NULL;
	size_t len = 0;

	if (elf__find_section(ef, ".note.stapsdt", &sec))
		return;
	if (elf__section_data(ef, &sec, &data, &len))
		return;
	out->usdt_gc = has_note(data, len, "gc__start") && has_note(data, len, "gc__done");
	out->usdt_import = has_note(data, len, "import__find__load__start") &&
			   has_note(data, len, "import__find__load__done");
	out->usdt_audit = has_note(data, len, "audit");
}

static void find_gc_symbol(struct elf_file *ef, unsigned int minor, struct py_probes *out)
{
	struct elf_sym sym;
	size_t i;

	for (i = 0; i < sizeof(gc_symbols) / sizeof(gc_symbols[0]); i++) {
		if (minor < gc_symbols[i].first || minor > gc_symbols[i].last)
			continue;
		if (elf__find_symbol(ef, gc_symbols[i].symbol, &sym))
			continue;
		snprintf(out->gc_symbol, sizeof(out->gc_symbol), "%s", gc_symbols[i].symbol);
		out->gc_gen_arg = gc_symbols[i].gen_arg;
	}
}

int pyprobes__find(const struct pyproc *p, struct py_probes *out)
{
	struct elf_file *ef = NULL;
	struct py_image img;
	char msg[256];
	int err;

	memset(out, 0, sizeof(*out));
	err = pyfind__image(pyproc__pid(p), &img, msg, sizeof(msg));
	if (err)
		return err;
	/* through the target's root: uprobes then land on its inode, container or not */
	snprintf(out->binary, sizeof(out->binary), "/proc/%d/root%s", pyproc__pid(p), img.path);
	if (access(out->binary, R_OK))
		snprintf(out->binary, sizeof(out->binary), "%s", img.path);
	err = elf__open(out->binary, &ef);
	if (err)
		return err;
	find_usdt(ef, out);
	if (!out->usdt_gc)
		find_gc_symbol(ef, pyproc__layout(p)->minor, out);
	elf__close(ef);
	return 0;
}
