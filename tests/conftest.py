"""Shared helpers: run real target programs and a real loopscope against them."""
import glob
import json
import os
import queue
import shutil
import signal
import socket
import subprocess
import threading
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LOOPSCOPE = os.environ.get("LOOPSCOPE_BIN") or os.path.join(ROOT, "loopscope")
TARGETS = os.path.join(ROOT, "tests", "targets")
DEBIAN_PY = "/usr/bin/python3.11"


def require_root():
    if os.geteuid() != 0:
        pytest.skip("needs root: loads BPF programs")


@pytest.fixture(autouse=True)
def _built():
    if not os.access(LOOPSCOPE, os.X_OK):
        pytest.fail("loopscope is not built: run `make` first")


def has_uvloop(python=DEBIAN_PY):
    return subprocess.run([python, "-c", "import uvloop"], capture_output=True).returncode == 0


class Proc:
    """A child process whose stdout JSON lines are collected by a reader thread."""

    def __init__(self, argv, **kw):
        self.argv = argv
        self.p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True, **kw)
        self.lines = []
        self.q = queue.Queue()
        self.err = []
        threading.Thread(target=self._read, args=(self.p.stdout, True), daemon=True).start()
        threading.Thread(target=self._read, args=(self.p.stderr, False), daemon=True).start()

    def _read(self, f, out):
        for line in f:
            if not out:
                self.err.append(line)
                continue
            try:
                obj = json.loads(line)
            except ValueError:
                obj = {"text": line.rstrip("\n")}
            self.lines.append(obj)
            self.q.put(obj)

    @property
    def pid(self):
        return self.p.pid

    def wait_for(self, pred, timeout=15.0, what="event"):
        """Wait for a stdout object matching pred (a dict of key=value or a callable)."""
        if isinstance(pred, dict):
            want = pred
            pred = lambda o: all(o.get(k) == v for k, v in want.items())  # noqa: E731
        for o in list(self.lines):
            if pred(o):
                return o
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                o = self.q.get(timeout=0.1)
            except queue.Empty:
                if self.p.poll() is not None and self.q.empty():
                    break
                continue
            if pred(o):
                return o
        raise AssertionError("no %s from %s within %.0f s; stdout=%r stderr=%r" % (
            what, self.argv[:3], timeout, self.lines[-10:], "".join(self.err)[-2000:]))

    def events(self, **kw):
        return [o for o in self.lines if all(o.get(k) == v for k, v in kw.items())]

    def stop(self, sig=signal.SIGINT, timeout=20.0):
        if self.p.poll() is None:
            self.p.send_signal(sig)
        try:
            self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
            raise AssertionError("%s did not exit on signal %d" % (self.argv[:2], sig))
        time.sleep(0.1)  # let the reader threads drain the pipes
        return self.p.returncode

    def stderr(self):
        return "".join(self.err)

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()


def target(scenario, *args, python=DEBIAN_PY, uvloop=False):
    argv = [python, os.path.join(TARGETS, "loop_scenarios.py"), scenario, *args]
    if uvloop:
        argv.append("--uvloop")
    return argv


def loopscope(*args):
    return Proc([LOOPSCOPE, *args])


@pytest.fixture
def procs():
    """Processes started by a test, killed at its end whatever happens."""
    started = []

    def start(argv, **kw):
        p = Proc(argv, **kw)
        started.append(p)
        return p

    yield start
    for p in reversed(started):
        p.kill()


def attach(procs, tgt, *extra):
    """Attach loopscope --json to a waiting target, then let the target's bug fire."""
    tgt.wait_for({"event": "waiting"}, what="target ready")
    ls = procs([LOOPSCOPE, "attach", str(tgt.pid), "--json", *extra])
    ls.wait_for({"type": "attached"}, what="attached")
    time.sleep(0.3)  # the first records are in flight: seeding finds the parked loop
    os.kill(tgt.pid, signal.SIGUSR1)
    return ls


def finish(tgt, ls, timeout=20.0):
    """Wait for the target to finish its scenario and loopscope to print its summary."""
    tgt.wait_for({"event": "done"}, timeout=timeout, what="target done")
    summary = ls.wait_for({"type": "summary"}, timeout=timeout, what="summary")
    assert ls.stop() == 0, ls.stderr()
    return summary


class SlowServer:
    """A TCP server on loopback that answers each line after `delay` seconds."""

    def __init__(self, delay):
        self.delay = delay
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._one, args=(c,), daemon=True).start()

    def _one(self, c):
        with c:
            if c.recv(100):
                time.sleep(self.delay)
                c.sendall(b"pong\n")

    def close(self):
        self.sock.close()


def prog_ids_of(pid):
    """IDs of the BPF programs process pid holds (program and link fds, from fdinfo)."""
    ids = set()
    for path in glob.glob("/proc/%d/fdinfo/*" % pid):
        try:
            with open(path) as f:
                for line in f:
                    if line.startswith("prog_id:"):
                        ids.add(int(line.split()[1]))
        except (OSError, ValueError):
            continue
    return ids


def loaded_progs():
    out = subprocess.run(["bpftool", "-j", "prog", "show"], capture_output=True, text=True,
                         check=True).stdout
    return {p["id"]: p.get("name", "") for p in json.loads(out or "[]")}


def other_loopscopes(mine=()):
    """Other loopscope processes on this machine (other test runs): their programs are not
    ours to count."""
    pids = []
    for exe in glob.glob("/proc/[0-9]*/exe"):
        try:
            pid = int(exe.split("/")[2])
            if pid not in mine and os.path.basename(os.readlink(exe)) == "loopscope":
                pids.append(pid)
        except (OSError, ValueError):
            continue
    return pids


def wait_progs_gone(ids, mine, timeout=10.0):
    """Wait until none of `ids` is loaded and, when no other loopscope runs, no ls_* program at
    all. Returns what is left ({id: name})."""
    end = time.monotonic() + timeout
    while True:
        progs = loaded_progs()
        left = {i: n for i, n in progs.items() if i in ids}
        if not other_loopscopes(mine):
            left.update({i: n for i, n in progs.items() if n.startswith("ls_")})
        if not left or time.monotonic() > end:
            return left
        time.sleep(0.05)


def bpf_progs():
    """Names of the BPF programs loaded in the kernel now."""
    out = subprocess.run(["bpftool", "-j", "prog", "show"], capture_output=True, text=True,
                         check=True).stdout
    return [p.get("name", "") for p in json.loads(out or "[]")]


def loopscope_progs():
    return [n for n in bpf_progs() if n.startswith("ls_")]


def wait_no_progs(timeout=10.0):
    """BPF programs are freed asynchronously once their last fd closes."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        left = loopscope_progs()
        if not left:
            return []
        time.sleep(0.1)
    return loopscope_progs()


requires_bpftool = pytest.mark.skipif(shutil.which("bpftool") is None, reason="no bpftool")
