"""Loop accounting on real asyncio and uvloop programs (Debian's python3.11).

What a user checks: the stall was found, its cause and blocking syscall, its duration close
to what the program measured itself, and no stall where there is none.
"""
import socket

import pytest

from conftest import (DEBIAN_PY, LOOPSCOPE, SlowServer, attach, finish, has_uvloop,
                      require_root, target)

LOOPS = ["asyncio", "uvloop"]

# The stall spans the whole busy period (the blocking call plus the callback around it), so it
# is a little longer than the program's own measurement of the call, never shorter.
SLACK_MS = 15.0


@pytest.fixture(params=LOOPS)
def loop_kind(request):
    require_root()
    if request.param == "uvloop" and not has_uvloop():
        pytest.skip("python3-uvloop is not installed for %s" % DEBIAN_PY)
    return request.param


def truth(tgt, kind):
    return [e for e in tgt.events(event="blocked") if e["kind"] == kind]


def assert_close(stall, truth_ms):
    assert truth_ms - 1.0 <= stall["duration_ms"] <= truth_ms + SLACK_MS, (stall, truth_ms)


def test_sync_sleep_gives_exactly_five_sleep_stalls(procs, loop_kind):
    ls = procs([LOOPSCOPE, "run", "--json", "--",
                *target("sleep", uvloop=loop_kind == "uvloop")])
    summary = ls.wait_for({"type": "summary"}, timeout=30, what="summary")
    assert ls.stop() == 0, ls.stderr()
    stalls = ls.events(type="stall")
    blocked = [e for e in ls.lines if e.get("event") == "blocked"]
    assert len(blocked) == 5, ls.lines
    assert len(stalls) == 5, stalls
    assert summary["stalls"] == 5
    for st, gt in zip(stalls, blocked):
        assert st["cause"] == "sleep"
        assert st["offcpu"]["sleep"]["syscall"] == "clock_nanosleep"
        assert st["tid"] == gt["tid"]
        assert_close(st, gt["ms"])
        assert abs(st["offcpu"]["sleep"]["ms"] - gt["ms"]) < 5.0
    assert summary["by_cause"]["sleep"]["stalls"] == 5


def test_cpu_bound_callback_is_an_on_cpu_stall(procs, loop_kind):
    tgt = procs(target("cpu", "--wait", uvloop=loop_kind == "uvloop"))
    ls = attach(procs, tgt)
    finish(tgt, ls)
    (gt,) = truth(tgt, "cpu")
    stalls = ls.events(type="stall")
    assert len(stalls) == 1, stalls
    st = stalls[0]
    assert_close(st, gt["ms"])
    # on-CPU time covers what the thread measured with thread_time(), plus what interrupts
    # or the hypervisor took while it was current (no context switch); the rest of the wall
    # time is the scheduler's doing (preempted), never a blocking reason
    assert gt["cpu_ms"] * 0.95 - 5 <= st["oncpu_ms"] <= st["duration_ms"], (st, gt)
    assert set(st["offcpu"]) <= {"preempted"}, st["offcpu"]
    assert st["cause"] == ("cpu" if st["oncpu_ms"] >= st["duration_ms"] / 2 else "preempted")


def test_blocking_socket_recv_is_a_network_stall(procs, loop_kind):
    server = SlowServer(0.15)
    try:
        tgt = procs(target("socket", "--wait", "--port", str(server.port), "--count", "3",
                           uvloop=loop_kind == "uvloop"))
        ls = attach(procs, tgt)
        finish(tgt, ls)
    finally:
        server.close()
    blocked = truth(tgt, "net")
    stalls = ls.events(type="stall")
    assert len(stalls) == len(blocked) == 3, stalls
    for st, gt in zip(stalls, blocked):
        assert st["cause"] == "net"
        net = st["offcpu"]["net"]
        assert net["syscall"] in ("recvfrom", "read", "recvmsg")
        assert net["fd_kind"] == "TCP"
        assert net["peer"] == "127.0.0.1:%d" % server.port
        assert_close(st, gt["ms"])
        assert gt["ms"] >= 150


def test_healthy_loop_has_no_stalls_and_counts_iterations(procs, loop_kind):
    tgt = procs(target("healthy", "--seconds", "3", uvloop=loop_kind == "uvloop"))
    port = tgt.wait_for({"event": "serving"})["port"]
    ls = procs([LOOPSCOPE, "attach", str(tgt.pid), "--json", "--interval", "0.5"])
    ls.wait_for({"type": "attached"})
    requests = 200
    with socket.create_connection(("127.0.0.1", port)) as s:
        f = s.makefile("rwb")
        for i in range(requests):
            f.write(b"hello %d\n" % i)
            f.flush()
            assert f.readline() == b"hello %d\n" % i
    summary = ls.wait_for({"type": "summary"}, timeout=20)
    assert ls.stop() == 0, ls.stderr()
    assert ls.events(type="stall") == []
    assert summary["stalls"] == 0
    assert summary["loops"] == 1
    # every request needs at least one wakeup of the loop
    assert summary["iterations"] >= requests
    intervals = ls.events(type="interval")
    assert intervals, ls.lines
    for iv in intervals:
        assert iv["tid"] == tgt.events(event="start")[0]["tid"]
        assert 0 <= iv["busy_pct"] <= 100
        assert iv["p50_ms"] <= iv["p99_ms"] < 100
        assert iv["max_ms"] < 100
    assert max(iv["iter_per_s"] for iv in intervals) > 50


def test_loop_thread_started_later_is_found(procs, loop_kind):
    tgt = procs(target("second_thread", "--wait", uvloop=loop_kind == "uvloop"))
    ls = attach(procs, tgt)
    finish(tgt, ls)
    (gt,) = truth(tgt, "sleep")
    main_tid = tgt.events(event="start")[0]["tid"]
    assert gt["tid"] != main_tid
    stalls = ls.events(type="stall")
    assert [s["tid"] for s in stalls] == [gt["tid"]], stalls
    assert stalls[0]["cause"] == "sleep"
    assert_close(stalls[0], gt["ms"])
    summary = ls.events(type="summary")[0]
    assert summary["loops"] == 2


def test_raw_tracepoint_programs_give_the_same_stalls(procs):
    """The raw_tp twins, which kernels without BTF tracepoints get, account the same way."""
    require_root()
    ls = procs([LOOPSCOPE, "run", "--json", "--raw-tracepoints", "--", *target("sleep")])
    ls.wait_for({"type": "summary"}, timeout=30, what="summary")
    assert ls.stop() == 0, ls.stderr()
    blocked = [e for e in ls.lines if e.get("event") == "blocked"]
    stalls = ls.events(type="stall")
    assert len(stalls) == len(blocked) == 5, stalls
    for st, gt in zip(stalls, blocked):
        assert st["cause"] == "sleep"
        assert_close(st, gt["ms"])
