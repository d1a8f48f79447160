"""However loopscope ends, nothing stays attached and the target keeps running unharmed."""
import os
import signal
import socket

import pytest

from conftest import (LOOPSCOPE, other_loopscopes, prog_ids_of,
                      requires_bpftool, require_root, target, wait_no_progs, wait_progs_gone)


def echo_ok(port):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"alive?\n")
        return s.makefile("rb").readline() == b"alive?\n"


@requires_bpftool
@pytest.mark.parametrize("how", ["SIGKILL", "SIGINT", "SIGTERM", "duration", "target-exit"])
def test_nothing_stays_attached(procs, how):
    require_root()
    if not other_loopscopes():
        assert wait_no_progs() == [], "loopscope programs loaded before the test"
    seconds = "2" if how == "target-exit" else "600"
    tgt = procs(target("healthy" if how == "target-exit" else "linger", "--seconds", seconds))
    port = tgt.wait_for({"event": "serving"})["port"]
    args = ["--duration", "2"] if how == "duration" else []
    ls = procs([LOOPSCOPE, "attach", str(tgt.pid), "--json", "--interval", "0.5", *args])
    ls.wait_for({"type": "attached"})
    ls.wait_for({"type": "interval"}, what="an interval line")
    ours = prog_ids_of(ls.pid)
    assert len(ours) >= 4, "programs should be attached while running"

    if how == "SIGKILL":
        os.kill(ls.pid, signal.SIGKILL)
        ls.p.wait(10)
    elif how in ("SIGINT", "SIGTERM"):
        assert ls.stop(getattr(signal, how)) == 0, ls.stderr()
        assert ls.events(type="summary")
    else:
        ls.wait_for({"type": "summary"}, timeout=20)
        assert ls.stop() == 0, ls.stderr()
        expected = "duration reached" if how == "duration" else "target exited"
        assert ls.events(type="summary")[0]["end"] == expected

    # its own programs, and, when no other loopscope runs here, any ls_* program
    assert wait_progs_gone(ours, [ls.pid]) == {}, "BPF programs left behind after %s" % how
    if how != "target-exit":
        assert tgt.p.poll() is None, "the target died"
        assert echo_ok(port), "the target stopped serving"
        beats = len(tgt.lines)
        assert beats >= 1
