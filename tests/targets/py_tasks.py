# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""asyncio task-reader target, runnable by CPython 3.8 to 3.15 (and with uvloop, see
py_tasks_uvloop.py).

Creates, on one loop:
  * two named sleepers ("sleeper-0", "sleeper-1") and one unnamed task, each in asyncio.sleep;
  * asyncio.Semaphore(2) and six workers "sem-0".."sem-5": two hold it and sleep, four wait in
    Semaphore.acquire;
  * "awaiter", which awaits the task "awaited" (which sleeps);
  * "failer", which finished with an exception that nobody retrieves (a reference is kept);
  * "lock-waiter" in Lock.acquire (behind "lock-holder", sleeping), "queue-getter" in Queue.get,
    "event-waiter" in Event.wait, "gatherer" awaiting gather() of two unnamed sleeping tasks,
    and "subclassed", an instance of a Task subclass, sleeping;
  * on 3.12+, "eager", started by asyncio.eager_task_factory, sleeping;
then prints its ground truth as one JSON line and sleeps in the loop until killed (with
--block: blocks the loop in time.sleep() inside the main task instead):

  {"pid": ..., "version": "3.x.y", "loop": "<loop class>", "count": len(asyncio.all_tasks()),
   "timers": <tasks sleeping on a timer>,
   "tasks": [{"name", "coro_qualname", "id", "coro", "chain": [qualnames of the await chain,
              outermost first], "waiter_type", "waiter_task": <name, if it awaits a task>}],
   "failed": {"name", "id", "coro_qualname"}}

The entry of the main task is written as it will be once main() sleeps: waiting on a
Future in asyncio.sleep (with --block: running, awaiting nothing).
"""
import asyncio
import json
import os
import sys
import time

SEM_WORKERS = 6
FAILED = []  # the finished task nobody retrieves the exception of


async def sleeper():
    await asyncio.sleep(3600)


async def unnamed_worker():
    await asyncio.sleep(3600)


async def sem_worker(sem):
    async with sem:
        await asyncio.sleep(3600)


async def eager_sleeper():
    await asyncio.sleep(3600)


async def lock_user(lock, hold):
    async with lock:
        if hold:
            await asyncio.sleep(3600)


async def queue_getter(queue):
    await queue.get()


async def event_waiter(event):
    await event.wait()


async def gatherer():
    await asyncio.gather(sleeper(), sleeper())


class SubTask(asyncio.Task):
    pass


async def awaited_child():
    await asyncio.sleep(3600)


async def awaiter(child):
    await child


async def boom():
    raise RuntimeError("nobody retrieves this")


def chain(coro):
    """Qualified names along cr_await / gi_yieldfrom, as the interpreter itself follows them."""
    out = []
    while coro is not None and len(out) < 64:
        qualname = getattr(coro, "__qualname__", None)
        if not isinstance(qualname, str) or not hasattr(coro, "send"):
            break
        out.append(qualname)
        coro = getattr(coro, "cr_await", getattr(coro, "gi_yieldfrom", None))
    return out


def emit(line):
    print(line, flush=True)


def describe(task):
    waiter = task._fut_waiter
    coro = task.get_coro()
    return {
        "name": task.get_name(),
        "coro_qualname": coro.__qualname__,
        "id": id(task),
        "coro": id(coro),
        "chain": chain(coro),
        "waiter_type": type(waiter).__name__ if waiter is not None else None,
        "waiter_task": waiter.get_name() if isinstance(waiter, asyncio.Task) else None,
    }


async def main(block):
    loop = asyncio.get_running_loop()
    me = asyncio.current_task()
    keep = [asyncio.create_task(sleeper(), name="sleeper-%d" % i) for i in range(2)]
    keep.append(asyncio.create_task(unnamed_worker()))
    sem = asyncio.Semaphore(2)
    keep += [asyncio.create_task(sem_worker(sem), name="sem-%d" % i) for i in range(SEM_WORKERS)]
    child = asyncio.create_task(awaited_child(), name="awaited")
    keep += [child, asyncio.create_task(awaiter(child), name="awaiter")]
    lock, queue, event = asyncio.Lock(), asyncio.Queue(), asyncio.Event()
    keep.append(asyncio.create_task(lock_user(lock, True), name="lock-holder"))
    keep.append(asyncio.create_task(lock_user(lock, False), name="lock-waiter"))
    keep.append(asyncio.create_task(queue_getter(queue), name="queue-getter"))
    keep.append(asyncio.create_task(event_waiter(event), name="event-waiter"))
    keep.append(asyncio.create_task(gatherer(), name="gatherer"))
    keep.append(SubTask(sleeper(), loop=loop, name="subclassed"))
    # sleepers, the unnamed task, the semaphore holders, "awaited", "lock-holder", gather's two
    # children, "subclassed"
    timers = 2 + 1 + 2 + 1 + 1 + 2 + 1
    if hasattr(asyncio, "eager_task_factory"):
        loop.set_task_factory(asyncio.eager_task_factory)
        keep.append(asyncio.create_task(eager_sleeper(), name="eager"))
        loop.set_task_factory(None)
        timers += 1
    failed = asyncio.create_task(boom(), name="failer")
    # let every task reach its first await, and "failer" finish
    for _ in range(10):
        await asyncio.sleep(0)
    assert failed.done()
    FAILED.append(failed)

    tasks = []
    for task in asyncio.all_tasks():
        if task is me:
            entry = describe(task)
            if block:
                entry.update(chain=["main"], waiter_type=None, waiter_task=None)
            else:
                entry.update(chain=["main", "sleep"], waiter_type="Future", waiter_task=None)
        else:
            entry = describe(task)
        tasks.append(entry)
    truth = {
        "pid": os.getpid(),
        "version": sys.version.split()[0],
        "loop": type(loop).__name__,
        "count": len(asyncio.all_tasks()),
        "timers": timers + (0 if block else 1),  # main itself, unless it blocks
        "main": id(me),
        "tasks": tasks,
        "failed": {"name": failed.get_name(), "id": id(failed),
                   "coro_qualname": failed.get_coro().__qualname__},
    }
    if block:
        emit(json.dumps(truth))
    else:
        # printed by a callback, i.e. once this task is suspended in the sleep below
        loop.call_soon(emit, json.dumps(truth))
    while True:
        if block:
            time.sleep(3600)
        else:
            await asyncio.sleep(3600)


def run(block=False):
    asyncio.run(main(block))


if __name__ == "__main__":
    run("--block" in sys.argv[1:])
