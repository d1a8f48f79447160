// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Finding the interpreter in a process: the mapped ELF that defines _PyRuntime (the python
 * executable of static builds such as Debian's, or libpython of shared builds: chosen by
 * symbol, never by name), its load bias, and its version.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "elf.h"
#include "procfs.h"
#include "pyinternal.h"
#include "remote.h"

#define MAX_FILES 2048
#define VERSION_SCAN_MAX (8 << 20)	/* bytes of .data/.bss searched for sys.version */
#define SCAN_CHUNK 65536

/* The lowest-offset mapping of each distinct mapped file. */
static size_t collect_files(const struct proc_maps *maps, const struct proc_map **files,
			    size_t max)
{
	const struct proc_map *m;
	size_t i, j, n = 0;

	for (i = 0; i < maps->n; i++) {
		m = &maps->v[i];
		if (!m->inode || !m->path)
			continue;
		for (j = 0; j < n; j++) {
			if (files[j]->inode == m->inode && files[j]->dev == m->dev)
				break;
		}
		if (j < n) {
			if (m->offset < files[j]->offset)
				files[j] = m;
			continue;
		}
		if (n < max)
			files[n++] = m;
	}
	return n;
}

static bool name_has_python(const char *path)
{
	const char *base = strrchr(path, '/');

	return strstr(base ? base + 1 : path, "python") != NULL;
}

/* "python3.8", "libpython3.7m.so.1.0", "python2.7" -> major, minor */
static int version_from_name(const char *path, unsigned int *major, unsigned int *minor)
{
	const char *base = strrchr(path, '/');
	const char *s = base ? base + 1 : path;

	while ((s = strstr(s, "python"))) {
		s += 6;
		if (isdigit((unsigned char)s[0]) && s[1] == '.' && isdigit((unsigned char)s[2])) {
			*major = (unsigned int)(s[0] - '0');
			*minor = (unsigned int)strtoul(s + 2, NULL, 10);
			return 0;
		}
	}
	return -ENOENT;
}

/*
 * sys.version as Py_GetVersion() formats it at start-up ("3.8.18 (default, ...") lives in a
 * static buffer of the interpreter's .bss. Before 3.11 it is the only place holding the
 * micro version: the PY_VERSION literal itself is often tail-merged into a longer string.
 */
static int match_version(const char *buf, size_t len, size_t i, char *out, size_t outlen)
{
	size_t j = i, dots = 0;

	if (i && buf[i - 1])
		return 0;
	while (j < len && j - i < 16 && (isdigit((unsigned char)buf[j]) || buf[j] == '.')) {
		if (buf[j] == '.') {
			if (j == i || buf[j - 1] == '.')
				return 0;
			dots++;
		}
		j++;
	}
	if (dots != 2 || buf[j - 1] == '.')
		return 0;
	while (j < len && j - i < 24 && (isalnum((unsigned char)buf[j]) || buf[j] == '+'))
		j++;
	if (j + 1 >= len || buf[j] != ' ' || buf[j + 1] != '(')
		return 0;
	snprintf(out, outlen, "%.*s", (int)(j - i), buf + i);
	return 1;
}

static int scan_section_for_version(int pid, const struct elf_file *ef, const char *name,
				    __u64 bias, char *out, size_t outlen)
{
	struct elf_section sec;
	char *buf = NULL;
	__u64 addr, end, chunk;
	size_t i;
	int found = 0;

	if (elf__find_section(ef, name, &sec) || !sec.addr)
		return 0;
	buf = malloc(SCAN_CHUNK);
	if (!buf)
		return 0;
	end = sec.addr + bias + (sec.size < VERSION_SCAN_MAX ? sec.size : VERSION_SCAN_MAX);
	/* chunks overlap by 64 bytes so that a string across a boundary is still seen */
	for (addr = sec.addr + bias; addr < end && !found; addr += SCAN_CHUNK - 64) {
		chunk = end - addr < SCAN_CHUNK ? end - addr : SCAN_CHUNK;
		if (remote__read(pid, addr, buf, chunk))
			continue;
		for (i = 0; i + 4 < chunk && !found; i++) {
			if ((buf[i] == '2' || buf[i] == '3') && buf[i + 1] == '.')
				found = match_version(buf, chunk, i, out, outlen);
		}
		if (chunk < SCAN_CHUNK)
			break;
	}
	free(buf);
	return found;
}

static void format_hex_version(__u64 hex, struct py_image *img)
{
	static const char *const levels[16] = { [0xa] = "a", [0xb] = "b", [0xc] = "rc" };
	unsigned int level = (hex >> 4) & 0xf;

	img->major = (hex >> 24) & 0xff;
	img->minor = (hex >> 16) & 0xff;
	snprintf(img->version, sizeof(img->version), "%u.%u.%u%s", img->major, img->minor,
		 (unsigned int)(hex >> 8) & 0xff, levels[level] ? levels[level] : "");
	if (levels[level])
		snprintf(img->version + strlen(img->version),
			 sizeof(img->version) - strlen(img->version), "%u",
			 (unsigned int)hex & 0xf);
}

static void detect_version(int pid, const struct elf_file *ef, struct py_image *img)
{
	struct elf_sym sym;
	unsigned int major, minor, micro;
	char found[32];
	__u64 hex = 0;

	/* Py_Version (3.11+) is a const in .rodata: read it from the file */
	if (!elf__find_symbol(ef, "Py_Version", &sym) &&
	    !elf__read_vaddr(ef, sym.value, &hex, sizeof(hex)) && (hex >> 24) >= 3) {
		format_hex_version(hex, img);
		return;
	}
	if ((scan_section_for_version(pid, ef, ".bss", img->bias, found, sizeof(found)) ||
	     scan_section_for_version(pid, ef, ".data", img->bias, found, sizeof(found))) &&
	    !pyversion__parse(found, &major, &minor, &micro)) {
		img->major = major;
		img->minor = minor;
		snprintf(img->version, sizeof(img->version), "%s", found);
		return;
	}
	if (!version_from_name(img->path, &major, &minor)) {
		img->major = major;
		img->minor = minor;
		snprintf(img->version, sizeof(img->version), "%u.%u", major, minor);
	}
}

static __u64 symbol_addr(const struct elf_file *ef, const char *name, __u64 bias)
{
	struct elf_sym sym;

	return elf__find_symbol(ef, name, &sym) ? 0 : sym.value + bias;
}

/* Open the file behind m; returns 1 if it holds an interpreter (img filled), else 0. */
static int probe_file(int pid, const struct proc_map *m, struct py_image *img, bool *legacy)
{
	struct elf_file *ef = NULL;
	struct elf_section sec;
	struct elf_sym sym;
	char path[PATH_MAX + 64];
	__u64 runtime;
	int ret = 0;

	if (procfs__mapped_path(pid, m, path, sizeof(path)) || elf__open(path, &ef))
		return 0;
	if (!elf__find_dynsym(ef, "_PyRuntime", &sym))
		runtime = sym.value;
	else if (!elf__find_section(ef, ".PyRuntime", &sec) && sec.addr)
		runtime = sec.addr;
	else
		runtime = 0;
	/* Interpreters older than 3.7 have no _PyRuntime: recognise them to say so */
	if (!runtime && (*legacy || elf__find_dynsym(ef, "Py_Initialize", &sym)))
		goto cleanup;

	memset(img, 0, sizeof(*img));
	snprintf(img->path, sizeof(img->path), "%s", m->path);
	if (elf__load_bias(ef, m->start, m->offset, &img->bias))
		goto cleanup;
	detect_version(pid, ef, img);
	if (!runtime) {
		*legacy = true;
		goto cleanup;
	}
	img->runtime = runtime + img->bias;
	img->code_type = symbol_addr(ef, "PyCode_Type", img->bias);
	img->coro_type = symbol_addr(ef, "PyCoro_Type", img->bias);
	img->str_type = symbol_addr(ef, "PyUnicode_Type", img->bias);
	img->bytes_type = symbol_addr(ef, "PyBytes_Type", img->bias);
	img->debug_build = !elf__find_dynsym(ef, "_Py_RefTotal", &sym) ||
			   !elf__find_dynsym(ef, "_Py_GetGlobalRefTotal", &sym) ||
			   !elf__find_dynsym(ef, "_Py_ForgetReference", &sym);
	ret = 1;
cleanup:
	elf__close(ef);
	return ret;
}

int pyfind__image(int pid, struct py_image *img, char *msg, size_t msglen)
{
	const struct proc_map **files = NULL;
	struct proc_maps maps = { 0 };
	struct py_image legacy_img = { 0 };
	bool legacy = false;
	size_t i, n;
	int pass, err;

	err = procfs__maps(pid, &maps);
	if (err) {
		snprintf(msg, msglen, "cannot read the mappings of process %d: %s", pid,
			 strerror(-err));
		return err;
	}
	files = calloc(MAX_FILES, sizeof(*files));
	if (!files) {
		err = -ENOMEM;
		goto cleanup;
	}
	n = collect_files(&maps, files, MAX_FILES);
	/* names only decide the order: files called *python* are the likely ones */
	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < n; i++) {
			if (name_has_python(files[i]->path) != (pass == 0))
				continue;
			if (probe_file(pid, files[i], img, &legacy)) {
				err = 0;
				goto cleanup;
			}
			if (legacy && !legacy_img.path[0])
				legacy_img = *img;
		}
	}
	if (legacy) {
		snprintf(msg, msglen, "CPython %s (%s) is not supported (3.8 to 3.%d are)",
			 legacy_img.version[0] ? legacy_img.version : "(unknown version)",
			 legacy_img.path, PY_MINOR_LAST);
		err = -EOPNOTSUPP;
		goto cleanup;
	}
	snprintf(msg, msglen, "no CPython interpreter found in process %d", pid);
	err = -ENOEXEC;
cleanup:
	free(files);
	procfs__maps_free(&maps);
	return err;
}
