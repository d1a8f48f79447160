# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""The interpreter reader (user/py/) against live interpreters, through tests/tools/pydump.

Each case starts tests/targets/py_stack.py under one interpreter, waits for its ground truth
(the blocked loop thread's stack as the interpreter itself sees it), runs pydump on it and
compares. Interpreters that are not installed are skipped with the reason.

Run as root: /usr/bin/python3 -m pytest tests/test_pyreader.py
"""
import glob
import json
import os
import re
import select
import shutil
import signal
import subprocess
import time

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGETS = os.path.join(REPO, "tests", "targets")
TRUTH_TIMEOUT = 30
DUMP_TIMEOUT = 30

THREAD_RE = re.compile(
    r"^Thread (-?\d+) \(ns (-?\d+), tstate 0x[0-9a-f]+, coro 0x([0-9a-f]+)\)(.*)$")
FRAME_RE = re.compile(r"^  (.*) \((.*):(\d+)\)$")


from interpreters import INTERPRETERS, pidns_chroot, pidns_pyenv, pyenv  # noqa: E402


@pytest.fixture(scope="session")
def pydump(tmp_path_factory):
    """Build pydump with the command documented in tests/tools/pydump.c."""
    if os.geteuid() != 0:
        pytest.skip("reading other processes' memory needs root")
    cc = shutil.which("cc") or shutil.which("gcc")
    if not cc:
        pytest.skip("no C compiler")
    out = str(tmp_path_factory.mktemp("pydump") / "pydump")
    srcs = sorted(glob.glob(os.path.join(REPO, "user", "py", "*.c")))
    cmd = [cc, "-O2", "-g", "-Wall", "-Werror", "-I" + os.path.join(REPO, "user"),
           "-I" + os.path.join(REPO, "bpf"), os.path.join(REPO, "tests", "tools", "pydump.c")]
    # e.g. PYDUMP_CFLAGS="-fsanitize=address,undefined" to run the suite under sanitizers
    cmd += os.environ.get("PYDUMP_CFLAGS", "").split()
    cmd += srcs + ["-lelf", "-lz", "-o", out]
    res = subprocess.run(cmd, capture_output=True, text=True)
    assert res.returncode == 0, "building pydump failed:\n%s" % res.stderr
    return out


def run_pydump(pydump, pid):
    res = subprocess.run([pydump, "-v", str(pid)], capture_output=True, text=True,
                         timeout=DUMP_TIMEOUT)
    return res.returncode, res.stdout, res.stderr


def parse_dump(text):
    """{ns_tid: {"host": tid, "coro": int, "flags": str, "frames": [(func, file, line)]}}"""
    threads, cur = {}, None
    for line in text.splitlines():
        m = THREAD_RE.match(line)
        if m:
            cur = {"host": int(m.group(1)), "coro": int(m.group(3), 16),
                   "flags": m.group(4), "frames": []}
            threads[int(m.group(2))] = cur
            continue
        m = FRAME_RE.match(line)
        if m and cur is not None:
            cur["frames"].append((m.group(1), m.group(2), int(m.group(3))))
    return threads


class Target:
    """A tests/targets/ script under one interpreter; killed on exit."""

    def __init__(self, python, script, argv=None):
        argv = argv or [python, os.path.join(TARGETS, script)]
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     start_new_session=True)

    def child(self):
        """The interpreter when the target is started by a fork-and-wait launcher."""
        path = "/proc/%d/task/%d/children" % (self.proc.pid, self.proc.pid)
        with open(path) as f:
            kids = f.read().split()
        assert len(kids) == 1, kids
        return int(kids[0])

    def line(self):
        deadline = time.monotonic() + TRUTH_TIMEOUT
        buf = b""
        while b"\n" not in buf:
            left = deadline - time.monotonic()
            if left <= 0 or self.proc.poll() is not None:
                err = self.proc.stderr.read() if self.proc.poll() is not None else b""
                pytest.fail("target gave no ground truth (exit %s): %s"
                            % (self.proc.poll(), err.decode(errors="replace")))
            ready, _, _ = select.select([self.proc.stdout], [], [], left)
            if ready:
                chunk = os.read(self.proc.stdout.fileno(), 65536)
                if not chunk:
                    continue
                buf += chunk
        return buf.split(b"\n")[0].decode()

    def truth(self):
        return json.loads(self.line())

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()


def short(func):
    """pydump reports qualified names where the interpreter has them (3.11+)."""
    return func.rsplit(".", 1)[-1]


@pytest.mark.parametrize("find", INTERPRETERS)
def test_stack(pydump, find):
    python, reason = find()
    if not python:
        pytest.skip(reason)
    with Target(python, "py_stack.py") as t:
        truth = t.truth()
        rc, out, err = run_pydump(pydump, truth["pid"])
    assert rc == 0, "pydump failed (%d): %s" % (rc, err)
    threads = parse_dump(out)
    assert truth["tid"] in threads, "loop thread %d missing:\n%s" % (truth["tid"], out)
    assert truth["idle_tid"] in threads, "idle thread %d missing:\n%s" % (truth["idle_tid"], out)
    loop = threads[truth["tid"]]
    assert loop["host"] == truth["tid"], out  # not in a PID namespace: host TID == ns TID

    # the blocking chain, innermost first, at the interpreter's own lines
    want = [(f["func"], f["file"], f["line"]) for f in truth["stack"]]
    assert [f[0] for f in want] == ["leaf", "helper", "handler"], truth
    assert loop["frames"][:3] == want, "stack:\n%s\nexpected:\n%s" % (out, want)

    # every other frame too: exercises the line tables of the stdlib's asyncio code
    full = [(short(f[0]), f[1], f[2]) for f in loop["frames"]]
    assert full == [(f["func"], f["file"], f["line"]) for f in truth["full"]], out
    assert "[" not in loop["flags"], "walk flags: %s" % loop["flags"]

    # the outermost coroutine on the stack is the task's coroutine
    assert loop["coro"] == truth["coro"], out


@pytest.mark.parametrize("find", INTERPRETERS)
def test_unicode_names(pydump, find):
    """Names needing 1, 2 and 4 bytes per character, in a non-ASCII file."""
    python, reason = find()
    if not python:
        pytest.skip(reason)
    with Target(python, "py_unicode.py") as t:
        truth = t.truth()
        rc, out, err = run_pydump(pydump, truth["pid"])
    assert rc == 0, "pydump failed (%d): %s" % (rc, err)
    threads = parse_dump(out)
    assert truth["tid"] in threads, out
    want = [(f["func"], f["file"], f["line"]) for f in truth["full"]]
    assert [f[0] for f in want[:3]] == ["\U00020000", "функция", "naïve"], truth
    assert threads[truth["tid"]]["frames"] == want, out


@pytest.mark.parametrize("find", INTERPRETERS)
def test_busy_target(pydump, find):
    """Racing a busy interpreter: partial stacks are fine, failures and crashes are not."""
    python, reason = find()
    if not python:
        pytest.skip(reason)
    with Target(python, "py_busy.py") as t:
        pid = int(t.line().split()[1])
        seen = 0
        for _ in range(15):
            rc, out, err = run_pydump(pydump, pid)
            assert rc == 0, "pydump failed (%d): %s" % (rc, err)
            threads = parse_dump(out)
            assert len(threads) >= 4, out  # the loop and three spinning threads
            seen += sum(len(th["frames"]) for th in threads.values())
            for line in out.splitlines()[1:]:
                assert THREAD_RE.match(line) or FRAME_RE.match(line) or \
                    line.startswith("  <invalid code object"), line
    assert seen > 0


@pytest.mark.parametrize("launch", [
    pytest.param(lambda: pidns_pyenv("py_stack.py", 9), id="pyenv-3.9-pidns"),
    pytest.param(lambda: pidns_pyenv("py_stack.py", 12), id="pyenv-3.12-pidns"),
    pytest.param(lambda: pidns_chroot("py_stack.py", 14), id="debian-3.14-chroot-pidns"),
])
def test_pid_namespace(pydump, launch):
    """A target in its own PID namespace (and chroot): TIDs are namespace-local."""
    argv, reason, tmp = launch()
    if not argv:
        pytest.skip(reason)
    try:
        with Target(None, None, argv) as t:
            truth = t.truth()
            pid = t.child()
            rc, out, err = run_pydump(pydump, pid)
    finally:
        if tmp:
            os.unlink(tmp)
    assert rc == 0, "pydump failed (%d): %s" % (rc, err)
    assert truth["pid"] == 1, truth
    threads = parse_dump(out)
    assert truth["tid"] in threads and truth["idle_tid"] in threads, out
    loop = threads[truth["tid"]]
    assert loop["host"] == pid, out
    want = [(f["func"], f["file"], f["line"]) for f in truth["stack"]]
    assert loop["frames"][:3] == want, out
    assert loop["coro"] == truth["coro"], out


def test_not_python(pydump):
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        time.sleep(0.2)
        rc, out, err = run_pydump(pydump, sleeper.pid)
    finally:
        sleeper.kill()
        sleeper.wait()
    assert rc == 1
    assert "no CPython interpreter" in err


def test_no_process(pydump):
    rc, out, err = run_pydump(pydump, 2 ** 22 + 1)
    assert rc == 1
    assert "no process" in err


@pytest.mark.parametrize("minor", [6, 7])
def test_unsupported_version(pydump, minor):
    python, reason = pyenv(minor)
    if not python:
        pytest.skip(reason)
    proc = subprocess.Popen([python, "-c", "import sys, time; print(1, flush=True); "
                             "time.sleep(30)"], stdout=subprocess.PIPE)
    try:
        proc.stdout.readline()
        rc, out, err = run_pydump(pydump, proc.pid)
    finally:
        proc.kill()
        proc.wait()
    assert rc == 2, err
    assert "CPython 3.%d" % minor in err and "not supported" in err, err
