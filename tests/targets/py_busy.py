# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Stress target for the stack reader, runnable by CPython 3.8 to 3.15.

Everything a reader racing the interpreter can trip on, all the time: threads switching the
GIL, deep and changing recursion, generators and coroutines suspending and resuming, code
objects compiled and freed (their addresses get reused), exceptions unwinding frames. Prints
"ready <pid>" once everything runs, then runs until killed.
"""
import asyncio
import os
import threading


def recurse(n):
    if n <= 0:
        return sum(i * i for i in range(50))
    return recurse(n - 1) + 1


def churn_code(i):
    # a fresh code object per call, freed right after
    src = "def f%d(x):\n    return [x * k for k in range(20)]\n" % i
    scope = {}
    exec(compile(src, "<churn %d>" % i, "exec"), scope)
    return scope["f%d" % i](i)


def spin(stop, depth):
    i = 0
    while not stop.is_set():
        recurse(depth + i % 40)
        churn_code(i)
        try:
            recurse(10)
            raise ValueError(i)
        except ValueError:
            pass
        i += 1


async def worker(n):
    while True:
        recurse(n % 30)
        await asyncio.sleep(0)


async def main(stop):
    tasks = [asyncio.ensure_future(worker(n)) for n in range(20)]
    print("ready %d" % os.getpid(), flush=True)
    await asyncio.gather(*tasks)


if __name__ == "__main__":
    stop = threading.Event()
    for d in (5, 50, 150):
        threading.Thread(target=spin, args=(stop, d), daemon=True).start()
    asyncio.run(main(stop))
