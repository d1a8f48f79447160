/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A captured target for the interpreter-reader harness (fuzz_pyreader.c) and the tool that
 * captures one from a live process (pyrecord.c). All integers little-endian.
 *
 *   header   u8 interp        index into the interpreter table below (mod its size)
 *            u8 flags         TI_F_*
 *            u16 fail_after   reads after which every read fails with -ESRCH (0: never)
 *            u64 map_start    where the interpreter ELF's offset-0 page is mapped
 *            u32 nspid        the process's PID in its namespace
 *            u8 ntids         then ntids x u32: namespace TIDs of its threads
 *   records  u64 addr, u32 len | TI_ZERO, then len bytes unless TI_ZERO
 *
 * Remote memory is the records overlaid in order: a read succeeds when every byte of it is
 * covered by some record (TI_ZERO records cover with zeros), else it fails with -EFAULT, like
 * process_vm_readv on an unmapped range. The interpreter ELF itself is a real file on this
 * machine (the reader opens it by path); inputs naming an absent one are skipped.
 */
#ifndef __TARGET_IMAGE_H
#define __TARGET_IMAGE_H

#include <linux/types.h>

#define TI_ZERO 0x80000000u
#define TI_LEN_MASK 0x7fffffffu
#define TI_HDR_LEN 21
#define TI_MAX_TIDS 32
#define TI_F_ASYNCIO_MAP (1 << 0)	/* also map the interpreter's _asyncio module file */

struct ti_interp {
	const char *name;
	const char *pattern;	/* glob; "@" at the start stands for the repository root */
	const char *asyncio;	/* glob of its _asyncio extension module, or NULL */
};

/* Order is part of the corpus format: append only. */
static const struct ti_interp ti_interps[] = {
	{ "debian-3.11", "/usr/bin/python3.11", NULL },
	{ "pyenv-3.8", "/root/.pyenv/versions/3.8.*/lib/libpython3.8.so.1.0", NULL },
	{ "pyenv-3.9", "/root/.pyenv/versions/3.9.*/lib/libpython3.9.so.1.0", NULL },
	{ "pyenv-3.10", "/root/.pyenv/versions/3.10.*/lib/libpython3.10.so.1.0", NULL },
	{ "pyenv-3.11", "/root/.pyenv/versions/3.11.*/lib/libpython3.11.so.1.0", NULL },
	{ "pyenv-3.12", "/root/.pyenv/versions/3.12.*/lib/libpython3.12.so.1.0", NULL },
	{ "pyenv-3.13", "/root/.pyenv/versions/3.13.*/lib/libpython3.13.so.1.0", NULL },
	{ "debian-3.13", "@/.cache/pyroot/usr/bin/python3.13",
	  "@/.cache/pyroot/usr/lib/python3.13/lib-dynload/_asyncio.cpython-313-*.so" },
	{ "debian-3.14", "@/.cache/pyroot/usr/bin/python3.14",
	  "@/.cache/pyroot/usr/lib/python3.14/lib-dynload/_asyncio.cpython-314-*.so" },
	{ "debian-3.15", "@/.cache/pyroot/usr/bin/python3.15", NULL },
};

#define TI_NR_INTERPS (sizeof(ti_interps) / sizeof(ti_interps[0]))

#endif /* __TARGET_IMAGE_H */
