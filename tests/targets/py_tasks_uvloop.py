# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""py_tasks.py on uvloop's event loop (Debian: python3-uvloop): same tasks, same ground truth."""
import asyncio
import os
import sys

import uvloop

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import py_tasks  # noqa: E402

if __name__ == "__main__":
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    py_tasks.run("--block" in sys.argv[1:])
