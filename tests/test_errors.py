"""Bad input gets one clear line on stderr and a non-zero exit, never a crash."""
import os
import shutil
import subprocess

import pytest

from conftest import DEBIAN_PY, LOOPSCOPE, require_root


def run(*args, timeout=30, **kw):
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, **kw)


def one_error_line(r):
    lines = [l for l in r.stderr.splitlines() if l.startswith("loopscope:")]
    assert len(lines) == 1, r.stderr
    return lines[0]


def test_no_such_pid():
    require_root()
    r = run(LOOPSCOPE, "attach", "999999999")
    assert r.returncode == 1
    assert "no process with pid 999999999" in one_error_line(r)


def test_pid_that_is_not_python():
    require_root()
    p = subprocess.Popen(["sleep", "30"])
    try:
        r = run(LOOPSCOPE, "attach", str(p.pid))
    finally:
        p.kill()
        p.wait()
    assert r.returncode == 1
    line = one_error_line(r)
    assert "is not a Python process" in line and "(sleep)" in line


def test_python_without_event_loop_waits_then_says_so():
    require_root()
    p = subprocess.Popen([DEBIAN_PY, "-c", "import time\nwhile True: time.sleep(0.05)"])
    try:
        r = run(LOOPSCOPE, "attach", str(p.pid), "--duration", "2", "--json")
    finally:
        p.kill()
        p.wait()
    assert r.returncode == 3, r.stderr
    assert '"type":"waiting"' in r.stdout
    assert "no event loop found in pid %d" % p.pid in one_error_line(r)


@pytest.mark.skipif(shutil.which("setpriv") is None, reason="setpriv (util-linux) missing")
def test_unprivileged_user_is_told_which_capabilities():
    require_root()
    p = subprocess.Popen([DEBIAN_PY, "-c", "import time; time.sleep(30)"])
    try:
        r = run("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                "--inh-caps=-all", LOOPSCOPE, "attach", str(p.pid))
    finally:
        p.kill()
        p.wait()
    assert r.returncode == 1
    line = one_error_line(r)
    assert "needs root" in line
    assert "missing: CAP_BPF, CAP_PERFMON, CAP_SYS_PTRACE" in line


@pytest.mark.skipif(shutil.which("unshare") is None, reason="unshare (util-linux) missing")
def test_kernel_without_btf():
    require_root()
    if not os.path.exists("/sys/kernel/btf/vmlinux"):
        pytest.skip("this kernel has no BTF at all")
    p = subprocess.Popen([DEBIAN_PY, "-c", "import time; time.sleep(30)"])
    try:
        # a private mount namespace where /sys/kernel/btf is empty, as on a kernel without BTF
        r = run("unshare", "-m", "--propagation", "private", "sh", "-c",
                'mount -t tmpfs none /sys/kernel/btf && exec "$0" attach "$1"',
                LOOPSCOPE, str(p.pid))
    finally:
        p.kill()
        p.wait()
    assert r.returncode == 1
    line = one_error_line(r)
    assert "this kernel has no BTF" in line and "--btf FILE" in line


def test_custom_btf_file_missing():
    require_root()
    r = run(LOOPSCOPE, "attach", str(os.getpid()), "--btf", "/nonexistent/vmlinux")
    assert r.returncode == 1
    assert "cannot read BTF file /nonexistent/vmlinux" in one_error_line(r)


@pytest.mark.parametrize("args, message", [
    (["attach", "abc"], "invalid PID 'abc'"),
    (["attach", "-5"], "invalid option"),
    (["attach"], "attach needs a PID"),
    (["attach", "1", "-t", "0"], "invalid threshold '0'"),
    (["attach", "1", "-t", "lots"], "invalid threshold 'lots'"),
    (["attach", "1", "--interval", "0.01"], "invalid interval"),
    (["attach", "1", "2"], "unexpected argument '2'"),
    (["run"], "run needs a program"),
    (["frobnicate"], "unknown command 'frobnicate'"),
])
def test_bad_command_lines(args, message):
    r = run(LOOPSCOPE, *args)
    assert r.returncode == 2, r
    assert message in r.stderr


def test_run_of_missing_program():
    require_root()
    r = run(LOOPSCOPE, "run", "--duration", "3", "--", "/nonexistent/python3")
    assert "cannot run /nonexistent/python3" in r.stderr
    assert r.returncode == 3
