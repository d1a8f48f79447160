"""Garbage-collection and import stalls, with the program's own ground truth.

gc: builds a large long-lived heap, then each handler makes cyclic garbage and runs a full
collection; every collection is timed through gc.callbacks and printed. --freeze calls
gc.freeze() after warm-up (the control: the old heap is no longer traversed).
import: a handler's first `import slow_first_import` takes ~150 ms.
"""
import argparse
import asyncio
import gc
import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def say(**kw):
    print(json.dumps(kw), flush=True)


class Record:
    def __init__(self):
        self.t0 = None

    def __call__(self, phase, info):
        if threading.get_ident() != MAIN:
            return
        if phase == "start":
            self.t0 = time.perf_counter()
        elif self.t0 is not None:
            ms = (time.perf_counter() - self.t0) * 1e3
            if info["generation"] == 2:  # the young collections are too many to print
                say(event="gc", gen=2, ms=ms)
            self.t0 = None


class Node:
    def __init__(self, other=None):
        self.other = other


def cyclic_garbage(n):
    for _ in range(n):
        a = Node()
        a.other = Node(a)


async def handler_gc(i):
    cyclic_garbage(20000)
    gc.collect()  # @collect  the stall: a full collection over a large heap
    say(event="handled", i=i)


async def handler_import():
    import slow_first_import  # noqa: F401  # @import


async def main(args):
    await asyncio.sleep(0.05)
    if args.scenario == "gc":
        if args.freeze:
            gc.freeze()
        gc.callbacks.append(Record())
        say(event="ready", objects=len(HEAP))
        for i in range(args.count):
            await asyncio.get_running_loop().create_task(handler_gc(i))
            await asyncio.sleep(0.1)
    else:
        # a request arriving after start-up: in `run` mode the probes attach once the
        # interpreter is up, a few hundred ms at worst on a cold start
        await asyncio.sleep(0.5)
        await asyncio.get_running_loop().create_task(handler_import())
        await asyncio.sleep(0.1)
    say(event="done")


if __name__ == "__main__":
    MAIN = threading.get_ident()
    ap = argparse.ArgumentParser()
    ap.add_argument("scenario", choices=["gc", "import"])
    ap.add_argument("--objects", type=int, default=1500000)
    ap.add_argument("--count", type=int, default=3)
    ap.add_argument("--freeze", action="store_true")
    args = ap.parse_args()
    # the long-lived heap of a big service, built before the loop runs
    HEAP = [{"i": i, "l": [i]} for i in range(args.objects)] if args.scenario == "gc" else []
    asyncio.run(main(args))
