// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "elf.h"

struct elf_file {
	int fd;
	Elf *elf;
	GElf_Ehdr ehdr;
	size_t shstrndx;
	Elf_Scn *dynsym;
	Elf_Scn *symtab;
};

int elf__open(const char *path, struct elf_file **out)
{
	struct elf_file *ef = NULL;
	Elf_Scn *scn = NULL;
	GElf_Shdr shdr;
	int err;

	*out = NULL;
	if (elf_version(EV_CURRENT) == EV_NONE)
		return -ENOSYS;
	ef = calloc(1, sizeof(*ef));
	if (!ef)
		return -ENOMEM;
	ef->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (ef->fd < 0) {
		err = -errno;
		goto cleanup;
	}
	/* mmap: libpython with .symtab is tens of MiB, and we read only a little of it */
	ef->elf = elf_begin(ef->fd, ELF_C_READ_MMAP, NULL);
	if (!ef->elf || elf_kind(ef->elf) != ELF_K_ELF || !gelf_getehdr(ef->elf, &ef->ehdr) ||
	    elf_getshdrstrndx(ef->elf, &ef->shstrndx)) {
		err = -ENOEXEC;
		goto cleanup;
	}
	while ((scn = elf_nextscn(ef->elf, scn))) {
		if (!gelf_getshdr(scn, &shdr))
			continue;
		if (shdr.sh_type == SHT_DYNSYM)
			ef->dynsym = scn;
		else if (shdr.sh_type == SHT_SYMTAB)
			ef->symtab = scn;
	}
	*out = ef;
	return 0;

cleanup:
	elf__close(ef);
	return err;
}

void elf__close(struct elf_file *ef)
{
	if (!ef)
		return;
	if (ef->elf)
		elf_end(ef->elf);
	if (ef->fd >= 0)
		close(ef->fd);
	free(ef);
}

int elf__type(const struct elf_file *ef)
{
	return ef->ehdr.e_type;
}

/* Visit the defined symbols of one symbol table. */
static int scan_symtab(const struct elf_file *ef, Elf_Scn *scn, elf_sym_cb cb, void *ctx)
{
	struct elf_sym sym;
	Elf_Data *data;
	GElf_Shdr shdr;
	GElf_Sym gs;
	const char *name;
	size_t i, n;
	int ret;

	if (!scn || !gelf_getshdr(scn, &shdr) || !shdr.sh_entsize)
		return 0;
	data = elf_getdata(scn, NULL);
	if (!data)
		return 0;
	n = shdr.sh_size / shdr.sh_entsize;
	for (i = 1; i < n; i++) {
		if (!gelf_getsym(data, (int)i, &gs) || gs.st_shndx == SHN_UNDEF)
			continue;
		name = elf_strptr(ef->elf, shdr.sh_link, gs.st_name);
		if (!name || !name[0])
			continue;
		sym.value = gs.st_value;
		sym.size = gs.st_size;
		sym.type = GELF_ST_TYPE(gs.st_info);
		sym.shndx = gs.st_shndx;
		ret = cb(name, &sym, ctx);
		if (ret)
			return ret;
	}
	return 0;
}

struct sym_query {
	const char *name;
	struct elf_sym *out;
};

static int match_sym(const char *name, const struct elf_sym *sym, void *ctx)
{
	struct sym_query *q = ctx;

	if (strcmp(name, q->name))
		return 0;
	*q->out = *sym;
	return 1;
}

int elf__find_dynsym(const struct elf_file *ef, const char *name, struct elf_sym *sym)
{
	struct sym_query q = { .name = name, .out = sym };

	return scan_symtab(ef, ef->dynsym, match_sym, &q) == 1 ? 0 : -ENOENT;
}

int elf__find_symbol(const struct elf_file *ef, const char *name, struct elf_sym *sym)
{
	struct sym_query q = { .name = name, .out = sym };

	if (scan_symtab(ef, ef->dynsym, match_sym, &q) == 1)
		return 0;
	return scan_symtab(ef, ef->symtab, match_sym, &q) == 1 ? 0 : -ENOENT;
}

int elf__for_each_symbol(const struct elf_file *ef, elf_sym_cb cb, void *ctx)
{
	int ret;

	ret = scan_symtab(ef, ef->dynsym, cb, ctx);
	if (ret)
		return ret;
	return scan_symtab(ef, ef->symtab, cb, ctx);
}

int elf__for_each_section(const struct elf_file *ef, elf_section_cb cb, void *ctx)
{
	struct elf_section sec;
	Elf_Scn *scn = NULL;
	GElf_Shdr shdr;
	int ret;

	while ((scn = elf_nextscn(ef->elf, scn))) {
		if (!gelf_getshdr(scn, &shdr))
			continue;
		sec.name = elf_strptr(ef->elf, ef->shstrndx, shdr.sh_name);
		if (!sec.name)
			continue;
		sec.index = elf_ndxscn(scn);
		sec.addr = shdr.sh_addr;
		sec.offset = shdr.sh_offset;
		sec.size = shdr.sh_size;
		sec.type = shdr.sh_type;
		sec.flags = shdr.sh_flags;
		ret = cb(&sec, ctx);
		if (ret)
			return ret;
	}
	return 0;
}

struct sec_query {
	const char *name;
	struct elf_section *out;
};

static int match_section(const struct elf_section *sec, void *ctx)
{
	struct sec_query *q = ctx;

	if (strcmp(sec->name, q->name))
		return 0;
	*q->out = *sec;
	return 1;
}

int elf__find_section(const struct elf_file *ef, const char *name, struct elf_section *sec)
{
	struct sec_query q = { .name = name, .out = sec };

	return elf__for_each_section(ef, match_section, &q) == 1 ? 0 : -ENOENT;
}

int elf__section_data(const struct elf_file *ef, const struct elf_section *sec,
		      const void **data, size_t *len)
{
	Elf_Scn *scn;
	Elf_Data *d;

	if (sec->type == SHT_NOBITS)
		return -ENODATA;
	scn = elf_getscn(ef->elf, sec->index);
	d = scn ? elf_getdata(scn, NULL) : NULL;
	if (!d || !d->d_buf)
		return -ENODATA;
	*data = d->d_buf;
	*len = d->d_size;
	return 0;
}

int elf__read_vaddr(const struct elf_file *ef, __u64 vaddr, void *buf, size_t len)
{
	GElf_Phdr ph;
	size_t i, n;
	ssize_t got;

	if (elf_getphdrnum(ef->elf, &n))
		return -ENOEXEC;
	for (i = 0; i < n; i++) {
		if (!gelf_getphdr(ef->elf, (int)i, &ph) || ph.p_type != PT_LOAD)
			continue;
		if (vaddr < ph.p_vaddr || vaddr - ph.p_vaddr >= ph.p_memsz)
			continue;
		if (vaddr - ph.p_vaddr + len > ph.p_filesz)
			return -ENODATA;
		got = pread(ef->fd, buf, len, (off_t)(ph.p_offset + vaddr - ph.p_vaddr));
		if (got < 0)
			return -errno;
		return (size_t)got == len ? 0 : -ENODATA;
	}
	return -ENODATA;
}

int elf__load_bias(const struct elf_file *ef, __u64 map_start, __u64 map_offset, __u64 *bias)
{
	__u64 page = (__u64)sysconf(_SC_PAGESIZE);
	GElf_Phdr ph;
	size_t i, n;

	if (elf_getphdrnum(ef->elf, &n))
		return -ENOEXEC;
	for (i = 0; i < n; i++) {
		if (!gelf_getphdr(ef->elf, (int)i, &ph) || ph.p_type != PT_LOAD)
			continue;
		if ((ph.p_offset & ~(page - 1)) != map_offset)
			continue;
		*bias = map_start - (ph.p_vaddr & ~(page - 1));
		return 0;
	}
	return -ENOENT;
}
