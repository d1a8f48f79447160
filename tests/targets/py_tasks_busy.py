# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Racing target for the task reader, runnable by CPython 3.8 to 3.15.

Two event loops, each in its own thread, hold long-lived sleeping tasks ("long-<n>" on the main
thread, "other-<n>" on the second one) while short-lived tasks are created and finish as fast
as the loops can run them (gather, a queue, a lock), so that registries change while they are
read. Prints one JSON line, then runs until killed:

  {"pid": ..., "long": <long-lived tasks on the main loop>, "other": <on the second loop>,
   "tids": [<main loop thread>, <second loop thread>]}
"""
import asyncio
import json
import os
import sys
import threading

LONG = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
OTHER = 50


async def sleeper():
    await asyncio.sleep(3600)


async def short(lock, queue):
    for _ in range(3):
        await asyncio.sleep(0)
    async with lock:
        await queue.put(1)


async def churn():
    lock, queue = asyncio.Lock(), asyncio.Queue()
    while True:
        await asyncio.gather(*[short(lock, queue) for _ in range(50)])
        while not queue.empty():
            queue.get_nowait()


async def loop_main(prefix, count, started, tids):
    tids.append(threading.get_native_id())
    keep = [asyncio.create_task(sleeper(), name="%s-%d" % (prefix, i)) for i in range(count)]
    await asyncio.sleep(0)
    started.set()
    await churn()
    del keep


def other_thread(started, tids):
    asyncio.run(loop_main("other", OTHER, started, tids))


async def main():
    tids = []
    started, other_started = threading.Event(), threading.Event()
    threading.Thread(target=other_thread, args=(other_started, tids), daemon=True).start()
    other_started.wait()

    async def report():
        await asyncio.sleep(0.2)
        print(json.dumps({"pid": os.getpid(), "long": LONG, "other": OTHER,
                          "tids": [threading.get_native_id(), tids[0]]}), flush=True)

    asyncio.get_running_loop().create_task(report())
    await loop_main("long", LONG, started, [])


if __name__ == "__main__":
    asyncio.run(main())
