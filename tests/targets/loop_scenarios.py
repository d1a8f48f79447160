"""Real asyncio programs with real blocking bugs, for loopscope's tests.

Each scenario runs a stock asyncio loop (or uvloop with --uvloop) and prints its own ground
truth as JSON lines on stdout: what blocked, on which thread, for how long (time.perf_counter
around the blocking call). With --wait it first waits for SIGUSR1, so a test can attach before
the bug fires. Runs on CPython 3.8+.
"""
import argparse
import asyncio
import json
import os
import signal
import socket
import sys
import threading
import time


def say(**kw):
    print(json.dumps(kw), flush=True)


def native_id():
    # 3.7 has no native ids: it only serves to show an unsupported interpreter's report
    return threading.get_native_id() if hasattr(threading, "get_native_id") else os.getpid()


def timed(fn, *args):
    t0 = time.perf_counter()
    fn(*args)  # @timed
    return (time.perf_counter() - t0) * 1e3


# Lines marked "# @name" are where the tests expect loopscope to point.

def blocking_sleep():
    time.sleep(0.2)  # @sleep


def spin(seconds):
    """Pure-Python CPU work: `seconds` of this thread's CPU time, however loaded the machine."""
    end = time.thread_time() + seconds
    n = 0
    while time.thread_time() < end:  # @spin
        n += 1  # @spin
    return n


async def wait_go(args):
    if not args.wait:
        return
    ev = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, ev.set)
    say(event="waiting", pid=os.getpid(), tid=native_id())
    await ev.wait()


async def handler_sleep(i):
    ms = timed(blocking_sleep)  # the bug: a synchronous sleep in a coroutine
    say(event="blocked", kind="sleep", i=i, ms=ms, tid=native_id())


def deep_c():
    time.sleep(0.15)  # @deep_c


def deep_b():
    deep_c()  # @deep_b


def deep_a():
    deep_b()  # @deep_a


async def handler_deep(i):
    t0 = time.perf_counter()
    deep_a()  # @handler_deep
    say(event="blocked", kind="sleep", i=i, ms=(time.perf_counter() - t0) * 1e3,
        tid=native_id())


async def sc_deep(args):
    """The blocking call is three frames below the handler."""
    for i in range(3):
        await named_task(handler_deep(i), "deep-%d" % i)
        await asyncio.sleep(0.1)


def named_task(coro, name):
    """A task with a name a test can look for (3.7 has no names)."""
    loop = asyncio.get_event_loop()
    if sys.version_info >= (3, 8):
        return loop.create_task(coro, name=name)
    return loop.create_task(coro)


async def sc_sleep(args):
    for i in range(5):
        await named_task(handler_sleep(i), "sleep-%d" % i)
        await asyncio.sleep(0.1)


async def handler_cpu():
    cpu0 = time.thread_time()
    ms = timed(spin, 0.3)  # the bug: CPU-bound work on the loop
    say(event="blocked", kind="cpu", ms=ms, cpu_ms=(time.thread_time() - cpu0) * 1e3,
        tid=native_id())


async def sc_cpu(args):
    await named_task(handler_cpu(), "crunch")
    await asyncio.sleep(0.1)


def fetch_blocking(port):
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(b"ping\n")
        return s.recv(100)  # @recv  the bug: a blocking read on the loop thread


async def handler_fetch(i, port):
    ms = timed(fetch_blocking, port)
    say(event="blocked", kind="net", i=i, ms=ms, tid=native_id(), port=port)


async def sc_socket(args):
    for i in range(args.count):
        await named_task(handler_fetch(i, args.port), "fetch-%d" % i)
        await asyncio.sleep(0.1)


async def echo(reader, writer):
    while True:
        line = await reader.readline()
        if not line:
            break
        writer.write(line)
        await writer.drain()
    writer.close()


async def sc_healthy(args):
    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    say(event="serving", port=port, tid=native_id())
    async with server:
        await asyncio.sleep(args.seconds)


def second_loop(done):
    async def worker():
        await asyncio.sleep(0.1)
        ms = timed(blocking_sleep)
        say(event="blocked", kind="sleep", ms=ms, tid=native_id(), thread="second")
        await asyncio.sleep(0.1)

    new_loop().run_until_complete(worker())
    done.set()


async def sc_second_thread(args):
    done = threading.Event()
    threading.Thread(target=second_loop, args=(done,), name="second-loop").start()
    while not done.is_set():
        await asyncio.sleep(0.05)


async def sc_linger(args):
    """Stay alive with a steady heartbeat until killed (for detach tests)."""
    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    say(event="serving", port=server.sockets[0].getsockname()[1], tid=native_id())
    while True:
        await asyncio.sleep(0.05)


SCENARIOS = {
    "sleep": sc_sleep,
    "deep": sc_deep,
    "cpu": sc_cpu,
    "socket": sc_socket,
    "healthy": sc_healthy,
    "second_thread": sc_second_thread,
    "linger": sc_linger,
}

USE_UVLOOP = False


def new_loop():
    if USE_UVLOOP:
        import uvloop

        return uvloop.new_event_loop()
    return asyncio.new_event_loop()


async def main(args):
    # Let the loop reach its selector once: loopscope measures busy periods from a selector
    # return, and uvloop runs its first callbacks before its first epoll_wait. And like a
    # service, start serving a moment after start-up: under `run`, stacks begin once the
    # interpreter is up, which a cold start on a loaded machine can delay.
    await asyncio.sleep(0.3)
    await wait_go(args)
    await SCENARIOS[args.scenario](args)
    say(event="done")


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("scenario", choices=sorted(SCENARIOS))
    ap.add_argument("--uvloop", action="store_true")
    ap.add_argument("--wait", action="store_true", help="start the bug on SIGUSR1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--count", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=3.0)
    args = ap.parse_args()
    USE_UVLOOP = args.uvloop
    loop = new_loop()
    say(event="start", pid=os.getpid(), tid=native_id(), version=sys.version.split()[0],
        loop=type(loop).__module__)
    try:
        loop.run_until_complete(main(args))
    finally:
        loop.close()
