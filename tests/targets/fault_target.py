"""Hostile-but-legal asyncio programs for tests/test_faults.py: targets that exec, exit in the
middle of a stall, fork workers with their own loops, flood the profiler with tiny stalls, run
1,000 threads, or start and stop loop threads all the time.

Like loop_scenarios.py, each scenario prints its own ground truth as JSON lines on stdout
("event": ...), and with a "waiting" event it waits for SIGUSR1 before its bug fires, so that
a test can attach first. Runs on CPython 3.8+ (Debian's 3.11 in the tests).
"""
import argparse
import asyncio
import json
import os
import signal
import sys
import threading
import time


def say(**kw):
    print(json.dumps(kw), flush=True)


def tid():
    return threading.get_native_id()


def spin_us(us):
    end = time.perf_counter() + us / 1e6
    while time.perf_counter() < end:
        pass


async def echo(reader, writer):
    while True:
        line = await reader.readline()
        if not line:
            break
        writer.write(line)
        await writer.drain()
    writer.close()


async def serve():
    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


def on_usr1():
    """An asyncio.Event set by SIGUSR1 (each signal sets it again after a clear)."""
    ev = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, ev.set)
    return ev


def blocking_stall(seconds):
    time.sleep(seconds)  # @stall


async def sc_serve(args):
    """Echo server that stalls its loop for --stall seconds at every SIGUSR1, forever."""
    server, port = await serve()
    ev = on_usr1()
    say(event="serving", port=port, pid=os.getpid(), tid=tid())
    while True:
        await ev.wait()
        ev.clear()
        t0 = time.perf_counter()
        blocking_stall(args.stall)
        say(event="blocked", ms=(time.perf_counter() - t0) * 1e3, tid=tid())


async def sc_exec(args):
    """At SIGUSR1, a callback of the loop execs /bin/sleep: same PID, no Python any more."""
    server, port = await serve()
    ev = on_usr1()
    say(event="waiting", port=port, pid=os.getpid(), tid=tid())
    await ev.wait()
    await asyncio.sleep(0.3)    # a few healthy iterations under observation first
    say(event="exec", prog="/bin/sleep")
    os.execv("/bin/sleep", ["sleep", str(args.seconds)])


async def sc_exit(args):
    """At SIGUSR1: one complete stall, then the process exits in the middle of a second one."""
    ev = on_usr1()
    say(event="waiting", pid=os.getpid(), tid=tid())
    await ev.wait()
    t0 = time.perf_counter()
    blocking_stall(0.25)
    say(event="blocked", ms=(time.perf_counter() - t0) * 1e3, tid=tid())
    await asyncio.sleep(0.2)
    say(event="exiting")
    blocking_stall(0.15)
    os._exit(7)


def child_main(i, stall):
    """A forked worker: its own loop, its own stall, then exit."""
    asyncio.events._set_running_loop(None)  # forked inside a callback of the parent's loop
    asyncio.set_event_loop(None)

    async def work():
        await asyncio.sleep(0.1)
        t0 = time.perf_counter()
        blocking_stall(stall)
        say(event="child_blocked", i=i, pid=os.getpid(), tid=tid(),
            ms=(time.perf_counter() - t0) * 1e3)
        for _ in range(20):
            await asyncio.sleep(0.05)

    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(work())
        say(event="child_done", i=i, pid=os.getpid())
    finally:
        os._exit(0)


async def sc_fork(args):
    """At SIGUSR1: fork --workers children running loops of their own, then stall once."""
    server, port = await serve()
    ev = on_usr1()
    say(event="waiting", port=port, pid=os.getpid(), tid=tid())
    await ev.wait()
    kids = []
    for i in range(args.workers):
        pid = os.fork()
        if pid == 0:
            child_main(i, 0.12 + 0.03 * i)
        kids.append(pid)
    say(event="forked", pids=kids)
    await asyncio.sleep(0.2)
    t0 = time.perf_counter()
    blocking_stall(0.3)
    say(event="blocked", ms=(time.perf_counter() - t0) * 1e3, tid=tid())
    while kids:
        await asyncio.sleep(0.05)
        for pid in list(kids):
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                kids.remove(pid)
    say(event="done")
    await asyncio.sleep(args.seconds)


async def sc_flood(args):
    """As many loop iterations as possible, each busy for --spin-us: thousands of tiny stalls
    per second once the threshold is below that. Reports its own iteration rate each second."""
    n = 0
    stop = asyncio.get_running_loop().time() + args.seconds

    def report(last=[0, time.perf_counter()]):
        now = time.perf_counter()
        say(event="rate", per_s=(n - last[0]) / (now - last[1]), tid=tid())
        last[0], last[1] = n, now
        asyncio.get_running_loop().call_later(1.0, report)

    say(event="serving", pid=os.getpid(), tid=tid())
    asyncio.get_running_loop().call_later(1.0, report)
    while asyncio.get_running_loop().time() < stop:
        spin_us(args.spin_us)
        n += 1
        await asyncio.sleep(0)


def loop_thread(i, stall_s, go, results):
    async def work():
        await asyncio.sleep(0.05)
        while not go.is_set():
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.05 * i)   # staggered starts
        t0 = time.perf_counter()
        blocking_stall(stall_s)
        results.append({"i": i, "tid": tid(), "ms": (time.perf_counter() - t0) * 1e3})
        await asyncio.sleep(0.3)

    loop = asyncio.new_event_loop()
    loop.run_until_complete(work())
    loop.close()


def sc_threads(args):
    """--threads threads, --loops of them running an event loop. At SIGUSR1 loop i stalls for
    100 + 40 * i ms, each a distinct duration, and reports its TID."""
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})   # inherited by every thread
    threading.stack_size(256 << 10)
    idle = threading.Event()
    go = threading.Event()
    results = []
    threads = []
    # loop threads first: CPython puts new thread states at the head of its list, so theirs
    # end up behind the ~1,000 idle ones that a reader must walk past
    for i in range(args.loops):
        t = threading.Thread(target=loop_thread, args=(i, 0.1 + 0.04 * i, go, results),
                             name="loop-%d" % i, daemon=True)
        t.start()
        threads.append(t)
    for _ in range(args.threads - args.loops - 1):
        t = threading.Thread(target=idle.wait, daemon=True)
        t.start()
    time.sleep(0.3)
    say(event="waiting", pid=os.getpid(), threads=threading.active_count(),
        os_threads=len(os.listdir("/proc/self/task")))
    signal.sigwait({signal.SIGUSR1})
    go.set()
    for t in threads:
        t.join()
    for r in sorted(results, key=lambda r: r["i"]):
        say(event="blocked", **r)
    say(event="done")
    time.sleep(args.seconds)


def short_loop(n):
    async def work():
        for _ in range(n):
            await asyncio.sleep(0.002)

    loop = asyncio.new_event_loop()
    loop.run_until_complete(work())
    loop.close()


async def sc_churn(args):
    """Start a short-lived loop thread every --every seconds, for --seconds."""
    say(event="serving", pid=os.getpid(), tid=tid())
    started = 0
    end = time.monotonic() + args.seconds
    alive = []
    while time.monotonic() < end:
        t = threading.Thread(target=short_loop, args=(5,), daemon=True)
        t.start()
        alive.append(t)
        started += 1
        alive = [t for t in alive if t.is_alive()]
        if started % 50 == 0:
            say(event="churn", started=started, alive=len(alive))
        await asyncio.sleep(args.every)
    say(event="done", started=started)
    await asyncio.sleep(3600)


SCENARIOS = {
    "serve": sc_serve,
    "exec": sc_exec,
    "exit": sc_exit,
    "fork": sc_fork,
    "flood": sc_flood,
    "churn": sc_churn,
}

if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("scenario", choices=sorted(list(SCENARIOS) + ["threads"]))
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--stall", type=float, default=0.25)
    ap.add_argument("--workers", type=int, default=3)
    ap.add_argument("--spin-us", type=float, default=30.0)
    ap.add_argument("--threads", type=int, default=1000)
    ap.add_argument("--loops", type=int, default=8)
    ap.add_argument("--every", type=float, default=0.02)
    args = ap.parse_args()
    say(event="start", pid=os.getpid(), tid=tid(), version=sys.version.split()[0])
    if args.scenario == "threads":
        sc_threads(args)
    else:
        loop = asyncio.new_event_loop()
        loop.run_until_complete(asyncio.sleep(0.05))  # reach the selector once
        loop.run_until_complete(SCENARIOS[args.scenario](args))
