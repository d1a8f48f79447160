"""`loopscope record`: flamegraphs of real scenario programs name the culprit, with its weight.

The stall view's weight is milliseconds the loop was unavailable: the culprit's frame must
carry the stall time the same run's summary reports, within 5%.
"""
import os

import pytest

from conftest import DEBIAN_PY, LOOPSCOPE, TARGETS, SlowServer, require_root, target
from test_flame import go, pprof, top_rows  # noqa: F401  (go is a fixture)
from test_stacks import marker_lines

GC_TARGET = os.path.join(TARGETS, "gc_scenarios.py")


def record(procs, out, argv, *opts):
    ls = procs([LOOPSCOPE, "record", "--json", "-o", str(out), *opts, "--", *argv])
    summary = ls.wait_for({"type": "summary"}, timeout=120, what="summary")
    assert ls.stop() == 0, ls.stderr()
    assert "loopscope: wrote %s (stall view)" % out in ls.stderr()
    return summary


def folded(path):
    rows = []
    with open(path) as f:
        for line in f:
            stack, weight = line.rstrip("\n").rsplit(" ", 1)
            rows.append((stack.split(";"), float(weight)))
    return rows


def culprit_frames(rows, func, marker, script):
    lines = marker_lines(marker) if script == "loop_scenarios.py" else marker_lines_in(marker)
    return [(fr, w) for fr, w in rows
            if any(f.startswith(func + " (") and f.endswith("%s:%d)" % (script, ln))
                   for f in fr for ln in lines)]


def marker_lines_in(marker):
    with open(GC_TARGET) as f:
        return [i + 1 for i, text in enumerate(f) if "# @%s" % marker in text]


SCENARIOS = [
    ("sleep", "blocking_sleep", "sleep", "loop_scenarios.py"),
    ("cpu", "spin", "spin", "loop_scenarios.py"),
    ("socket", "fetch_blocking", "recv", "loop_scenarios.py"),
    ("gc", "handler_gc", "collect", "gc_scenarios.py"),
]


@pytest.mark.parametrize("scenario, func, marker, script", SCENARIOS,
                         ids=[s[0] for s in SCENARIOS])
def test_folded_heaviest_stack_is_the_culprit(procs, tmp_path, scenario, func, marker, script):
    require_root()
    out = tmp_path / "loop.folded"
    server = SlowServer(0.15) if scenario == "socket" else None
    try:
        if scenario == "gc":
            argv = [DEBIAN_PY, GC_TARGET, "gc", "--objects", "800000", "--count", "3"]
            summary = record(procs, out, argv, "-t", "20")
        elif scenario == "socket":
            summary = record(procs, out, target("socket", "--port", str(server.port)))
        else:
            summary = record(procs, out, target(scenario))
    finally:
        if server:
            server.close()
    rows = folded(out)
    assert rows, "empty flamegraph"
    heaviest = max(rows, key=lambda r: r[1])
    assert culprit_frames([heaviest], func, marker, script), heaviest
    weight = sum(w for _, w in culprit_frames(rows, func, marker, script))
    assert summary["stall_ms"] > 100
    assert abs(weight - summary["stall_ms"]) <= 0.05 * summary["stall_ms"], \
        (weight, summary["stall_ms"])


def test_pprof_loads_in_go_pprof_with_the_same_top(procs, tmp_path, go):  # noqa: F811
    require_root()
    out = tmp_path / "loop.pb.gz"
    record(procs, out, target("sleep"))
    rows = top_rows(pprof(go, str(out), "-top", tmp_path=tmp_path))
    assert rows and rows[0][1] == "blocking_sleep", rows[:3]


@pytest.mark.parametrize("view", ["cpu", "offcpu", "wall"])
def test_other_views(procs, tmp_path, view):
    require_root()
    out = tmp_path / ("loop-%s.folded" % view)
    ls = procs([LOOPSCOPE, "record", "--view", view, "-o", str(out), "--",
                *target("cpu" if view == "cpu" else "sleep")])
    ls.wait_for(lambda o: o.get("event") == "done", timeout=60)
    assert ls.p.wait(30) == 0, ls.stderr()
    rows = folded(out)
    assert rows
    if view == "cpu":
        heaviest = max(rows, key=lambda r: r[1])
        assert heaviest[0][-1].startswith("spin ("), heaviest
    elif view == "offcpu":
        assert all(fr[0] in ("sleep", "preempted") for fr, _ in rows), rows
        assert max(rows, key=lambda r: r[1])[0][0] == "sleep"
    else:
        roots = {fr[0] for fr, _ in rows}
        assert "[idle: waiting in the selector]" in roots, roots


def test_record_of_a_running_process_is_bounded(procs, tmp_path):
    require_root()
    tgt = procs(target("linger"))
    tgt.wait_for({"event": "serving"})
    out = tmp_path / "loop.svg"
    ls = procs([LOOPSCOPE, "record", str(tgt.pid), "-d", "2", "-o", str(out)])
    assert ls.p.wait(30) == 0, ls.stderr()
    assert out.read_text().startswith("<?xml") or "<svg" in out.read_text()[:500]
    assert tgt.p.poll() is None
