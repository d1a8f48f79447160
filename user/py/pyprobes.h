/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The interpreter's own probe points, for the tracer: USDT probes where the build has them
 * (--with-dtrace: Debian, Fedora), else the collector's symbols for uprobes (pyenv, builds
 * with a symbol table). Which symbol, and which argument is the generation, depend on the
 * version: that knowledge stays here.
 */
#ifndef __PYPROBES_H
#define __PYPROBES_H

#include <stdbool.h>
#include "pyproc.h"

struct py_probes {
	char binary[4200];	/* the ELF holding them, as this process can open it */
	bool usdt_gc;		/* python:gc__start / gc__done */
	bool usdt_import;	/* python:import__find__load__start / done */
	bool usdt_audit;	/* python:audit */
	char gc_symbol[64];	/* uprobe fallback for the collector, "" if none */
	int gc_gen_arg;		/* which argument of gc_symbol is the generation (1-based) */
};

/* Returns 0 (even when nothing is available: check the fields) or a negative errno. */
int pyprobes__find(const struct pyproc *p, struct py_probes *out);

#endif /* __PYPROBES_H */
