"""A small asyncio service for the daemon's tests: it ticks, and every --every seconds a
callback blocks the loop with time.sleep (the bug), or spins (--busy: slow but iterating),
or blocks once for --wedge seconds. Prints each stall's ground truth as a JSON line.
"""
import argparse
import asyncio
import json
import os
import sys
import time


def say(**kw):
    print(json.dumps(kw), flush=True)


def blocking_backoff(seconds):
    time.sleep(seconds)  # @svc_block


def busy_tick():
    end = time.perf_counter() + 0.004
    while time.perf_counter() < end:
        pass


async def main(a):
    if a.pidfile:
        with open(a.pidfile + ".tmp", "w") as f:
            f.write("%d\n" % os.getpid())
        os.rename(a.pidfile + ".tmp", a.pidfile)
    say(event="started", pid=os.getpid())
    loop = asyncio.get_running_loop()
    await asyncio.sleep(a.delay)
    n = 0
    while True:
        if a.busy:
            # thousands of short callbacks: busy all the time, never stalled
            for _ in range(5):
                loop.call_soon(busy_tick)
            await asyncio.sleep(0)
            continue
        await asyncio.sleep(a.every)
        n += 1
        if a.wedge and n == 1:
            t0 = time.perf_counter()
            blocking_backoff(a.wedge)
            say(event="wedged", ms=(time.perf_counter() - t0) * 1e3)
            continue
        if a.count and n > a.count:
            continue
        t0 = time.perf_counter()
        blocking_backoff(a.ms / 1e3)
        say(event="stall", n=n, ms=(time.perf_counter() - t0) * 1e3)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--every", type=float, default=0.5)
    ap.add_argument("--ms", type=float, default=150)
    ap.add_argument("--count", type=int, default=0, help="stalls, then tick quietly")
    ap.add_argument("--delay", type=float, default=0.5, help="before the first tick")
    ap.add_argument("--wedge", type=float, default=0)
    ap.add_argument("--busy", action="store_true")
    ap.add_argument("--pidfile")
    ap.add_argument("tag", nargs="?", help="a word for --match to find")
    asyncio.run(main(ap.parse_args()))
