"""`loopscope daemon`, the sidecar: it follows real services (restarts, pre-fork workers),
serves /metrics to a real Prometheus, answers liveness probes, writes flight-recorder dumps,
and speaks systemd's notification protocol."""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

import pytest

from conftest import (DEBIAN_PY, LOOPSCOPE, ROOT, TARGETS, prog_ids_of, require_root,
                      wait_progs_gone)

SERVICE = os.path.join(TARGETS, "service.py")


def marker(path, name):
    with open(path) as f:
        for i, text in enumerate(f, 1):
            if "# @%s" % name in text:
                return i
    raise AssertionError(name)


def service(*args, tag="lsdaemon"):
    return [DEBIAN_PY, SERVICE, *args, tag]


def daemon(procs, *args, env=None):
    """Start the daemon on an ephemeral loopback port; returns (proc, port)."""
    require_root()
    d = procs([LOOPSCOPE, "daemon", "--listen", "127.0.0.1:0", "--scan", "0.2", *args],
              env=env)
    port = d.wait_for({"type": "listening"}, what="listening")["port"]
    d.wait_for({"type": "ready"}, what="ready")
    return d, port


def get(port, path, accept=None):
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path))
    if accept:
        req.add_header("Accept", accept)
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, r.headers.get("Content-Type"), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type"), e.read().decode()


SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def metrics(port):
    """[(name, {labels}, value)] from /metrics, checking every line parses."""
    status, ctype, text = get(port, "/metrics")
    assert status == 200 and ctype.startswith("text/plain; version=0.0.4"), (status, ctype)
    out = []
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        assert m, "unparsable metrics line: %r" % line
        out.append((m.group(1), dict(LABEL.findall(m.group(2) or "")), float(m.group(3))))
    return out


def value(samples, name, **labels):
    vals = [v for n, l, v in samples
            if n == name and all(l.get(k) == str(x) for k, x in labels.items())]
    return sum(vals) if vals else None


def test_stalls_metrics_and_json_lines(procs):
    """A service stalls three times: three JSON stall lines name the culprit's file:line, and
    /metrics counts three sleep stalls with their seconds, in both exposition formats."""
    svc = procs(service("--count", "3", "--ms", "150", "--every", "0.4"))
    svc.wait_for({"event": "started"})
    d, port = daemon(procs, "--match", "service\\.py .*lsdaemon", "--service", "api")
    att = d.wait_for({"type": "attached", "pid": svc.pid}, what="attached")
    assert att["python"] and "CPython 3.11" in att["interpreter"], att
    truth = [svc.wait_for(lambda o, n=n: o.get("event") == "stall" and o.get("n") == n,
                          timeout=20)["ms"] for n in (1, 2, 3)]
    stalls = [d.wait_for(lambda o, n=n: o.get("type") == "stall" and
                         len(d.events(type="stall")) >= n, timeout=10) for n in (1, 2, 3)]
    stalls = d.events(type="stall")
    assert len(stalls) == 3, stalls
    line = marker(SERVICE, "svc_block")
    for s in stalls:
        assert s["pid"] == svc.pid and s["cause"] == "sleep"
        where = s["where"]
        assert where["file"].endswith("service.py") and where["line"] == line, where
    time.sleep(1.3)  # one interval: counters are read every second
    m = metrics(port)
    assert value(m, "loopscope_stalls_total", pid=svc.pid, cause="sleep", service="api") == 3
    secs = value(m, "loopscope_stall_seconds_total", pid=svc.pid, cause="sleep")
    assert abs(secs * 1e3 - sum(truth)) < 3 * 5, (secs, truth)
    assert value(m, "loopscope_stalls_total", pid=svc.pid, cause="cpu") == 0
    count = value(m, "loopscope_loop_iteration_seconds_count", pid=svc.pid)
    inf = value(m, "loopscope_loop_iteration_seconds_bucket", pid=svc.pid, le="+Inf")
    assert count and count == inf and count >= 3
    slow = [v for n, l, v in m if n == "loopscope_loop_iteration_seconds_bucket" and
            l.get("pid") == str(svc.pid) and l["le"] != "+Inf" and float(l["le"]) < 0.14]
    assert max(slow) == count - 3, "the three 150 ms iterations are above 0.14 s"
    assert 0 <= value(m, "loopscope_loop_busy_ratio", pid=svc.pid) <= 1
    assert value(m, "loopscope_target", pid=svc.pid) == 1
    assert value(m, "loopscope_targets") == 1
    assert value(m, "loopscope_dropped_events_total", reason="ringbuf") == 0
    assert value(m, "loopscope_resident_memory_bytes") > 1e6
    assert value(m, "loopscope_tasks_live", pid=svc.pid) >= 1

    status, ctype, text = get(port, "/metrics", accept="application/openmetrics-text; "
                              "version=1.0.0,text/plain;version=0.0.4;q=0.5")
    assert status == 200 and ctype.startswith("application/openmetrics-text")
    assert "# TYPE loopscope_stalls counter" in text and text.endswith("# EOF\n")
    assert re.search(r'loopscope_stalls_total\{service="api",pid="%d",thread="%d",'
                     r'cause="sleep"\} 3' % (svc.pid, svc.pid), text)
    assert get(port, "/nope")[0] == 404
    assert d.stop(signal.SIGTERM) == 0
    assert d.events(type="stopped")


@pytest.mark.skipif(not shutil.which("prometheus"), reason="Debian's prometheus is not "
                    "installed (scripts/setup.sh --test installs it)")
def test_real_prometheus_scrapes_the_stall_counter(procs, tmp_path):
    """Debian's Prometheus scrapes the endpoint; its query API returns the stall count."""
    svc = procs(service("--count", "2", "--ms", "150", "--every", "0.4", tag="lsprom"))
    svc.wait_for({"event": "started"})
    d, port = daemon(procs, "--match", "service\\.py .*lsprom", "--service", "prom-test")
    d.wait_for({"type": "attached", "pid": svc.pid})
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    prom_port = s.getsockname()[1]
    s.close()
    cfg = tmp_path / "prometheus.yml"
    cfg.write_text("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                   "scrape_configs:\n  - job_name: loopscope\n    static_configs:\n"
                   "      - targets: ['127.0.0.1:%d']\n" % port)
    prom = procs(["prometheus", "--config.file=%s" % cfg,
                  "--storage.tsdb.path=%s" % (tmp_path / "data"),
                  "--web.listen-address=127.0.0.1:%d" % prom_port, "--log.level=warn"])
    for n in (1, 2):
        svc.wait_for(lambda o, n=n: o.get("event") == "stall" and o.get("n") == n,
                     timeout=20)
    q = urllib.parse.quote('sum(loopscope_stalls_total{service="prom-test",cause="sleep"})')
    got, health = None, None
    end = time.monotonic() + 40
    while time.monotonic() < end:
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/api/v1/query?query=%s" %
                                        (prom_port, q), timeout=3) as r:
                res = json.load(r)["data"]["result"]
            if res:
                got = float(res[0]["value"][1])
                if got == 2:
                    break
            with urllib.request.urlopen("http://127.0.0.1:%d/api/v1/targets" % prom_port,
                                        timeout=3) as r:
                health = json.load(r)["data"]["activeTargets"]
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(0.5)
    assert got == 2, "prometheus saw %r; targets: %r; prometheus stderr: %s" % (
        got, health, prom.stderr()[-1500:])


def test_follows_ten_restarts_by_pidfile(procs, tmp_path):
    """The service restarts ten times (new PID, pid file rewritten): each new PID is attached
    and each old one detached, without restarting loopscope; the last one's stall is seen."""
    pidfile = str(tmp_path / "svc.pid")
    first = procs(service("--pidfile", pidfile, "--every", "0.3", "--ms", "120"))
    first.wait_for({"event": "started"})
    d, port = daemon(procs, "--pidfile", pidfile)
    d.wait_for({"type": "attached", "pid": first.pid})
    pids, cur = [first.pid], first
    for _ in range(10):
        cur.kill()
        cur = procs(service("--pidfile", pidfile, "--every", "0.3", "--ms", "120"))
        cur.wait_for({"event": "started"})
        d.wait_for({"type": "attached", "pid": cur.pid}, timeout=10,
                   what="attached to pid %d" % cur.pid)
        pids.append(cur.pid)
    attached = [e["pid"] for e in d.events(type="attached")]
    assert attached == pids, (attached, pids)
    d.wait_for(lambda o: o.get("type") == "detached" and o.get("pid") == pids[-2], timeout=5)
    assert [e["pid"] for e in d.events(type="detached")] == pids[:-1]
    assert {e["why"] for e in d.events(type="detached")} == {"exited"}
    d.wait_for(lambda o: o.get("type") == "stall" and o.get("pid") == cur.pid, timeout=10)
    time.sleep(1.2)
    m = metrics(port)
    assert {l["pid"] for n, l, v in m if n == "loopscope_target"} == {str(cur.pid)}
    assert value(m, "loopscope_target_attaches_total") == 11


def gunicorn_worker_pids(master):
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(master)], capture_output=True,
                         text=True).stdout
    return sorted(int(x) for x in out.split())


@pytest.mark.skipif(not shutil.which("gunicorn"), reason="Debian's gunicorn is not installed "
                    "(scripts/setup.sh --test installs gunicorn and python3-uvicorn)")
def test_prefork_gunicorn_uvicorn_workers(procs):
    """gunicorn with two uvicorn workers: both workers are attached (the master too, with no
    loop), a blocking handler is found in each worker, and a replaced worker is followed."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    gun = procs(["gunicorn", "-w", "2", "-k", "uvicorn.workers.UvicornWorker", "--chdir",
                 TARGETS, "-b", "127.0.0.1:%d" % port, "asgi_app:app"])
    end = time.monotonic() + 20
    while len(gunicorn_worker_pids(gun.pid)) < 2 and time.monotonic() < end:
        time.sleep(0.1)
    workers = gunicorn_worker_pids(gun.pid)
    assert len(workers) == 2, gun.stderr()
    d, lport = daemon(procs, "--match", "gunicorn .*asgi_app:app", "--service", "web")
    for pid in [gun.pid] + workers:
        d.wait_for({"type": "attached", "pid": pid}, timeout=10)
    line = marker(os.path.join(TARGETS, "asgi_app.py"), "asgi_block")
    seen = set()
    end = time.monotonic() + 30
    while seen != set(workers) and time.monotonic() < end:
        # concurrent requests: while one worker sleeps, the other accepts
        ps = [subprocess.Popen(["python3", "-c", "import urllib.request as u;"
                                "u.urlopen('http://127.0.0.1:%d/block',timeout=10).read()"
                                % port]) for _ in range(4)]
        for p in ps:
            p.wait()
        for st in d.events(type="stall"):
            if st["where"]["file"].endswith("asgi_app.py") and st["where"]["line"] == line:
                seen.add(st["pid"])
    assert seen == set(workers), (seen, workers, d.lines[-5:])
    status, _, body = get(lport, "/loops")
    loops = json.loads(body)["loops"]
    assert {l["pid"] for l in loops} == set(workers), loops  # the master has no event loop

    os.kill(workers[0], signal.SIGKILL)
    end = time.monotonic() + 20
    new = []
    while not new and time.monotonic() < end:
        new = [p for p in gunicorn_worker_pids(gun.pid) if p not in workers]
        time.sleep(0.1)
    assert new, "gunicorn did not replace the worker"
    d.wait_for({"type": "detached", "pid": workers[0]}, timeout=10)
    d.wait_for({"type": "attached", "pid": new[0]}, timeout=10)
    gun.stop(signal.SIGTERM)


def test_skips_non_python_processes(procs):
    """A matched process that is not Python is skipped once, with the reason."""
    sl = procs(["sleep", "3571"])
    svc = procs(service(tag="lsskip"))
    svc.wait_for({"event": "started"})
    d, port = daemon(procs, "--match", "^sleep 3571$", "--match", "service\\.py .*lsskip")
    sk = d.wait_for({"type": "skipped", "pid": sl.pid}, timeout=10)
    assert "no CPython interpreter" in sk["why"], sk
    d.wait_for({"type": "attached", "pid": svc.pid})
    time.sleep(1)
    assert len(d.events(type="skipped", pid=sl.pid)) == 1
    assert value(metrics(port), "loopscope_target_skips_total") == 1


def test_unit_and_cgroup_selectors(procs):
    """--unit finds a unit's cgroup wherever its slice puts it; --cgroup takes a path."""
    base = None
    for root in ("/sys/fs/cgroup/unified", "/sys/fs/cgroup"):
        if os.path.exists(os.path.join(root, "cgroup.procs")):
            base = root
            break
    if not base:
        pytest.skip("no writable cgroup v2 hierarchy")
    unit = os.path.join(base, "lstest.slice", "lstest-api.service")
    os.makedirs(unit, exist_ok=True)
    try:
        svc = procs(service(tag="lsunit"))
        svc.wait_for({"event": "started"})
        with open(os.path.join(unit, "cgroup.procs"), "w") as f:
            f.write(str(svc.pid))
        d, _ = daemon(procs, "--unit", "lstest-api")
        assert d.wait_for({"type": "attached"}, timeout=10)["pid"] == svc.pid
        d.stop()
        d2, _ = daemon(procs, "--cgroup", os.path.relpath(unit, base))
        assert d2.wait_for({"type": "attached"}, timeout=10)["pid"] == svc.pid
        d2.stop()
    finally:
        for p in list(locals().get("svc", None) and [svc] or []):
            p.kill()
        time.sleep(0.2)
        for d_ in (unit, os.path.dirname(unit)):
            try:
                os.rmdir(d_)
            except OSError:
                pass


def test_loops_endpoint_busy_is_not_wedged(procs):
    """/loops: a loop blocked past wedged-after is wedged (503); a loop that is busy all the
    time but iterates is busy (200), so a liveness probe keeps it alive."""
    wedge = procs(service("--wedge", "4", "--every", "0.3", tag="lswedge"))
    busy = procs(service("--busy", tag="lsbusy"))
    wedge.wait_for({"event": "started"})
    busy.wait_for({"event": "started"})
    d, port = daemon(procs, "--match", "service\\.py .*ls(wedge|busy)", "--wedged-after", "1.5")
    states = {}
    end = time.monotonic() + 10
    while time.monotonic() < end:
        status, _, body = get(port, "/loops")
        doc = json.loads(body)
        by_pid = {l["pid"]: l for l in doc["loops"]}
        if by_pid.get(wedge.pid, {}).get("state") == "wedged":
            states["wedged"] = (status, doc["status"], by_pid[wedge.pid]["iteration_age_s"])
            states["busy"] = by_pid.get(busy.pid)
            break
        time.sleep(0.2)
    assert states.get("wedged"), "never wedged: %s" % body
    assert states["wedged"][0] == 503 and states["wedged"][1] == "wedged"
    assert states["wedged"][2] >= 1.5
    wedge.wait_for({"event": "wedged"}, timeout=10)
    time.sleep(2.2)  # the interval that held the wedge has passed
    status, _, body = get(port, "/loops")
    by_pid = {l["pid"]: l for l in json.loads(body)["loops"]}
    assert by_pid[wedge.pid]["state"] == "healthy", body
    assert by_pid[busy.pid]["state"] == "busy" and by_pid[busy.pid]["busy_pct"] >= 90, body
    wedge.kill()
    time.sleep(1)
    status, _, body = get(port, "/loops")
    assert status == 200 and json.loads(body)["status"] == "busy", body
    status, _, body = get(port, "/health")
    assert status == 200 and json.loads(body)["status"] == "ok"


def folded_weights(path):
    out = {}
    with open(path) as f:
        for line in f:
            stack, w = line.rstrip("\n").rsplit(" ", 1)
            out[stack] = out.get(stack, 0) + float(w)
    return out


def test_flight_recorder_dumps_and_rotates(procs, tmp_path):
    """A stall over the flight threshold writes a dump whose heaviest stack is the culprit,
    SIGUSR1 writes one too, and rotation keeps the directory under its size limit."""
    fdir = tmp_path / "flight"
    svc = procs(service("--every", "0.2", "--ms", "260", "--count", "20", tag="lsflight"))
    svc.wait_for({"event": "started"})
    d, _ = daemon(procs, "--match", "service\\.py .*lsflight", "--flight-dir", str(fdir),
                  "--flight-threshold", "250", "--flight-max-size", "4K",
                  "--flight-seconds", "600")
    d.wait_for({"type": "attached", "pid": svc.pid})
    first = d.wait_for({"type": "flight", "trigger": "stall"}, timeout=15)
    assert first["pid"] == svc.pid and len(first["files"]) == 2
    svc.wait_for(lambda o: o.get("event") == "stall" and o.get("n") == 20, timeout=40)
    time.sleep(0.5)
    os.kill(d.pid, signal.SIGUSR1)
    sig = d.wait_for({"type": "flight", "trigger": "signal"}, timeout=5)
    folded = [f for f in sig["files"] if f.endswith(".folded")][0]
    weights = folded_weights(folded)
    top = max(weights, key=weights.get)
    line = marker(SERVICE, "svc_block")
    assert top.endswith("blocking_backoff (%s:%d)" % (SERVICE, line)), top
    stall_ms = sum(s["duration_ms"] for s in d.events(type="stall"))
    assert abs(sum(weights.values()) - stall_ms) < 0.05 * stall_ms
    assert os.path.getsize([f for f in sig["files"] if f.endswith(".pb.gz")][0]) > 100
    dumps = d.events(type="flight")
    assert sum(e["removed"] for e in dumps) > 0, "rotation never removed a dump"
    total = sum(os.path.getsize(fdir / f) for f in os.listdir(fdir))
    assert total <= 4096 and all(e["dir_bytes"] <= 4096 for e in dumps), total


def test_budget_lowers_sampling_and_says_so(procs):
    """Over its CPU budget, loopscope samples less, and the metrics and a JSON line say so."""
    svc = procs(service("--every", "0.1", "--ms", "120", tag="lsbudget"))
    svc.wait_for({"event": "started"})
    d, port = daemon(procs, "--match", "service\\.py .*lsbudget", "--budget", "0.01",
                     "--freq", "199")
    ev = d.wait_for({"type": "budget"}, timeout=10)
    assert ev["over_budget"] and ev["sampling_hz"] < 199, ev
    m = metrics(port)
    assert value(m, "loopscope_over_budget") == 1
    assert value(m, "loopscope_sampling_hz") < 199
    assert value(m, "loopscope_cpu_budget_ratio") == pytest.approx(0.0001)


def test_sd_notify_ready_watchdog_stopping(procs, tmp_path):
    """With NOTIFY_SOCKET and WATCHDOG_USEC set (as systemd sets them), loopscope sends
    READY=1 once attached, WATCHDOG=1 at half the watchdog period, STOPPING=1 on SIGTERM."""
    path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(0.2)
    env = dict(os.environ, NOTIFY_SOCKET=path, WATCHDOG_USEC="600000")
    svc = procs(service(tag="lsnotify"))
    svc.wait_for({"event": "started"})
    d, _ = daemon(procs, "--match", "service\\.py .*lsnotify", env=env)
    got, t0 = [], time.monotonic()
    while time.monotonic() - t0 < 2.0:
        try:
            got.append((time.monotonic() - t0, sock.recv(4096).decode()))
        except socket.timeout:
            pass
    msgs = [m for _, m in got]
    assert msgs[0] == "READY=1" and msgs[1].startswith("STATUS=watching 1 process"), msgs
    pings = [t for t, m in got if m == "WATCHDOG=1"]
    assert len(pings) >= 5, got  # every 0.3 s for 2 s
    d.p.send_signal(signal.SIGTERM)
    end = time.monotonic() + 5
    while time.monotonic() < end:
        try:
            if sock.recv(4096).decode() == "STOPPING=1":
                break
        except socket.timeout:
            pass
    else:
        raise AssertionError("no STOPPING=1")
    assert d.stop() == 0


def test_unit_file_verifies():
    """The shipped unit passes systemd-analyze verify (with ExecStart at the built binary)."""
    if not shutil.which("systemd-analyze"):
        pytest.skip("systemd-analyze is not installed (Debian package systemd)")
    with open(os.path.join(ROOT, "scripts", "systemd", "loopscope.service")) as f:
        unit = f.read()
    assert "ExecStart=/usr/local/bin/loopscope daemon" in unit
    for cap in ("CAP_BPF", "CAP_PERFMON", "CAP_SYS_PTRACE"):
        assert cap in re.search(r"^CapabilityBoundingSet=(.*)$", unit, re.M).group(1)
    assert "CAP_SYS_ADMIN" not in unit
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "loopscope.service")
        with open(path, "w") as f:
            f.write(unit.replace("/usr/local/bin/loopscope", LOOPSCOPE))
        r = subprocess.run(["systemd-analyze", "verify", path], capture_output=True,
                           text=True)
    assert r.returncode == 0 and not r.stdout.strip() and not r.stderr.strip(), r


def test_sample_config_runs():
    """The sample config in scripts/systemd parses as shipped."""
    require_root()
    r = subprocess.run([LOOPSCOPE, "daemon", "--config",
                        os.path.join(ROOT, "scripts", "systemd", "loopscope.conf"),
                        "--listen", "127.0.0.1:0", "--flight-dir", tempfile.mkdtemp(),
                        "--duration", "0.5"], capture_output=True, text=True, timeout=20)
    assert r.returncode == 0, r.stderr
    lines = [json.loads(l) for l in r.stdout.splitlines()]
    assert lines[0]["type"] == "listening" and lines[0]["service"] == "api"


BAD_CONFIGS = [
    ("threshold = 0\n", "threshold: 0 is out of range (1 to 60000 ms)"),
    ("threshold = fast\n", "threshold: 'fast' is not a number"),
    ("listen = 9464\n", "listen: '9464' is not HOST:PORT"),
    ("match = gunicorn(\n", "match: 'gunicorn(' is not a regular expression"),
    ("pid = -4\n", "pid: '-4' is not a PID"),
    ("colour = blue\n", "unknown setting 'colour'"),
    ("budget\n", "expected KEY = VALUE"),
    ("flight-max-size = 12Q\n", "flight-max-size: '12Q' is not a number"),
    ("flight-format = svg\n", "flight-format: 'svg' is not folded, pprof or folded,pprof"),
    ("tasks = maybe\n", "tasks: 'maybe' is not yes or no"),
    ("service = my service\n", "service: 'my service' must be"),
    ('match = "unterminated\n', "unterminated"),
    ("freq = 2.5\n", "freq: '2.5' is not a whole number"),
]


@pytest.mark.parametrize("text,why", BAD_CONFIGS, ids=[b[0].split()[0] for b in BAD_CONFIGS])
def test_config_file_rejects_bad_values(tmp_path, text, why):
    """A bad config line: exit 2, one line naming the file, the line number and the fix."""
    path = tmp_path / "bad.conf"
    path.write_text("# comment\n\nunit = api\n" + text)
    r = subprocess.run([LOOPSCOPE, "daemon", "--config", str(path)], capture_output=True,
                       text=True, timeout=10)
    assert r.returncode == 2, r
    assert r.stderr.count("\n") == 1 and "%s:4: " % path in r.stderr and why in r.stderr, \
        r.stderr


@pytest.mark.parametrize("args,why", [
    (["--threshold", "-5", "--pid", "1"], "threshold: -5 is out of range"),
    (["--listen", "localhost", "--pid", "1"], "is not HOST:PORT"),
    ([], "daemon needs a target"),
    (["--pid", "1", "extra"], "unexpected argument 'extra'"),
    (["--config", "/nonexistent.conf"], "cannot read config /nonexistent.conf"),
])
def test_daemon_flags_reject_bad_values(args, why):
    r = subprocess.run([LOOPSCOPE, "daemon", *args], capture_output=True, text=True,
                       timeout=10)
    assert r.returncode == 2 and why in r.stderr and len(r.stderr.splitlines()) <= 2, r


def test_port_in_use_is_one_clear_line(procs):
    require_root()
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    r = subprocess.run([LOOPSCOPE, "daemon", "--pid", "1", "--listen",
                        "127.0.0.1:%d" % s.getsockname()[1]], capture_output=True, text=True,
                       timeout=10)
    s.close()
    assert r.returncode == 1 and "Address already in use" in r.stderr, r
    assert len(r.stderr.splitlines()) == 1


def test_daemon_sigkill_leaves_nothing_attached(procs):
    """SIGKILL the daemon: its programs, links and USDT probes go with it; the target runs."""
    svc = procs(service("--every", "0.2", "--ms", "110", tag="lskill"))
    svc.wait_for({"event": "started"})
    d, _ = daemon(procs, "--match", "service\\.py .*lskill")
    d.wait_for({"type": "stall", "pid": svc.pid}, timeout=10)
    ids = prog_ids_of(d.pid)
    assert ids
    d.p.kill()
    d.p.wait()
    assert wait_progs_gone(ids, {d.pid}) == {}
    n = len(svc.events(event="stall"))
    svc.wait_for(lambda o: o.get("event") == "stall" and len(svc.events(event="stall")) > n,
                 timeout=5)
    assert svc.p.poll() is None


def test_unit_under_real_systemd_ready_and_watchdog():
    """The shipped unit under a real systemd 252 booted in systemd-nspawn: READY=1 makes it
    active with loopscope's status text, WATCHDOG=1 keeps it up, and a frozen loopscope is
    killed by the watchdog and restarted (scripts/systemd-check.sh)."""
    require_root()
    if not shutil.which("systemd-nspawn"):
        pytest.skip("systemd-nspawn is not installed (Debian package systemd-container)")
    r = subprocess.run([os.path.join(ROOT, "scripts", "systemd-check.sh")],
                       capture_output=True, text=True, timeout=120,
                       env=dict(os.environ, LOOPSCOPE_BIN=LOOPSCOPE))
    assert r.returncode == 0 and "PASS systemd-check" in r.stdout, r.stdout[-3000:] + r.stderr
    assert "Watchdog timeout (limit 2s)" in r.stdout
