# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Stack-reader target for string decoding, runnable by CPython 3.8 to 3.15.

The main thread blocks in time.sleep() under three functions whose names need one, two and
four bytes per character in CPython's string storage (Latin-1, UCS-2, UCS-4), defined in code
compiled with a non-ASCII file name. Prints the blocked thread's stack as the interpreter sees
it (one JSON line, like py_stack.py), then keeps blocking.
"""
import json
import os
import sys
import threading
import time

FILENAME = "/tmp/ünïcode/файл_𠀀.py"
SOURCE = """
def naïve(blocked):
    функция(blocked)

def функция(blocked):
    𠀀(blocked)

def 𠀀(blocked):
    blocked.set()
    while True:
        time.sleep(3600)
"""


def report(blocked, ident, tid):
    blocked.wait()
    time.sleep(0.3)
    frame = sys._current_frames()[ident]
    full = []
    while frame is not None:
        code = frame.f_code
        full.append({"func": code.co_name, "file": code.co_filename, "line": frame.f_lineno})
        frame = frame.f_back
    print(json.dumps({"pid": os.getpid(), "tid": tid,
                      "stack": full[:3], "full": full}), flush=True)


def main():
    scope = {"time": time}
    exec(compile(SOURCE, FILENAME, "exec"), scope)
    blocked = threading.Event()
    args = (blocked, threading.get_ident(), threading.get_native_id())
    threading.Thread(target=report, args=args, daemon=True).start()
    scope["naïve"](blocked)


if __name__ == "__main__":
    main()
