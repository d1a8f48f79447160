#!/usr/bin/env python3
"""Regenerate the fuzz seed corpus in tests/fuzz/corpus/ from what is installed here.

    tests/fuzz/mkcorpus.py [--pyrecord .output/fuzz/pyrecord] [HARNESS...]

pylines    real line tables: co_lnotab (3.8/3.9), co_linetable (3.10, 3.11+) of a few stdlib
           functions, compiled by every installed interpreter (pyenv, Debian's)
pyversions the _Py_DebugOffsets at the start of .PyRuntime (3.13+) and the AsyncioDebug
           section (3.14+) of the installed interpreters, plus version strings
elf        small ELF files built here with cc (shared object with the symbols and sections the
           reader looks up, an executable, stripped variants) and the first 4 KiB of real
           interpreters
pyreader   live interpreters captured by pyrecord (needs root: process_vm_readv)

Only seeds go here: files are small, the whole corpus stays well under 2 MB.
"""
import argparse
import glob
import hashlib
import json
import os
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
CORPUS = os.path.join(HERE, "corpus")
PYROOT = os.path.join(REPO, ".cache", "pyroot")


def save(harness, data, name=None):
    d = os.path.join(CORPUS, harness)
    os.makedirs(d, exist_ok=True)
    name = name or hashlib.sha1(data).hexdigest()[:16]
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def pyenv(minor):
    found = sorted(glob.glob("/root/.pyenv/versions/3.%d.*/bin/python3.%d" % (minor, minor)))
    return found[-1] if found else None


def host_pythons():
    """(minor, path) of interpreters runnable on the host."""
    out = []
    for m in range(8, 14):
        p = pyenv(m)
        if p:
            out.append((m, p))
    if os.access("/usr/bin/python3.11", os.X_OK):
        out.append((11, "/usr/bin/python3.11"))
    return out


# ---- pylines ----

TABLES = r'''
import asyncio.base_events, asyncio.events, json, sys, inspect, json.decoder
def pick():
    yield asyncio.base_events.BaseEventLoop._run_once
    yield asyncio.events.Handle._run
    yield json.decoder.JSONDecoder.raw_decode
    yield inspect.getsourcelines
    src = "def f(x):\n" + "".join("    x += %d\n" % i for i in range(300)) + \
          "\n" * 200 + "    return [\n  x,\n\n\n x]\n"
    ns = {}
    exec(compile(src, "gen.py", "exec"), ns)
    yield ns["f"]
out = []
for fn in pick():
    c = fn.__code__
    tab = c.co_lnotab if sys.version_info < (3, 10) else c.co_linetable
    n = len(c.co_code)
    out.append({"first": c.co_firstlineno, "tab": tab.hex(), "n": n})
print(json.dumps({"minor": sys.version_info[1], "tables": out}))
'''


def gen_pylines():
    for minor, py in host_pythons():
        res = subprocess.run([py, "-c", TABLES], capture_output=True, text=True)
        if res.returncode:
            print("pylines: %s failed: %s" % (py, res.stderr[-300:]), file=sys.stderr)
            continue
        d = json.loads(res.stdout)
        kind = 0 if minor <= 9 else 1 if minor == 10 else 2
        for t in d["tables"]:
            tab = bytes.fromhex(t["tab"])
            # an instruction in the middle: bytes for lnotab/linetable, code units after
            addr = t["n"] // 2 if kind < 2 else t["n"] // 4
            save("pylines", struct.pack("<Bii", kind, t["first"], addr) + tab)


# ---- ELF helpers ----

def elf_sections(path):
    """{name: (addr, offset, size, type)} of a 64-bit little-endian ELF."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] != b"\x7fELF" or data[4] != 2:
        return {}, data
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
    secs = []
    for i in range(shnum):
        name, typ, flags, addr, off, size = struct.unpack_from("<IIQQQQ", data, shoff + i * shentsize)
        secs.append((name, typ, addr, off, size))
    stroff = secs[shstrndx][3]
    out = {}
    for name, typ, addr, off, size in secs:
        end = data.index(b"\0", stroff + name)
        out[data[stroff + name:end].decode()] = (addr, off, size, typ)
    return out, data


def section_bytes(path, names):
    secs, data = elf_sections(path)
    for n in names:
        if n in secs and secs[n][3] != 8:   # not NOBITS
            _, off, size, _ = secs[n]
            return data[off:off + size]
    return None


def interpreter_images():
    """(minor, ELF path holding _PyRuntime, _asyncio module or None)."""
    out = []
    for m in range(8, 14):
        for p in sorted(glob.glob("/root/.pyenv/versions/3.%d.*/lib/libpython3.%d.so.1.0" % (m, m)))[-1:]:
            aio = sorted(glob.glob(os.path.dirname(p) + "/python3.%d/lib-dynload/_asyncio*.so" % m))
            out.append((m, p, aio[-1] if aio else None))
    if os.path.exists("/usr/bin/python3.11"):
        out.append((11, "/usr/bin/python3.11", None))
    for m in (13, 14, 15):
        p = os.path.join(PYROOT, "usr/bin/python3.%d" % m)
        if os.path.exists(p):
            aio = sorted(glob.glob(PYROOT + "/usr/lib/python3.%d/lib-dynload/_asyncio*.so" % m))
            out.append((m, p, aio[-1] if aio else None))
    return out


# ---- pyversions ----

def gen_pyversions():
    for minor, path, aio in interpreter_images():
        do = section_bytes(path, [".PyRuntime"])
        ad = None
        for cand in ([aio] if aio else []) + [path]:
            ad = section_bytes(cand, [".AsyncioDebug", "AsyncioDebug"])
            if ad:
                break
        if do and minor >= 13:
            do = do[:2048].ljust(2048, b"\0")
            save("pyversions", bytes([minor - 8]) + do)
            if ad:
                save("pyversions", bytes([minor - 8]) + do + ad[:104])
        if ad and minor >= 14:
            save("pyversions", bytes([minor - 8]) + ad[:104])
    for v in ("3.11.2 (main, Mar 13 2023, 12:18:29) [GCC 12.2.0]", "3.13.0rc1+ (", "3.8.18 ("):
        save("pyversions", bytes([3]) + v.encode())


# ---- elf ----

ELF_SRC = r'''
struct obj { long refcnt; void *type; };
__attribute__((section(".PyRuntime"))) char _PyRuntime[2048] = "xdebugpy";
const unsigned long Py_Version = 0x030b02f0;
struct obj PyCode_Type, PyUnicode_Type, PyBytes_Type, PyCoro_Type;
__attribute__((section(".AsyncioDebug"), used)) unsigned long AsyncioDebug[13] = { 168, 136 };
static char version[64] = "3.11.2 (main, Mar 13 2023) [GCC]";
char *Py_GetVersion(void) { return version; }
void Py_Initialize(void) {}
'''


def gen_elf():
    with tempfile.TemporaryDirectory() as td:
        src = os.path.join(td, "py.c")
        with open(src, "w") as f:
            f.write(ELF_SRC)
        small = ["-Os", "-nostdlib", "-Wl,--build-id=none", "-Wl,-z,noseparate-code",
                 "-Wl,--hash-style=gnu", "-fno-asynchronous-unwind-tables"]
        builds = {
            "so": ["-shared", "-fPIC"],
            "so-stripped": ["-shared", "-fPIC", "-s"],
            "exec": ["-static", "-no-pie", "-Wl,-e,Py_Initialize"],
            "exec-stripped": ["-static", "-no-pie", "-Wl,-e,Py_Initialize", "-s"],
        }
        for name, flags in builds.items():
            out = os.path.join(td, name)
            res = subprocess.run(["cc", *small, *flags, src, "-o", out], capture_output=True,
                                 text=True)
            if res.returncode:
                print("elf: cc %s failed: %s" % (name, res.stderr[-300:]), file=sys.stderr)
                continue
            with open(out, "rb") as f:
                data = f.read()
            save("elf", data, "tiny-" + name)
            # the same file cut short: section headers past the end
            save("elf", data[:len(data) // 2], "tiny-%s-half" % name)
    for minor, path, _ in interpreter_images()[:3]:
        with open(path, "rb") as f:
            save("elf", f.read(4096), "head-3.%d-%s" % (minor, os.path.basename(path)))


# ---- pyreader ----

def interp_table():
    """Indices as in target_image.h: (index, python to run, minor, chroot version or None)."""
    rows = [(0, "/usr/bin/python3.11", 11, None)]
    for i, m in enumerate(range(8, 14), start=1):
        rows.append((i, pyenv(m), m, None))
    for i, m in ((7, 13), (8, 14), (9, 15)):
        p = os.path.join(PYROOT, "usr/bin/python3.%d" % m)
        rows.append((i, p if os.path.exists(p) else None, m, "3.%d" % m))
    return rows


def gen_pyreader(pyrecord):
    if os.geteuid() != 0:
        print("pyreader: needs root, skipped", file=sys.stderr)
        return
    script = os.path.join(REPO, "tests", "targets", "py_stack.py")
    for idx, py, minor, chroot in interp_table():
        if not py:
            continue
        if chroot:
            tmp = os.path.join(PYROOT, "tmp", "ls_fuzz_py_stack.py")
            with open(script) as src, open(tmp, "w") as dst:
                dst.write(src.read())
            argv = [os.path.join(REPO, "scripts", "pyroot-chroot.sh"), chroot,
                    "/tmp/ls_fuzz_py_stack.py"]
        else:
            argv = [py, script]
        p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        try:
            line = p.stdout.readline()
            if not line:
                print("pyreader: %s did not start" % py, file=sys.stderr)
                continue
            time.sleep(0.2)
            out = os.path.join(CORPUS, "pyreader", "live-%d-3.%d" % (idx, minor))
            os.makedirs(os.path.dirname(out), exist_ok=True)
            for flags in ([], ["-a"]) if minor >= 14 else ([],):
                res = subprocess.run([pyrecord, str(p.pid), str(idx), out + ("-a" if flags else ""),
                                      *flags], capture_output=True, text=True,
                                     env=dict(os.environ, LS_REPO=REPO))
                print("pyreader 3.%d: %s" % (minor, res.stderr.strip().splitlines()[-1:]),
                      file=sys.stderr)
        finally:
            p.kill()
            p.wait()
            if chroot:
                os.unlink(tmp)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pyrecord", default=os.path.join(REPO, ".output", "fuzz", "pyrecord"))
    ap.add_argument("harness", nargs="*", default=["pylines", "pyversions", "elf", "pyreader"])
    a = ap.parse_args()
    for h in a.harness:
        if h == "pyreader":
            gen_pyreader(a.pyrecord)
        else:
            globals()["gen_" + h]()
    total = sum(os.path.getsize(os.path.join(dp, f)) for dp, _, fs in os.walk(CORPUS) for f in fs)
    print("corpus: %.0f KiB" % (total / 1024), file=sys.stderr)


if __name__ == "__main__":
    main()
