"""Pending tasks from outside: counts, what they wait on, buildups and hangs, task dumps."""
import os
import re
import subprocess

import pytest

from conftest import DEBIAN_PY, LOOPSCOPE, TARGETS, has_uvloop, require_root
from interpreters import INTERPRETERS, debian_fetched, find_or_skip

SCEN = os.path.join(TARGETS, "task_scenarios.py")
PY_TASKS = os.path.join(TARGETS, "py_tasks.py")


def run(procs, *args, extra=()):
    ls = procs([LOOPSCOPE, "run", "--json", "-i", "1", *extra, "--", DEBIAN_PY, SCEN, *args])
    ls.wait_for({"type": "summary"}, timeout=90, what="summary")
    assert ls.stop() == 0, ls.stderr()
    return ls


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_buildup_behind_a_semaphore(procs, loop):
    require_root()
    if loop == "uvloop" and not has_uvloop():
        pytest.skip("python3-uvloop is not installed for %s" % DEBIAN_PY)
    ls = run(procs, "buildup", *(["--uvloop"] if loop == "uvloop" else []))
    counts = [e for e in ls.lines if e.get("event") == "count"]
    readings = ls.events(type="tasks")
    assert counts and readings
    # the producer holds still for 1.5 s after each burst: compare readings taken then
    matched = 0
    for c in counts:
        during = [r for r in readings if c["time"] + 0.05 < r["time"] < c["time"] + 1.4]
        for r in during:
            assert abs(r["live"] - c["live"]) <= 0.02 * c["live"], (r["live"], c)
            matched += 1
    assert matched >= 3, (counts, [(r["time"], r["live"]) for r in readings])
    top = readings[-1]
    assert top["by_coro"][0]["what"] == "handle", top["by_coro"]
    assert any("Semaphore.acquire" in a["what"] for a in top["by_await"]), top["by_await"]
    if loop == "uvloop":
        assert top["ready"] == "unknown: kept in C by the loop"
    (f,) = ls.events(type="finding", kind="buildup")
    assert f["rate_per_s"] > 100 and f["top_coro"] == "handle"
    assert "Semaphore.acquire" in f["awaiting"]


def test_healthy_control_raises_no_finding(procs):
    require_root()
    ls = run(procs, "healthy")
    assert ls.events(type="tasks")
    assert ls.events(type="finding") == []


def test_deadlock_is_a_hang_with_its_await_chains(procs):
    require_root()
    ls = run(procs, "deadlock", extra=("--hang-after", "3", "-d", "7"))
    (f,) = ls.events(type="finding", kind="hang")
    tasks = {c["task"]: c for c in f["chains"]}
    assert {"side-a", "side-b"} <= set(tasks), f["chains"]
    for name in ("side-a", "side-b"):
        frames = tasks[name]["frames"]
        assert frames[0]["func"] == "side_a" and frames[0]["file"].endswith("task_scenarios.py")


def test_exhausted_pool_is_a_hang(procs):
    require_root()
    ls = run(procs, "pool", extra=("--hang-after", "3", "-d", "7"))
    (f,) = ls.events(type="finding", kind="hang")
    waiting = [c for c in f["chains"] if c["task"].startswith("request-")]
    assert waiting and all("Semaphore.acquire" in c["awaiting"] for c in waiting), f["chains"]
    assert f["stuck"] >= 20


def dump_names(text):
    return re.findall(r"\(T\) (\S+)", text)


def tree_edges(text):
    """(awaiting task, awaited task) pairs from a pstree-shaped dump."""
    edges, stack = set(), []
    for line in text.splitlines():
        m = re.match(r"^([\s\u2502]*)[\u251c\u2514]\u2500\u2500 \(T\) (\S+)", line)
        if not m:
            continue
        depth = len(m.group(1))
        stack = [(d, n) for d, n in stack if d < depth]
        if stack:
            edges.add((stack[-1][1], m.group(2)))
        stack.append((depth, m.group(2)))
    return edges


def start_py_tasks(procs, python):
    tgt = procs([python, PY_TASKS])
    truth = tgt.wait_for(lambda o: "tasks" in o and "pid" in o, timeout=30)
    return tgt, truth


def test_tasks_matches_cpython_pstree(procs):
    require_root()
    python = find_or_skip(lambda: debian_fetched(14))
    tgt, truth = start_py_tasks(procs, python)
    ours = subprocess.run([LOOPSCOPE, "tasks", str(tgt.pid)], capture_output=True,
                          text=True, timeout=30)
    assert ours.returncode == 0, ours.stderr
    theirs = subprocess.run([python, "-m", "asyncio", "pstree", str(tgt.pid)],
                            capture_output=True, text=True, timeout=60)
    assert theirs.returncode == 0, theirs.stderr
    assert sorted(dump_names(ours.stdout)) == sorted(dump_names(theirs.stdout))
    assert tree_edges(ours.stdout) == tree_edges(theirs.stdout)


@pytest.mark.parametrize("find", INTERPRETERS)
def test_tasks_dump_on_every_version(procs, find):
    require_root()
    python = find_or_skip(find)
    tgt, truth = start_py_tasks(procs, python)
    r = subprocess.run([LOOPSCOPE, "tasks", str(tgt.pid), "--json"], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    import json
    tasks = [json.loads(l) for l in r.stdout.splitlines() if '"type":"task"' in l]
    pending = {t["name"]: t for t in tasks if t["state"] == "pending"}
    want = {t["name"] for t in truth["tasks"]}
    assert want <= set(pending), (want - set(pending))
    for t in truth["tasks"]:
        assert pending[t["name"]]["coro"] == t["coro_qualname"]
        assert pending[t["name"]]["chain"][0]["func"] == t["chain"][0]
    sem = [t for t in pending.values() if t["awaiting"] == "Semaphore.acquire"]
    assert len(sem) >= 4, [(t["name"], t["awaiting"]) for t in pending.values()]
