/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Small read-only ELF helpers on top of libelf: symbols, sections, file contents by link-time
 * address, and the load bias of a mapping. Nothing here knows about Python.
 */
#ifndef __PY_ELF_H
#define __PY_ELF_H

#include <stddef.h>
#include <linux/types.h>

struct elf_file;

struct elf_sym {
	__u64 value;		/* st_value: link-time address for defined data/code */
	__u64 size;
	int type;		/* STT_* */
	int shndx;		/* SHN_UNDEF for imports */
};

struct elf_section {
	const char *name;	/* valid until elf__close() */
	size_t index;
	__u64 addr;		/* sh_addr: link-time address, 0 if not allocated */
	__u64 offset;		/* sh_offset in the file */
	__u64 size;
	__u32 type;		/* SHT_* */
	__u64 flags;		/* SHF_* */
};

/* Callbacks return 0 to go on; anything else stops the walk and is returned. */
typedef int (*elf_sym_cb)(const char *name, const struct elf_sym *sym, void *ctx);
typedef int (*elf_section_cb)(const struct elf_section *sec, void *ctx);

/* Open an ELF file. Returns 0, -ENOEXEC if it is not ELF, or a negative errno. */
int elf__open(const char *path, struct elf_file **ef);
void elf__close(struct elf_file *ef);

int elf__type(const struct elf_file *ef);	/* e_type: ET_EXEC, ET_DYN, ... */

/* Find a defined symbol by name: .dynsym first, then .symtab. Returns 0 or -ENOENT. */
int elf__find_symbol(const struct elf_file *ef, const char *name, struct elf_sym *sym);
/* Same, .dynsym only: cheap enough to probe every library a process has mapped. */
int elf__find_dynsym(const struct elf_file *ef, const char *name, struct elf_sym *sym);
/* Visit the symbols of .dynsym then .symtab (duplicates are visited twice). */
int elf__for_each_symbol(const struct elf_file *ef, elf_sym_cb cb, void *ctx);

/* Find a section by name. Returns 0 or -ENOENT. */
int elf__find_section(const struct elf_file *ef, const char *name, struct elf_section *sec);
int elf__for_each_section(const struct elf_file *ef, elf_section_cb cb, void *ctx);
/* A section's bytes in the file (valid until elf__close()); -ENODATA for SHT_NOBITS. */
int elf__section_data(const struct elf_file *ef, const struct elf_section *sec,
		      const void **data, size_t *len);

/*
 * Copy len file-backed bytes at link-time address vaddr (through PT_LOAD segments). Returns
 * -ENODATA when the range is not (fully) backed by the file, e.g. .bss.
 */
int elf__read_vaddr(const struct elf_file *ef, __u64 vaddr, void *buf, size_t len);

/*
 * Load bias of a mapping of this file: map_start is where the page at file offset map_offset
 * was mapped. Link-time address + bias = runtime address (0 for ET_EXEC). Returns -ENOENT if
 * no PT_LOAD segment starts at that page.
 */
int elf__load_bias(const struct elf_file *ef, __u64 map_start, __u64 map_offset, __u64 *bias);

#endif /* __PY_ELF_H */
