"""Pending-task failure modes, with the program's own counts as ground truth.

buildup: a producer creates tasks faster than a Semaphore(50) lets them finish; it works in
  bursts and holds still between them, printing len(asyncio.all_tasks()) while still.
healthy: the same, slower than the semaphore's capacity (the control).
deadlock: two tasks each await the other's future.
pool: a pool of 2 connections is held forever; every request awaits it.
"""
import argparse
import asyncio
import json
import os
import sys
import time


def say(**kw):
    print(json.dumps(kw), flush=True)


async def handle(sem, i, hold):
    async with sem:
        await asyncio.sleep(hold)


async def producer(burst, pause, hold, rounds):
    sem = asyncio.Semaphore(50)
    keep = []
    for r in range(rounds):
        for i in range(burst):
            keep.append(asyncio.get_running_loop().create_task(handle(sem, i, hold)))
        await asyncio.sleep(0.01)
        say(event="count", live=len(asyncio.all_tasks()), time=time.time(), round=r)
        await asyncio.sleep(pause)
        keep = [t for t in keep if not t.done()]


async def side_a(mine, theirs):
    await theirs
    mine.set_result(1)


async def deadlock():
    loop = asyncio.get_running_loop()
    fa, fb = loop.create_future(), loop.create_future()
    a = loop.create_task(side_a(fa, fb), name="side-a")
    b = loop.create_task(side_a(fb, fa), name="side-b")
    say(event="stuck", tasks=["side-a", "side-b"])
    await asyncio.gather(a, b)


async def use_connection(pool, forever):
    async with pool:
        await forever.wait()  # the bug: a connection never goes back to the pool


async def request(pool, i):
    async with pool:
        await asyncio.sleep(0.01)


async def exhausted_pool():
    pool, forever = asyncio.Semaphore(2), asyncio.Event()
    loop = asyncio.get_running_loop()
    holders = [loop.create_task(use_connection(pool, forever), name="holder-%d" % i)
               for i in range(2)]
    await asyncio.sleep(0.1)
    reqs = [loop.create_task(request(pool, i), name="request-%d" % i) for i in range(20)]
    say(event="stuck", tasks=[t.get_name() for t in reqs])
    await asyncio.gather(*holders, *reqs)


async def main(args):
    if args.scenario == "buildup":
        await producer(burst=400, pause=1.5, hold=30, rounds=args.rounds)
    elif args.scenario == "healthy":
        await producer(burst=20, pause=1.5, hold=0.05, rounds=args.rounds)
    elif args.scenario == "deadlock":
        await deadlock()
    else:
        await exhausted_pool()
    say(event="done")


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("scenario", choices=["buildup", "healthy", "deadlock", "pool"])
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--uvloop", action="store_true")
    args = ap.parse_args()
    say(event="start", pid=os.getpid(), version=sys.version.split()[0])
    if args.uvloop:
        import uvloop
        uvloop.install()
    asyncio.run(main(args))
