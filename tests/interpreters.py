"""Which Python interpreters the tests run against, and why one is skipped.

Debian's python3.11; pyenv's 3.8-3.13 (shared libpython, no USDT); Debian's 3.13-3.15
installed by scripts/fetch-pythons.sh into a private root. Each entry is a pytest param whose
value is a function returning (path, None) or (None, skip reason).
"""
import functools
import glob
import os
import subprocess

import shutil

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FETCH = os.path.join(REPO, "scripts", "fetch-pythons.sh")


def pyenv(minor):
    """pyenv's 3.<minor>, or a skip reason."""
    found = sorted(glob.glob("/root/.pyenv/versions/3.%d.*/bin/python3.%d" % (minor, minor)))
    if not found:
        return None, "pyenv 3.%d not installed (/root/.pyenv/versions/3.%d.*)" % (minor, minor)
    return found[-1], None


@functools.lru_cache(maxsize=None)
def fetched_list():
    """Output of scripts/fetch-pythons.sh --list, or an exception's text."""
    try:
        return subprocess.run(["bash", FETCH, "--list"], capture_output=True, text=True,
                              timeout=60).stdout, None
    except (OSError, subprocess.SubprocessError) as e:
        return "", "scripts/fetch-pythons.sh --list failed: %s" % e


def debian_fetched(minor):
    """Debian's 3.<minor> installed by scripts/fetch-pythons.sh, or a skip reason."""
    if not os.path.exists(FETCH):
        return None, "scripts/fetch-pythons.sh not found"
    out, error = fetched_list()
    if error:
        return None, error
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0].split(".")[:2] == ["3", str(minor)]:
            if os.access(parts[1], os.X_OK):
                return parts[1], None
    return None, "python3.%d not installed by scripts/fetch-pythons.sh (run it)" % minor


def debian_system(path):
    if os.access(path, os.X_OK):
        return path, None
    return None, "%s not installed" % path


INTERPRETERS = [
    pytest.param(lambda: debian_system("/usr/bin/python3.11"), id="debian-3.11"),
    pytest.param(lambda: pyenv(8), id="pyenv-3.8"),
    pytest.param(lambda: pyenv(9), id="pyenv-3.9"),
    pytest.param(lambda: pyenv(10), id="pyenv-3.10"),
    pytest.param(lambda: pyenv(11), id="pyenv-3.11"),
    pytest.param(lambda: pyenv(12), id="pyenv-3.12"),
    pytest.param(lambda: pyenv(13), id="pyenv-3.13"),
    pytest.param(lambda: debian_fetched(13), id="debian-3.13"),
    pytest.param(lambda: debian_fetched(14), id="debian-3.14"),
    pytest.param(lambda: debian_fetched(15), id="debian-3.15"),
]


def find_or_skip(find):
    path, why = find()
    if not path:
        pytest.skip(why)
    return path


def pidns_pyenv(script, minor):
    """pyenv's 3.<minor> running tests/targets/<script> in its own PID namespace:
    (argv, skip reason, file to remove afterwards)."""
    python, reason = pyenv(minor)
    if not python:
        return None, reason, None
    if not shutil.which("unshare"):
        return None, "unshare not installed", None
    return ["unshare", "--pid", "--fork", "--mount-proc", python,
            os.path.join(REPO, "tests", "targets", script)], None, None


def pidns_chroot(script, minor):
    """Debian's 3.<minor> chrooted into the private root with its own PID namespace, as in a
    container, running tests/targets/<script>."""
    chroot = os.path.join(REPO, "scripts", "pyroot-chroot.sh")
    python, reason = debian_fetched(minor)
    if not python:
        return None, reason, None
    if not os.path.exists(chroot):
        return None, "scripts/pyroot-chroot.sh not found", None
    root = os.environ.get("LOOPSCOPE_PYROOT", os.path.join(REPO, ".cache", "pyroot"))
    copy = "/tmp/loopscope_%s_%d.py" % (script[:-3], os.getpid())
    shutil.copy(os.path.join(REPO, "tests", "targets", script), root + copy)
    return ["bash", chroot, "--pidns", "3.%d" % minor, copy], None, root + copy
