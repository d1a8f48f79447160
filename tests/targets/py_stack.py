# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Stack-reader target, runnable by CPython 3.8 to 3.15.

An asyncio task runs handler -> helper -> leaf, and leaf blocks the event loop in
time.sleep(). Once it is blocked, a watcher thread takes the blocked thread's stack from
sys._current_frames() (the interpreter's own view: function, file, f_lineno of the blocking
call and of each call site) and prints it as one JSON line:

  {"pid": ..., "tid": <native TID>, "coro": <id of the task's coroutine>, "version": "...",
   "idle_tid": <native TID of a second, idle thread>,
   "stack": [{"func": "leaf", "file": ..., "line": ...}, helper, handler],
   "full": [every frame of the blocked thread, innermost first]}

then the loop thread keeps blocking until the process is killed.
"""
import asyncio
import json
import os
import sys
import threading
import time

blocked = threading.Event()
truth = {}


def leaf():
    blocked.set()
    while True:
        time.sleep(3600)


def helper():
    leaf()


async def handler():
    helper()


def idle(started):
    truth["idle_tid"] = threading.get_native_id()
    started.set()
    threading.Event().wait()


def report():
    started = threading.Event()
    threading.Thread(target=idle, args=(started,), name="idle", daemon=True).start()
    started.wait()
    blocked.wait()
    # Let the loop thread get from blocked.set() into the sleep before looking.
    time.sleep(0.3)
    frame = sys._current_frames()[truth["ident"]]
    full = []
    while frame is not None:
        code = frame.f_code
        full.append({"func": code.co_name, "file": code.co_filename, "line": frame.f_lineno})
        frame = frame.f_back
    truth["stack"] = full[:3]
    truth["full"] = full
    del truth["ident"]
    print(json.dumps(truth), flush=True)


async def main():
    coro = handler()
    truth.update(pid=os.getpid(), tid=threading.get_native_id(), coro=id(coro),
                 ident=threading.get_ident(), version=sys.version.split()[0])
    threading.Thread(target=report, name="report", daemon=True).start()
    await asyncio.ensure_future(coro)


if __name__ == "__main__":
    asyncio.run(main())
