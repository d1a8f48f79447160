"""Reliability under faults: targets that exec, exit mid-stall, fork, flood the profiler, run
1,000 threads, churn loop threads or live in their own PID namespace; and loopscope itself
SIGKILLed at random points. Whatever happens, loopscope ends cleanly (or dies without leaving
anything attached) and the target is unharmed.

The binary under test is conftest.LOOPSCOPE, read at call time (scripts/sanitize-test.sh
points it at a sanitized build). Timing-dependent effects on the target (throughput, rate)
are printed as a report and only gross harm is asserted.
"""
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import threading
import time

import pytest

from conftest import prog_ids_of, wait_progs_gone

import conftest
from conftest import DEBIAN_PY, TARGETS, require_root, requires_bpftool

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FAULT = os.path.join(TARGETS, "fault_target.py")
SCENARIOS = os.path.join(TARGETS, "loop_scenarios.py")
PYROOT = os.environ.get("LOOPSCOPE_PYROOT", os.path.join(REPO, ".cache", "pyroot"))


def fault(scenario, *args):
    return [DEBIAN_PY, FAULT, scenario, *args]


def ls_argv(*args):
    return [conftest.LOOPSCOPE, *args]


def sanitized():
    try:
        with open(conftest.LOOPSCOPE, "rb") as f:
            return b"__asan_init" in f.read()
    except OSError:
        return False


def rss_limit_mb():
    """64 MB, or what LOOPSCOPE_RSS_LIMIT_MB says; ASan's shadow and quarantine need more."""
    env = os.environ.get("LOOPSCOPE_RSS_LIMIT_MB")
    if env:
        return float(env)
    return 768.0 if sanitized() else 64.0


def rss_mb(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return None


def summary_of(ls):
    sums = ls.events(type="summary")
    assert len(sums) == 1, (ls.lines[-5:], ls.stderr())
    return sums[0]


# ---- BPF programs of one loopscope process ----

# ---- the target side ----

def echo_rate(port, secs=1.0):
    """Echo round trips per second over loopback, one connection, one line at a time."""
    n = 0
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        f = s.makefile("rb")
        end = time.monotonic() + secs
        while time.monotonic() < end:
            s.sendall(b"ping\n")
            assert f.readline() == b"ping\n"
            n += 1
    return n / secs


def host_child(pid, timeout=10.0):
    """The only child of pid (unshare --fork's child: the target, by its host PID)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
                kids = [int(x) for x in f.read().split()]
        except OSError:
            kids = []
        if kids:
            return kids[0]
        time.sleep(0.05)
    raise AssertionError("process %d has no child" % pid)


def proc_state(pid):
    """State, wchan and kernel stack of a process, for failure messages."""
    out = []
    for name in ("wchan", "stack"):
        try:
            with open("/proc/%d/%s" % (pid, name)) as f:
                out.append("%s: %s" % (name, f.read().strip().replace("\n", " | ")))
        except OSError as e:
            out.append("%s: %s" % (name, e))
    try:
        with open("/proc/%d/status" % pid) as f:
            out += [line.strip() for line in f if line.startswith(("State", "Threads"))]
    except OSError as e:
        out.append(str(e))
    return "; ".join(out)


def exe_name(pid):
    try:
        return os.path.basename(os.readlink("/proc/%d/exe" % pid))
    except OSError:
        return None


def start_attached(procs, pid, *extra):
    ls = procs(ls_argv("attach", str(pid), "--json", *extra))
    ls.wait_for({"type": "attached"}, what="attached")
    return ls


def finish_ls(ls, sig=signal.SIGINT):
    rc = ls.stop(sig)
    assert rc == 0, "loopscope exited %s: %s" % (rc, ls.stderr()[-2000:])
    return summary_of(ls)


# ---- target lifecycle ----

@requires_bpftool
def test_target_execs_another_program(procs):
    """The loop thread execs /bin/sleep: same PID, no Python any more. loopscope keeps
    following the process to the end of --duration and reports what it had."""
    require_root()
    tgt = procs(fault("exec", "--seconds", "30"))
    port = tgt.wait_for({"event": "waiting"})["port"]
    assert echo_rate(port, 0.2) > 0
    ls = start_attached(procs, tgt.pid, "-i", "0.5", "-d", "3")
    ids = prog_ids_of(ls.pid)
    time.sleep(0.3)
    os.kill(tgt.pid, signal.SIGUSR1)
    tgt.wait_for({"event": "exec"}, what="exec")
    ls.wait_for({"type": "summary"}, timeout=20, what="summary")
    summary = finish_ls(ls)
    assert summary["end"] == "duration reached", summary
    assert summary["loops"] == 1, summary
    assert summary["iterations"] > 0, summary
    # the target survived, as /bin/sleep
    assert tgt.p.poll() is None, "the target died"
    assert exe_name(tgt.pid) in ("sleep", "coreutils"), exe_name(tgt.pid)
    stalls = ls.events(type="stall")
    print("exec: summary %s; stalls after exec: %s" % (
        {k: summary[k] for k in ("loops", "iterations", "stalls")},
        [(s["duration_ms"], s["cause"], s.get("ongoing")) for s in stalls]))
    assert wait_progs_gone(ids, [ls.pid]) == {}
    if stalls:
        # the loop never blocked before the exec: any stall is the new program's doing
        pytest.xfail("after the exec the loop is gone, yet /bin/sleep's nanosleep is reported "
                     "as an ongoing %s stall of %.0f ms: nothing handles exec "
                     "(sched_process_exec in BPF, re-finding the interpreter in userspace)" % (
                         stalls[-1]["cause"], stalls[-1]["duration_ms"]))


@requires_bpftool
def test_target_exits_in_the_middle_of_a_stall(procs):
    require_root()
    tgt = procs(fault("exit"))
    tgt.wait_for({"event": "waiting"})
    ls = start_attached(procs, tgt.pid, "-i", "0.5")
    ids = prog_ids_of(ls.pid)
    time.sleep(0.3)
    os.kill(tgt.pid, signal.SIGUSR1)
    blocked = tgt.wait_for({"event": "blocked"})
    tgt.wait_for({"event": "exiting"})
    try:
        ls.wait_for({"type": "summary"}, timeout=20, what="summary")
    except AssertionError as e:
        raise AssertionError("%s\n-- target: %s; loopscope: %s" % (
            e, "exited %s" % tgt.p.poll() if tgt.p.poll() is not None else
            "still running (%s)" % proc_state(tgt.pid), proc_state(ls.pid))) from None
    summary = finish_ls(ls)
    assert summary["end"] == "target exited", summary
    assert tgt.p.wait(10) == 7, "the target's own exit status changed"
    stalls = ls.events(type="stall")
    done = [s for s in stalls if not s.get("ongoing") and s["tid"] == blocked["tid"] and
            abs(s["duration_ms"] - blocked["ms"]) < 40]
    assert done, ("the complete stall before the exit is missing", blocked, stalls)
    print("exit: stalls %s" % [(round(s["duration_ms"]), s["cause"], s.get("ongoing"))
                               for s in stalls])
    assert wait_progs_gone(ids, [ls.pid]) == {}


@requires_bpftool
def test_target_forks_workers_with_their_own_loops(procs):
    """Forked children are other processes: their loops and stalls are not the target's."""
    require_root()
    tgt = procs(fault("fork", "--workers", "3", "--seconds", "30"))
    port = tgt.wait_for({"event": "waiting"})["port"]
    ls = start_attached(procs, tgt.pid, "-i", "0.5")
    ids = prog_ids_of(ls.pid)
    time.sleep(0.3)
    os.kill(tgt.pid, signal.SIGUSR1)
    kids = tgt.wait_for({"event": "forked"})["pids"]
    blocked = tgt.wait_for({"event": "blocked"}, timeout=10)
    tgt.wait_for({"event": "done"}, timeout=20)
    time.sleep(0.3)
    summary = finish_ls(ls)
    assert summary["end"] == "interrupted", summary
    assert summary["loops"] == 1, summary
    child_stalls = tgt.events(event="child_blocked")
    assert len(tgt.events(event="child_done")) == 3, "a worker did not survive: %r" % tgt.lines
    child_tids = {c["tid"] for c in child_stalls} | set(kids)
    stalls = ls.events(type="stall")
    assert not [s for s in stalls if s["tid"] in child_tids], ("a child's stall was reported "
                                                               "as the target's", stalls)
    assert [s for s in stalls if s["tid"] == blocked["tid"] and
            abs(s["duration_ms"] - blocked["ms"]) < 40], (blocked, stalls)
    assert tgt.p.poll() is None and echo_rate(port, 0.2) > 0, "the target stopped serving"
    assert wait_progs_gone(ids, [ls.pid]) == {}


# ---- loopscope killed at random points ----

KILLS = 50


@requires_bpftool
def test_sigkill_at_random_points_leaves_nothing_behind(procs):
    """SIGKILL loopscope 50 times (while attaching, during a stall, while printing) against one
    long-running target: nothing stays loaded, the target keeps its throughput."""
    require_root()
    seed = int(os.environ.get("LOOPSCOPE_FAULT_SEED", random.randrange(1 << 30)))
    rng = random.Random(seed)
    tgt = procs(fault("serve", "--stall", "0.15"))
    port = tgt.wait_for({"event": "serving"})["port"]
    echo_rate(port, 0.3)  # warm up
    before = max(echo_rate(port, 0.75) for _ in range(2))   # best of two: less noise
    t0 = time.monotonic()
    phases = {"attach": 0, "stall": 0, "output": 0, "killed before attached": 0}
    leaks = []
    for i in range(KILLS):
        phase = ("attach", "stall", "output")[i % 3]
        phases[phase] += 1
        if phase == "attach":
            ls = procs(ls_argv("attach", str(tgt.pid), "--json", "-i", "0.2"))
            time.sleep(rng.uniform(0.0, 0.09))    # loading takes ~0.1 s
        elif phase == "stall":
            ls = start_attached(procs, tgt.pid, "-i", "0.2", "-t", "20")
            os.kill(tgt.pid, signal.SIGUSR1)
            time.sleep(rng.uniform(0.0, 0.2))
        else:
            # while it prints: right after the first line of a stall report or an interval
            ls = start_attached(procs, tgt.pid, "-i", "0.1", "-t", "20")
            os.kill(tgt.pid, signal.SIGUSR1)
            ls.wait_for(lambda o: o.get("type") in ("stall", "interval"), what="output")
            time.sleep(rng.uniform(0.0, 0.02))
        ids = prog_ids_of(ls.pid)
        os.kill(ls.pid, signal.SIGKILL)
        if phase == "attach" and not ls.events(type="attached"):
            phases["killed before attached"] += 1
        assert ls.p.wait(10) == -signal.SIGKILL, "loopscope exited before SIGKILL (%s): %s" % (
            ls.p.returncode, ls.stderr()[-1000:])
        left = wait_progs_gone(ids, [ls.pid], timeout=10)
        if left:
            leaks.append((i, phase, left))
        assert tgt.p.poll() is None, "the target died at kill %d (%s)" % (i, phase)
    elapsed = time.monotonic() - t0
    after = max(echo_rate(port, 0.75) for _ in range(2))
    print("sigkill x%d (seed %d, %s) in %.1f s; echo throughput %.0f/s before, %.0f/s after "
          "(%+.1f%%)" % (KILLS, seed, phases, elapsed, before, after,
                          100.0 * (after - before) / before))
    assert not leaks, "BPF programs left behind: %r" % leaks
    assert tgt.p.poll() is None, "the target died"
    assert after > 0.5 * before, "target throughput fell from %.0f/s to %.0f/s" % (before, after)


# ---- floods and crowds ----

class Drain:
    """loopscope with its stdout drained fast (a flood prints tens of thousands of lines per
    second): counts lines, keeps the tail."""

    def __init__(self, argv):
        self.p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.lines = 0
        self.tail = b""
        self.err = b""
        self.attached = threading.Event()
        self.t = threading.Thread(target=self._out, daemon=True)
        self.t.start()
        threading.Thread(target=self._err, daemon=True).start()

    def _out(self):
        fd = self.p.stdout.fileno()
        while True:
            b = os.read(fd, 1 << 20)
            if not b:
                return
            self.lines += b.count(b"\n")
            self.tail = (self.tail + b)[-(1 << 16):]
            if not self.attached.is_set() and b'"type":"attached"' in self.tail:
                self.attached.set()

    def _err(self):
        self.err = self.p.stderr.read()

    def last(self, kind):
        for line in reversed(self.tail.split(b"\n")):
            if b'"type":"%s"' % kind.encode() in line:
                return json.loads(line)
        return None

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()


def rate_events(tgt, start=0):
    return [o["per_s"] for o in tgt.lines[start:] if o.get("event") == "rate"]


@requires_bpftool
def test_ring_buffer_flood(procs):
    """Thousands of tiny stalls per second (-t 0.01 against 30 us iterations): loopscope keeps
    its memory bounded, says what it dropped, and exits 0; the target keeps running."""
    require_root()
    tgt = procs(fault("flood", "--seconds", "60", "--spin-us", "30"))
    tgt.wait_for({"event": "serving"})
    tgt.wait_for(lambda o: len(rate_events(tgt)) >= 3, timeout=10, what="3 rate lines")
    baseline = sum(rate_events(tgt)[1:3]) / 2
    mark = len(tgt.lines)
    ls = Drain(ls_argv("attach", str(tgt.pid), "--json", "-t", "0.01", "-i", "1", "-d", "5"))
    rss = []
    try:
        end = time.monotonic() + 45
        while ls.p.poll() is None and time.monotonic() < end:
            r = rss_mb(ls.p.pid)
            if r is not None:
                rss.append(r)
            time.sleep(0.2)
        assert ls.p.poll() is not None, "loopscope did not stop at --duration under the flood"
        ls.t.join(10)
    finally:
        ls.kill()
    during = rate_events(tgt, mark)
    summary = ls.last("summary")
    assert ls.p.returncode == 0, (ls.p.returncode, ls.err[-2000:])
    assert summary is not None, ("no summary", ls.tail[-2000:])
    assert isinstance(summary.get("dropped"), dict), summary
    assert summary["end"] == "duration reached", summary
    peak = max(rss) if rss else 0
    rate = sum(during[1:]) / max(len(during) - 1, 1) if during else 0
    print("flood: %d lines, stalls %d, dropped %s, loopscope peak RSS %.1f MB; target %.0f "
          "it/s before, %.0f it/s during (%.0f%%)" % (
              ls.lines, summary["stalls"], summary["dropped"], peak, baseline, rate,
              100.0 * rate / baseline if baseline else 0))
    assert summary["stalls"] >= 1000, summary
    assert peak < rss_limit_mb(), "loopscope RSS %.1f MB" % peak
    assert tgt.p.poll() is None, "the target died"
    assert rate > 0.2 * baseline, "target slowed from %.0f to %.0f it/s" % (baseline, rate)


@requires_bpftool
def test_thousand_threads_eight_loops(procs):
    """1,000 threads, 8 of them event loops, each stalling for its own duration: 8 loops, and
    every stall on the thread that stalled."""
    require_root()
    tgt = procs(fault("threads", "--threads", "1000", "--loops", "8", "--seconds", "60"))
    w = tgt.wait_for({"event": "waiting"}, timeout=60)
    assert w["os_threads"] >= 1000, w
    ls = start_attached(procs, tgt.pid, "-i", "0.5")
    ids = prog_ids_of(ls.pid)
    time.sleep(0.5)
    os.kill(tgt.pid, signal.SIGUSR1)
    tgt.wait_for({"event": "done"}, timeout=30)
    time.sleep(0.3)
    summary = finish_ls(ls)
    blocked = tgt.events(event="blocked")
    assert len(blocked) == 8
    assert summary["loops"] == 8, summary
    assert summary["dropped"]["threads_table_full"] == 0, summary
    stalls = [s for s in ls.events(type="stall") if s["duration_ms"] >= 80]
    assert len(stalls) == 8, [(s["tid"], s["duration_ms"]) for s in stalls]
    with_stack = 0
    for s in stalls:
        truth = min(blocked, key=lambda b: abs(b["ms"] - s["duration_ms"]))
        assert abs(truth["ms"] - s["duration_ms"]) < 15, (s["duration_ms"], blocked)
        assert s["tid"] == truth["tid"], ("stall of loop %d on the wrong thread" % truth["i"],
                                          s["tid"], truth)
        if "where" in s:
            with_stack += 1
            assert s["where"]["func"].split(".")[-1] == "blocking_stall", s["where"]
    print("threads: 8 loops among %d threads; %d/8 stalls with a Python stack" % (
        w["os_threads"], with_stack))
    assert tgt.p.poll() is None, "the target died"
    assert wait_progs_gone(ids, [ls.pid]) == {}
    py = ls.events(type="python")
    if py and py[0]["stacks"] and with_stack < 8:
        # everything above holds; what is left is a known limit of the BPF walker
        pytest.xfail("%d/8 stalls have no Python stack: the loop threads' states sit behind "
                     "~1,000 others and bpf/pystack.bpf.h looks at only PY_THREAD_WALK (512) "
                     "of them (pyoffsets.h promises PY_MAX_THREADS, 4096)" % (8 - with_stack))


@requires_bpftool
def test_loop_threads_come_and_go(procs):
    """Short-lived loop threads, one per millisecond or so, until more than 4,096 have come
    and gone (beyond every table size in loopscope): it stays up, its memory stays bounded, no
    kernel thread slot leaks, and loops started late are still reported."""
    require_root()
    tgt = procs(fault("churn", "--seconds", "120", "--every", "0.001"))
    main_tid = tgt.wait_for({"event": "serving"})["tid"]
    ls = start_attached(procs, tgt.pid, "-i", "0.5")
    ids = prog_ids_of(ls.pid)
    rss = []
    churned = 0
    end = time.monotonic() + 25
    while time.monotonic() < end and churned < CHURN:
        assert ls.p.poll() is None, "loopscope exited: %s" % ls.stderr()[-2000:]
        rss.append(rss_mb(ls.pid) or 0)
        time.sleep(0.25)
        churned = max([o["started"] for o in tgt.events(event="churn")] or [0])
    mark = len(ls.lines)
    time.sleep(2.0)     # loops started from now on must still show up
    churned = max([o["started"] for o in tgt.events(event="churn")] or [0])
    summary = finish_ls(ls)
    late = {o["tid"] for o in ls.lines[mark:] if o.get("type") == "interval"} - {main_tid}
    print("churn: %d loop threads started; loops in the summary %d; RSS peak %.1f MB; "
          "loops reported in the last 2 s besides the main one: %d; dropped %s" % (
              churned, summary["loops"], max(rss), len(late), summary["dropped"]))
    assert churned >= 2000, "the target churned only %d threads" % churned
    assert summary["loops"] >= 1000, summary
    assert summary["dropped"]["threads_table_full"] == 0, summary
    assert max(rss) < rss_limit_mb(), rss
    assert tgt.p.poll() is None, "the target died"
    assert wait_progs_gone(ids, [ls.pid]) == {}
    # every thread the target started after the attach ran a loop: the summary counts them
    if summary["loops"] < 0.9 * churned and summary["loops"] == 4096:
        pytest.xfail("%d loop threads, %d in the summary: past 4,096 new loops are no longer "
                     "reported (user/stats.c snap_get() keeps a slot for every loop thread "
                     "ever seen and refuses new ones past MAX_THREADS)" % (churned,
                                                                           summary["loops"]))
    assert summary["loops"] >= 0.9 * churned, (summary["loops"], churned)
    assert late, "no loop thread started in the last 2 s was reported"


CHURN = 4600


# ---- a target in its own PID and mount namespaces ----

def marker_lines(path, name):
    with open(path) as f:
        lines = [i + 1 for i, text in enumerate(f) if "# @%s" % name in text]
    assert lines, name
    return lines


def check_deep_stack(stall, path, basename):
    chain = [("deep_c", "deep_c"), ("deep_b", "deep_b"), ("deep_a", "deep_a"),
             ("handler_deep", "handler_deep")]
    assert stall["where"]["from"] == "blocked", stall
    user = [f for f in stall["blocked"]["stack"] if not f["library"]]
    assert len(user) >= len(chain), stall["blocked"]["stack"]
    for frame, (func, marker) in zip(user, chain):
        assert frame["func"].split(".")[-1] == func, (frame, func)
        assert frame["line"] in marker_lines(path, marker), (frame, marker)
        assert frame["file"].endswith(basename), frame


def pidns_target(kind):
    """argv running loop_scenarios.py deep --wait in new PID and mount namespaces, the
    scenario file as the target sees it, and a cleanup function; or pytest.skip."""
    if kind == "debian-3.11":
        if not shutil.which("unshare"):
            pytest.skip("no unshare(1)")
        argv = ["unshare", "--pid", "--fork", "--mount-proc", DEBIAN_PY, SCENARIOS, "deep",
                "--wait"]
        return argv, SCENARIOS, lambda: None
    py = os.path.join(PYROOT, "usr", "bin", "python3.14")
    if not os.access(py, os.X_OK):
        pytest.skip("python3.14 is not in %s (run scripts/fetch-pythons.sh 3.14)" % PYROOT)
    name = "ls_faults_%d_loop_scenarios.py" % os.getpid()
    inside = os.path.join(PYROOT, "tmp", name)
    shutil.copy(SCENARIOS, inside)
    argv = [os.path.join(REPO, "scripts", "pyroot-chroot.sh"), "--pidns", "3.14",
            "/tmp/" + name, "deep", "--wait"]
    return argv, inside, lambda: os.unlink(inside)


@requires_bpftool
@pytest.mark.parametrize("kind", ["debian-3.11", "debian-3.14-chroot"])
def test_target_in_its_own_pid_namespace(procs, kind):
    """Attached from the host by its host PID: stalls carry the right files and lines, and
    the host TID of the loop thread."""
    require_root()
    argv, path, cleanup = pidns_target(kind)
    try:
        tgt = procs(argv)
        w = tgt.wait_for({"event": "waiting"}, timeout=30)
        assert w["pid"] == 1, "not in a new PID namespace: %r" % w
        host = host_child(tgt.pid)
        ls = start_attached(procs, host, "-i", "0.5")
        ids = prog_ids_of(ls.pid)
        time.sleep(0.3)
        os.kill(host, signal.SIGUSR1)
        tgt.wait_for({"event": "done"}, timeout=30)
        ls.wait_for({"type": "summary"}, timeout=20, what="summary (target exit)")
        summary = finish_ls(ls)
        py = ls.events(type="python")
        assert py and py[0]["stacks"], (py, ls.stderr())
        stalls = ls.events(type="stall")
        assert len(stalls) == 3, stalls
        for st in stalls:
            assert st["tid"] == host, (st["tid"], host)
            check_deep_stack(st, path, os.path.basename(path))
        assert summary["end"] == "target exited", summary
        assert tgt.p.wait(10) == 0, "the target failed: %s" % tgt.stderr()[-1000:]
        assert wait_progs_gone(ids, [ls.pid]) == {}
    finally:
        cleanup()
