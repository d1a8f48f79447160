# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""The asyncio task reader (user/py/pytasks.c) against live interpreters, through
tests/tools/pytasks_dump.

Each case starts a tests/targets/py_tasks*.py script under one interpreter, waits for its
ground truth (what asyncio itself says about its tasks), reads the process from outside and
compares. Interpreters that are not installed are skipped with the reason.

Run as root: /usr/bin/python3 -m pytest tests/test_pytasks.py
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

from interpreters import debian_fetched, debian_system, pyenv, pidns_chroot, pidns_pyenv  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGETS = os.path.join(REPO, "tests", "targets")
TRUTH_TIMEOUT = 30
DUMP_TIMEOUT = 60


def debian_uvloop():
    python, reason = debian_system("/usr/bin/python3.11")
    if python and subprocess.run([python, "-c", "import uvloop"],
                                 capture_output=True).returncode != 0:
        return None, "uvloop not installed for %s (apt-get install python3-uvloop)" % python
    return python, reason


# (finder, target script)
INTERPRETERS = [
    pytest.param(lambda: debian_system("/usr/bin/python3.11"), "py_tasks.py", id="debian-3.11"),
    pytest.param(debian_uvloop, "py_tasks_uvloop.py", id="debian-3.11-uvloop"),
    pytest.param(lambda: pyenv(8), "py_tasks.py", id="pyenv-3.8"),
    pytest.param(lambda: pyenv(9), "py_tasks.py", id="pyenv-3.9"),
    pytest.param(lambda: pyenv(10), "py_tasks.py", id="pyenv-3.10"),
    pytest.param(lambda: pyenv(11), "py_tasks.py", id="pyenv-3.11"),
    pytest.param(lambda: pyenv(12), "py_tasks.py", id="pyenv-3.12"),
    pytest.param(lambda: pyenv(13), "py_tasks.py", id="pyenv-3.13"),
    pytest.param(lambda: debian_fetched(13), "py_tasks.py", id="debian-3.13"),
    pytest.param(lambda: debian_fetched(14), "py_tasks.py", id="debian-3.14"),
    pytest.param(lambda: debian_fetched(15), "py_tasks.py", id="debian-3.15"),
]

STOCK = [p for p in INTERPRETERS if p.values[1] == "py_tasks.py"]


@pytest.fixture(scope="session")
def dump(tmp_path_factory):
    """Build pytasks_dump with the command documented in tests/tools/pytasks_dump.c."""
    if os.geteuid() != 0:
        pytest.skip("reading other processes' memory needs root")
    cc = shutil.which("cc") or shutil.which("gcc")
    if not cc:
        pytest.skip("no C compiler")
    out = str(tmp_path_factory.mktemp("pytasks") / "pytasks_dump")
    inc = ["-I" + os.path.join(REPO, "user"), "-I" + os.path.join(REPO, "bpf")]
    mine = [os.path.join(REPO, "tests", "tools", "pytasks_dump.c"),
            os.path.join(REPO, "user", "py", "pytasks.c")]
    # warnings are errors in this module's own files
    res = subprocess.run([cc, "-fsyntax-only", "-Wall", "-Wextra", "-Wno-unused-parameter",
                          "-Wno-sign-compare", "-Werror"] + inc + mine,
                         capture_output=True, text=True)
    assert res.returncode == 0, "pytasks sources have warnings:\n%s" % res.stderr
    srcs = sorted(glob.glob(os.path.join(REPO, "user", "py", "[a-z]*.c")))
    cmd = [cc, "-O2", "-g", "-Wall"] + inc + [mine[0]]
    cmd += os.environ.get("PYDUMP_CFLAGS", "").split()
    cmd += srcs + ["-lelf", "-lz", "-o", out]
    res = subprocess.run(cmd, capture_output=True, text=True)
    assert res.returncode == 0, "building pytasks_dump failed:\n%s" % res.stderr
    return out


class Target:
    """A tests/targets/ script under one interpreter (or a launcher's argv); killed on exit."""

    def __init__(self, python, script, *args, argv=None):
        argv = argv or [python, os.path.join(TARGETS, script)] + list(args)
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     start_new_session=True)

    def child(self):
        """The interpreter when the target is started by a fork-and-wait launcher."""
        with open("/proc/%d/task/%d/children" % (self.proc.pid, self.proc.pid)) as f:
            kids = f.read().split()
        assert len(kids) == 1, kids
        return int(kids[0])

    def truth(self):
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
                buf += os.read(self.proc.stdout.fileno(), 1 << 20)
        return json.loads(buf.split(b"\n")[0])

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()


def run_dump(dump, pid):
    """(exit status, parsed objects, stderr)"""
    res = subprocess.run([dump, str(pid)], capture_output=True, text=True,
                         timeout=DUMP_TIMEOUT)
    objs = [json.loads(line) for line in res.stdout.splitlines() if line.strip()]
    return res.returncode, objs, res.stderr


def split(objs):
    """(header, tasks by address, loops, summary)"""
    tasks = {int(o["task"], 16): o for o in objs if "task" in o}
    loops = [o for o in objs if "loop" in o and "task" not in o]
    summary = [o for o in objs if "total" in o]
    assert len(summary) == 1, objs
    return objs[0], tasks, loops, summary[0]


def short(name):
    """3.8-3.10 code objects have no qualified name: compare the last component."""
    return name.rsplit(".", 1)[-1]


def minor_of(truth):
    return int(truth["version"].split(".")[1])


def read(dump, python, script, *args):
    if not python:
        pytest.skip(script)
    with Target(python, script, *args) as t:
        truth = t.truth()
        rc, objs, err = run_dump(dump, truth["pid"])
    assert rc == 0, "pytasks_dump failed (%d): %s" % (rc, err)
    return truth, objs


@pytest.mark.parametrize("find, script", INTERPRETERS)
def test_tasks(dump, find, script):
    python, reason = find()
    if not python:
        pytest.skip(reason)
    truth, objs = read(dump, python, script)
    header, tasks, loops, summary = split(objs)
    minor = minor_of(truth)
    pending = {a: o for a, o in tasks.items() if o["state"] == "pending"}

    assert summary["total"] == truth["count"], summary
    assert summary["flags"] == [], summary
    assert sorted(o["name"] for o in pending.values()) == \
        sorted(t["name"] for t in truth["tasks"]), objs
    by_name = {o["name"]: o for o in pending.values()}
    for want in truth["tasks"]:
        got = pending.get(want["id"])
        assert got, "task %s (0x%x) not found" % (want["name"], want["id"])
        assert got["name"] == want["name"]
        assert got["coro_qualname"] == want["coro_qualname"], got
        assert int(got["coro"], 16) == want["coro"], got
        assert got["flags"] == [], got
        # the await chain, outermost first, as cr_await/gi_yieldfrom see it
        assert [short(f["func"]) for f in got["frames"]] == \
            [short(q) for q in want["chain"]], (got, want)
        assert all(f["line"] > 0 for f in got["frames"]), got
        assert got["waiter_type"] == (want["waiter_type"] or ""), (got, want)
        # pytasks__name() from the coroutine (what a <= 3.13 stack walk gives) and the task
        assert got["name_by_coro"] == want["name"], got
        assert got["name_by_task"] == want["name"], got

    # four semaphore workers wait in Semaphore.acquire, two hold it and sleep
    sem = [o for o in pending.values() if o["name"].startswith("sem-")]
    assert sorted(o["waiter_desc"] for o in sem) == ["Semaphore.acquire"] * 4 + ["sleep"] * 2
    for name, desc in [("lock-waiter", "Lock.acquire"), ("queue-getter", "Queue.get"),
                       ("event-waiter", "Event.wait"), ("gatherer", "gather"),
                       ("lock-holder", "sleep"), ("subclassed", "sleep")]:
        assert by_name[name]["waiter_desc"] == desc, by_name[name]
    # the task-awaits-task chain, in both directions
    awaiter, awaited = by_name["awaiter"], by_name["awaited"]
    assert awaiter["waiter"] == awaited["task"] and awaiter["waiter_type"] == "Task"
    assert awaiter["waiter_desc"] == "Task awaited", awaiter
    assert awaiter["task"] in awaited["awaited_by"], awaited

    # the finished task whose exception nobody retrieved
    failed = tasks.get(truth["failed"]["id"])
    if minor <= 13:
        assert failed, "finished task with an unretrieved exception not reported: %s" % objs
    if failed:  # 3.14+ unregisters finished tasks: nothing to read them from
        assert failed["state"] == "finished" and failed["unretrieved"], failed
        assert failed["name"] == truth["failed"]["name"], failed

    assert len(loops) == 1, loops
    loop = loops[0]
    assert loop["tid"] == truth["pid"] and loop["type"] == truth["loop"], loop
    assert int(loop["loop"], 16) != 0 and loop["running_task"] == "0x0", loop
    if truth["loop"] == "Loop":  # uvloop: the backlog lives in C
        assert loop["ready"] is None and loop["scheduled"] is None, loop
    else:
        assert loop["ready"] >= 0, loop
        assert loop["scheduled"] >= truth["timers"], loop
    assert all(o["loop"] == loop["loop"] for o in tasks.values()), objs

    # the offset BPF gets for the running task: only where the thread state has one
    assert (header["running_task_offset"] is not None) == (minor >= 14), header


@pytest.mark.parametrize("find, script", INTERPRETERS)
def test_running_task(dump, find, script):
    """The main task blocks the loop in time.sleep(): it is the loop's running task."""
    python, reason = find()
    if not python:
        pytest.skip(reason)
    truth, objs = read(dump, python, script, "--block")
    header, tasks, loops, summary = split(objs)
    assert summary["total"] == truth["count"], summary
    assert len(loops) == 1, loops
    assert int(loops[0]["running_task"], 16) == truth["main"], (loops, truth["main"])
    main = tasks[truth["main"]]
    assert [short(f["func"]) for f in main["frames"]] == ["main"], main
    assert main["waiter"] == "0x0", main


def test_pstree(dump):
    """3.14's own reader (python -m asyncio ps / pstree) sees the same tasks."""
    python, reason = debian_fetched(14)
    if not python:
        pytest.skip(reason)
    with Target(python, "py_tasks.py") as t:
        truth = t.truth()
        rc, objs, err = run_dump(dump, truth["pid"])
        tree = subprocess.run([python, "-m", "asyncio", "pstree", str(truth["pid"])],
                              capture_output=True, text=True, timeout=DUMP_TIMEOUT)
        ps = subprocess.run([python, "-m", "asyncio", "ps", str(truth["pid"])],
                            capture_output=True, text=True, timeout=DUMP_TIMEOUT)
    assert rc == 0, err
    assert tree.returncode == 0 and ps.returncode == 0, tree.stderr + ps.stderr
    _, tasks, _, _ = split(objs)
    ours = sorted(o["name"] for o in tasks.values() if o["state"] == "pending")
    theirs = sorted(re.findall(r"\(T\) (\S+)$", tree.stdout, re.M))
    assert ours == theirs, "pstree:\n%s\nours: %s" % (tree.stdout, ours)
    ids = {int(m, 16) for m in re.findall(r"^\d+\s+(0x[0-9a-f]+)\s", ps.stdout, re.M)}
    assert ids == {a for a, o in tasks.items() if o["state"] == "pending"}, ps.stdout


@pytest.mark.parametrize("find, script", STOCK)
def test_busy(dump, find, script):
    """Two loops in two threads and tasks coming and going: consistent or marked partial."""
    python, reason = find()
    if not python:
        pytest.skip(reason)
    with Target(python, "py_tasks_busy.py") as t:
        truth = t.truth()
        for _ in range(5):
            rc, objs, err = run_dump(dump, truth["pid"])
            assert rc == 0, "pytasks_dump failed (%d): %s" % (rc, err)
            _, tasks, loops, summary = split(objs)
            names = [o["name"] for o in tasks.values()]
            assert sorted(lp["tid"] for lp in loops) == sorted(truth["tids"]), loops
            if "partial" in summary["flags"]:
                continue
            assert sum(n.startswith("long-") for n in names) == truth["long"], summary
            assert sum(n.startswith("other-") for n in names) == truth["other"], summary
            assert summary["total"] >= truth["long"] + truth["other"], summary


@pytest.mark.parametrize("launch", [
    pytest.param(lambda: pidns_pyenv("py_tasks.py", 12), id="pyenv-3.12-pidns"),
    pytest.param(lambda: pidns_chroot("py_tasks.py", 14), id="debian-3.14-chroot-pidns"),
])
def test_pid_namespace(dump, launch):
    """A target in its own PID namespace (and chroot): the loop's thread is namespace-local."""
    argv, reason, tmp = launch()
    if not argv:
        pytest.skip(reason)
    try:
        with Target(None, None, argv=argv) as t:
            truth = t.truth()
            rc, objs, err = run_dump(dump, t.child())
    finally:
        if tmp:
            os.unlink(tmp)
    assert rc == 0, "pytasks_dump failed (%d): %s" % (rc, err)
    assert truth["pid"] == 1, truth
    _, tasks, loops, summary = split(objs)
    assert summary["total"] == truth["count"], summary
    assert sorted(o["name"] for o in tasks.values() if o["state"] == "pending") == \
        sorted(t["name"] for t in truth["tasks"]), objs
    assert [lp["tid"] for lp in loops] == [1], loops


def test_no_asyncio(dump):
    python, reason = pyenv(12)
    if not python:
        python, reason = debian_system("/usr/bin/python3.11")
    if not python:
        pytest.skip(reason)
    proc = subprocess.Popen([python, "-c", "import time; print(1, flush=True); time.sleep(30)"],
                            stdout=subprocess.PIPE)
    try:
        proc.stdout.readline()
        res = subprocess.run([dump, str(proc.pid)], capture_output=True, text=True,
                             timeout=DUMP_TIMEOUT)
    finally:
        proc.kill()
        proc.wait()
    assert res.returncode == 3, res.stderr
    assert "asyncio is not imported" in res.stderr
