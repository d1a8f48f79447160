"""CPython's own probes: GC pauses, first imports and audit events inside stalls.

Debian's builds have USDT probes; pyenv's have none and fall back to uprobes on the
collector (3.10-3.13) or say plainly that GC timing is unavailable (3.8/3.9).
"""
import os
import re
import signal
import subprocess
import time

import pytest

from conftest import DEBIAN_PY, LOOPSCOPE, TARGETS, require_root, target
from interpreters import debian_fetched, debian_system, find_or_skip, pyenv

GC_TARGET = os.path.join(TARGETS, "gc_scenarios.py")

USDT = [pytest.param(lambda: debian_system(DEBIAN_PY), id="debian-3.11"),
        pytest.param(lambda: debian_fetched(13), id="debian-3.13"),
        pytest.param(lambda: debian_fetched(14), id="debian-3.14"),
        pytest.param(lambda: debian_fetched(15), id="debian-3.15")]
GC_INTERPRETERS = USDT + [pytest.param(lambda: pyenv(12), id="pyenv-3.12-uprobe")]


def run_gc(procs, python, *args, threshold="20"):
    ls = procs([LOOPSCOPE, "run", "--json", "-i", "0", "-t", threshold, "--",
                python, GC_TARGET, *args])
    ls.wait_for({"type": "summary"}, timeout=120, what="summary")
    assert ls.stop() == 0, ls.stderr()
    return ls


@pytest.mark.parametrize("find", GC_INTERPRETERS)
def test_gc_time_inside_stalls_matches_gc_callbacks(procs, find):
    require_root()
    python = find_or_skip(find)
    ls = run_gc(procs, python, "gc", "--objects", "800000", "--count", "3")
    (src,) = ls.events(type="sources")
    assert src["gc"] == ("uprobe" if "pyenv" in python else "usdt"), src
    truth = [e["ms"] for e in ls.lines if e.get("event") == "gc" and e["gen"] == 2]
    stalls = ls.events(type="stall")
    runs = [r["ms"] for st in stalls for r in st["gc"]["runs"] if r["gen"] == 2]
    assert len(truth) >= 3, ls.lines
    # every full collection the program timed (those inside the handlers) is in a stall
    for ms in truth[:3]:
        assert any(abs(ms - r) < 2.0 for r in runs), (ms, runs)
    for st in stalls[:3]:
        assert st["gc"]["ms"] > 0.5 * st["duration_ms"], st
        assert st["gc"]["trigger"]["func"].split(".")[-1] == "handler_gc"
    summary = ls.events(type="summary")[0]
    assert summary["gc"]["2"]["count"] >= 3
    assert summary["gc"]["stall_share_pct"] > 50


@pytest.mark.parametrize("find", [pytest.param(lambda: debian_system(DEBIAN_PY),
                                               id="debian-3.11")])
def test_gc_freeze_control_shows_far_less_gc(procs, find):
    require_root()
    python = find_or_skip(find)
    normal = run_gc(procs, python, "gc", "--objects", "800000", "--count", "3")
    frozen = run_gc(procs, python, "gc", "--objects", "800000", "--count", "3", "--freeze")
    gc_normal = normal.events(type="summary")[0]["gc"]["in_stalls_ms"]
    gc_frozen = frozen.events(type="summary")[0]["gc"]["in_stalls_ms"]
    assert gc_normal > 100
    assert gc_frozen < gc_normal / 10, (gc_normal, gc_frozen)


@pytest.mark.parametrize("find", USDT)
def test_slow_first_import_is_named(procs, find):
    require_root()
    python = find_or_skip(find)
    ls = run_gc(procs, python, "import", threshold="100")
    (st,) = ls.events(type="stall")
    mods = [m["module"] for m in st["imports"]["modules"]]
    assert "slow_first_import" in mods, st["imports"]
    assert st["imports"]["ms"] >= 140
    # the blocking line is the imported module's own top level; the handler's import
    # statement is below it on the stack
    assert st["where"]["file"].endswith("slow_first_import.py"), st["where"]
    funcs = [f["func"].split(".")[-1] for f in st["blocked"]["stack"]]
    assert "handler_import" in funcs, funcs


def test_no_usdt_and_no_symbol_says_gc_timing_unavailable(procs):
    require_root()
    python = find_or_skip(lambda: pyenv(8))
    ls = procs([LOOPSCOPE, "run", "-i", "0", "--", *target("sleep", python=python)])
    ls.wait_for(lambda o: "GC timing unavailable" in o.get("text", ""), timeout=60)
    assert ls.stop() == 0
    assert "GC timing: unavailable for this interpreter" in ls.stderr()


@pytest.mark.parametrize("find", [pytest.param(lambda: debian_fetched(13), id="debian-3.13"),
                                  pytest.param(lambda: debian_fetched(14), id="debian-3.14")])
def test_audit_names_the_blocking_call(procs, find):
    require_root()
    python = find_or_skip(find)
    ls = procs([LOOPSCOPE, "run", "--json", "-i", "0", "--audit", "--",
                *target("sleep", python=python)])
    ls.wait_for({"type": "summary"}, timeout=60)
    assert ls.stop() == 0, ls.stderr()
    assert ls.events(type="sources")[0]["audit"] == "usdt"
    stalls = ls.events(type="stall")
    assert len(stalls) == 5
    for st in stalls:
        assert st["offcpu"]["sleep"].get("audit") == "time.sleep", st["offcpu"]


def semaphores(binary):
    """Addresses of the python provider's USDT semaphores in an ET_EXEC binary."""
    out = subprocess.run(["readelf", "-n", binary], capture_output=True, text=True).stdout
    return {m.group(1): int(m.group(2), 16) for m in re.finditer(
        r"Name: (\w+)\n\s+Location: \S+, Base: \S+, Semaphore: (0x[0-9a-f]+)", out)}


def read_sems(pid, sems):
    vals = {}
    with open("/proc/%d/mem" % pid, "rb") as mem:
        for name, addr in sems.items():
            mem.seek(addr)
            vals[name] = int.from_bytes(mem.read(2), "little")
    return vals


def test_semaphores_back_to_zero_after_sigkill(procs):
    """While attached the target fires its probes; after loopscope dies it pays nothing."""
    require_root()
    sems = semaphores(DEBIAN_PY)
    wanted = {k: v for k, v in sems.items() if k in ("gc__start", "gc__done", "audit",
                                                       "import__find__load__start")}
    if len(wanted) < 4:
        pytest.skip("%s has no USDT semaphores" % DEBIAN_PY)
    tgt = procs(target("linger"))
    tgt.wait_for({"event": "serving"})
    assert set(read_sems(tgt.pid, wanted).values()) == {0}
    ls = procs([LOOPSCOPE, "attach", str(tgt.pid), "--json", "--audit"])
    ls.wait_for({"type": "sources"})
    attached = read_sems(tgt.pid, wanted)
    assert all(v > 0 for v in attached.values()), attached
    os.kill(ls.pid, signal.SIGKILL)
    ls.p.wait(10)
    end = time.monotonic() + 10
    while time.monotonic() < end and set(read_sems(tgt.pid, wanted).values()) != {0}:
        time.sleep(0.1)
    assert set(read_sems(tgt.pid, wanted).values()) == {0}
    assert tgt.p.poll() is None
