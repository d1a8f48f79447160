"""Stall reports name the Python code that held the loop, on every supported interpreter.

Each scenario's blocking line carries a "# @marker" comment in tests/targets/loop_scenarios.py;
the stall's headline ("where") and its stack must point at those lines, innermost first.
"""
import glob
import os

import pytest

from conftest import (DEBIAN_PY, LOOPSCOPE, TARGETS, SlowServer, attach, finish, has_uvloop,
                      require_root, target)
from interpreters import INTERPRETERS, find_or_skip

SCENARIO_FILE = os.path.join(TARGETS, "loop_scenarios.py")


def marker_lines(name):
    with open(SCENARIO_FILE) as f:
        lines = [i + 1 for i, text in enumerate(f) if "# @%s" % name in text]
    assert lines, "no # @%s marker" % name
    return lines


def frame_is(frame, func, marker):
    return (frame["func"].split(".")[-1] == func and frame["line"] in marker_lines(marker) and
            frame["file"].endswith("loop_scenarios.py"))


def run_scenario(procs, python, scenario, *args, uvloop=False):
    ls = procs([LOOPSCOPE, "run", "--json", "-i", "0", "--",
                *target(scenario, *args, python=python, uvloop=uvloop)])
    ls.wait_for({"type": "summary"}, timeout=60, what="summary")
    assert ls.stop() == 0, ls.stderr()
    py = ls.events(type="python")
    assert py and py[0]["stacks"], (py, ls.stderr())
    return ls


def check_blocked(stall, chain):
    """chain: [(func, marker)...] innermost first, as the blocked stack must start."""
    assert stall["where"]["from"] == "blocked", stall
    assert frame_is(stall["where"], *chain[0]), stall["where"]
    stack = stall["blocked"]["stack"]
    user = [f for f in stack if not f["library"]]
    assert len(user) >= len(chain), stack
    for frame, (func, marker) in zip(user, chain):
        assert frame_is(frame, func, marker), (frame, func, marker_lines(marker))


@pytest.fixture(params=INTERPRETERS)
def python(request):
    require_root()
    return find_or_skip(request.param)


def test_sleep_stalls_name_the_sleeping_line(procs, python):
    ls = run_scenario(procs, python, "sleep")
    stalls = ls.events(type="stall")
    assert len(stalls) == 5, stalls
    for i, st in enumerate(stalls):
        assert st["cause"] == "sleep"
        assert st["blocked"]["syscall"] in ("clock_nanosleep", "select", "pselect6", "nanosleep")
        check_blocked(st, [("blocking_sleep", "sleep"), ("timed", "timed")])
        assert st["task"] == {"name": "sleep-%d" % i, "coro": "handler_sleep"}, st.get("task")


def test_block_three_frames_below_the_handler(procs, python):
    ls = run_scenario(procs, python, "deep")
    stalls = ls.events(type="stall")
    assert len(stalls) == 3, stalls
    for i, st in enumerate(stalls):
        check_blocked(st, [("deep_c", "deep_c"), ("deep_b", "deep_b"), ("deep_a", "deep_a"),
                           ("handler_deep", "handler_deep")])
        assert st["task"] == {"name": "deep-%d" % i, "coro": "handler_deep"}, st.get("task")


def test_cpu_stall_samples_name_the_loop(procs, python):
    ls = run_scenario(procs, python, "cpu")
    (st,) = ls.events(type="stall")
    assert st["samples"] >= 5, st
    assert st["where"]["from"] == "on-CPU"
    assert frame_is(st["where"], "spin", "spin"), st["where"]
    top = st["oncpu_stacks"][0]["stack"]
    assert frame_is(top[0], "spin", "spin"), top
    assert st["task"] == {"name": "crunch", "coro": "handler_cpu"}, st.get("task")


def test_socket_stalls_name_the_recv(procs, python):
    server = SlowServer(0.15)
    try:
        ls = run_scenario(procs, python, "socket", "--port", str(server.port))
    finally:
        server.close()
    stalls = ls.events(type="stall")
    assert len(stalls) == 3, stalls
    for i, st in enumerate(stalls):
        assert st["cause"] == "net"
        check_blocked(st, [("fetch_blocking", "recv"), ("timed", "timed")])
        assert st["task"] == {"name": "fetch-%d" % i, "coro": "handler_fetch"}, st.get("task")


@pytest.mark.parametrize("scenario", ["sleep", "deep"])
def test_uvloop_gives_the_same_attribution(procs, scenario):
    require_root()
    if not has_uvloop():
        pytest.skip("python3-uvloop is not installed for %s" % DEBIAN_PY)
    ls = run_scenario(procs, DEBIAN_PY, scenario, uvloop=True)
    stalls = ls.events(type="stall")
    assert len(stalls) == (5 if scenario == "sleep" else 3), stalls
    for i, st in enumerate(stalls):
        if scenario == "sleep":
            check_blocked(st, [("blocking_sleep", "sleep"), ("timed", "timed")])
        else:
            check_blocked(st, [("deep_c", "deep_c"), ("deep_b", "deep_b")])
        assert st["task"]["name"] == "%s-%d" % (scenario, i), st.get("task")


def test_attach_to_running_loop_gets_stacks(procs):
    """Attaching later (not `run`) finds the interpreter of a live process at once."""
    require_root()
    tgt = procs(target("deep", "--wait"))
    ls = attach(procs, tgt)
    finish(tgt, ls)
    stalls = ls.events(type="stall")
    assert len(stalls) == 3
    for st in stalls:
        check_blocked(st, [("deep_c", "deep_c"), ("deep_b", "deep_b")])


def test_unsupported_interpreter_still_reports_stalls(procs):
    require_root()
    found = sorted(glob.glob("/root/.pyenv/versions/3.7.*/bin/python3.7"))
    if not found:
        pytest.skip("pyenv 3.7 (an unsupported interpreter) is not installed")
    ls = procs([LOOPSCOPE, "run", "--json", "-i", "0", "--", *target("sleep", python=found[-1])])
    ls.wait_for({"type": "summary"}, timeout=60)
    assert ls.stop() == 0, ls.stderr()
    (py,) = ls.events(type="python")
    assert py["stacks"] is False
    assert "3.7" in py["reason"] and "not supported" in py["reason"], py
    stalls = ls.events(type="stall")
    assert len(stalls) == 5 and all(s["cause"] == "sleep" for s in stalls)
    assert all("where" not in s for s in stalls)
