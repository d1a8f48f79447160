// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
// fuzz-sources: tests/fuzz/fake_target.c user/py/*.c -user/py/remote.c -user/py/procfs.c
// fuzz-libs: -lelf -lz -Wl,--wrap=elf__open,--wrap=elf__close
/*
 * libFuzzer harness: the whole interpreter reader (user/py/: pyfind, pyversions, pyproc,
 * pythreads, pywalk, pysym, pyobj, pylines) against a target whose memory is the fuzz input
 * ("garbage in remote memory"): fake_target.c replaces remote.c and procfs.c. The interpreter
 * ELFs are the real ones installed here (target_image.h); seeds captured from live processes
 * by pyrecord sit in tests/fuzz/corpus/pyreader/.
 */
#include <stdint.h>
#include <stdio.h>
#include "fake_target.h"
#include "pyreader_drive.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int verbose = -1;

	if (verbose < 0)
		verbose = getenv("LS_FUZZ_VERBOSE") != NULL;
	if (fake_target__load(data, size) ||
	    !fake_target__interp_path(fake_target__interp(), NULL)) {
		fake_target__reset();
		return 0;
	}
	drive(FAKE_PID, verbose);
	fake_target__reset();
	return 0;
}
