// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
// fuzz-sources: user/py/elf.c
// fuzz-libs: -lelf -lz
/*
 * libFuzzer harness: user/py/elf.c on arbitrary files. The input is written to a memfd and
 * opened by path (/proc/self/fd/N) exactly as pyfind.c opens a target's mapped files, then
 * every query the reader makes is run on it: the symbols pyfind looks up, every section and
 * its bytes, file-backed reads at link-time addresses, load biases.
 *
 * A hostile file can sit in a target's memory map (any process may map any file), so nothing
 * here may crash or read outside what libelf handed out.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include "py/elf.h"

static int memfd = -1;
static char path[64];
static volatile __u64 sink;

struct walk {
	const struct elf_file *ef;
	size_t nsec, nsym;
};

static int on_section(const struct elf_section *sec, void *ctx)
{
	struct walk *w = ctx;
	const void *data;
	const unsigned char *b;
	size_t len, i;
	__u8 buf[64];

	if (!sec->name)
		abort();
	sink += strlen(sec->name);
	if (!elf__section_data(w->ef, sec, &data, &len)) {
		/* touch every byte: ASan reports any access outside libelf's buffer */
		b = data;
		for (i = 0; i < len; i++)
			sink += b[i];
	}
	if (sec->addr)
		elf__read_vaddr(w->ef, sec->addr, buf, sec->size < sizeof(buf) ? sec->size : sizeof(buf));
	return ++w->nsec > 4096;
}

static int on_symbol(const char *name, const struct elf_sym *sym, void *ctx)
{
	struct walk *w = ctx;
	__u8 buf[16];

	sink += strlen(name) + sym->type + sym->shndx;
	if (w->nsym < 64)
		elf__read_vaddr(w->ef, sym->value, buf, sym->size < sizeof(buf) ? sym->size : 8);
	return ++w->nsym > 100000;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const names[] = {
		"_PyRuntime", "Py_Version", "PyCode_Type", "PyUnicode_Type", "PyBytes_Type",
		"PyCoro_Type", "Py_Initialize", "_Py_RefTotal", "", "x",
	};
	static const char *const sections[] = {
		".PyRuntime", ".AsyncioDebug", "AsyncioDebug", ".bss", ".data", ".dynsym", "",
	};
	struct elf_file *ef = NULL;
	struct elf_section sec;
	struct elf_sym sym;
	struct walk w = { 0 };
	const void *sdata;
	size_t slen, i;
	__u64 bias, hex;
	__u8 buf[2048];
	int err;

	if (memfd < 0) {
		memfd = memfd_create("fuzz-elf", MFD_CLOEXEC);
		if (memfd < 0)
			abort();
		snprintf(path, sizeof(path), "/proc/self/fd/%d", memfd);
	}
	if (ftruncate(memfd, 0) || pwrite(memfd, data, size, 0) != (ssize_t)size)
		abort();

	err = elf__open(path, &ef);
	if (err) {
		if (ef)
			abort();	/* no handle on failure */
		return 0;
	}
	sink += elf__type(ef);
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!elf__find_dynsym(ef, names[i], &sym))
			elf__read_vaddr(ef, sym.value, &hex, sizeof(hex));
		if (!elf__find_symbol(ef, names[i], &sym))
			elf__read_vaddr(ef, sym.value, buf, sym.size < sizeof(buf) ? sym.size : sizeof(buf));
	}
	for (i = 0; i < sizeof(sections) / sizeof(sections[0]); i++) {
		if (elf__find_section(ef, sections[i], &sec))
			continue;
		if (!elf__section_data(ef, &sec, &sdata, &slen) && slen)
			sink += ((const __u8 *)sdata)[slen - 1];
		elf__read_vaddr(ef, sec.addr, buf, sizeof(buf));
	}
	w.ef = ef;
	elf__for_each_section(ef, on_section, &w);
	elf__for_each_symbol(ef, on_symbol, &w);
	/* load biases for the mappings pyfind could meet */
	elf__load_bias(ef, 0x555555554000ULL, 0, &bias);
	elf__load_bias(ef, 0x7f0000000000ULL, 0x1000, &bias);
	elf__load_bias(ef, 0x400000, 0x200000, &bias);
	/* reads at the edges of the address space */
	elf__read_vaddr(ef, 0, buf, 8);
	elf__read_vaddr(ef, ~0ULL - 4, buf, 8);
	elf__read_vaddr(ef, 0x1000, buf, 0);
	elf__close(ef);
	return 0;
}
