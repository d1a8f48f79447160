"""A small aiohttp service with a real event-loop bug, for loopscope's demo.

GET /users/{id} looks a user up; one lookup in ten hits a "retry" path whose backoff is a
synchronous time.sleep two calls below the handler: the whole loop stops for 250 ms, and
every other request, /health included, waits. GET /report does ~150 ms of CPU-bound JSON
work on the loop. Run: python3 service.py [--port 8765]
"""
import argparse
import json
import os
import time

from aiohttp import web

USERS = {i: {"id": i, "name": "user%d" % i, "tags": ["t%d" % j for j in range(20)]}
         for i in range(1000)}


def retry_backoff(attempt):
    time.sleep(0.25 * attempt)  # BUG: blocks the event loop; use await asyncio.sleep()


def load_user(uid):
    if uid % 10 == 0:  # a flaky backend: the first attempt "fails"
        retry_backoff(1)
    return USERS.get(uid % 1000)


async def get_user(request):
    return web.json_response(load_user(int(request.match_info["uid"])))


async def report(request):
    # BUG: CPU-bound work on the loop; move it to a process pool
    blob = json.dumps([USERS[i] for i in range(1000)] * 40)
    return web.json_response({"bytes": len(json.loads(blob))})


async def health(request):
    return web.Response(text="ok")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=8765)
    args = ap.parse_args()
    app = web.Application()
    app.add_routes([web.get("/users/{uid}", get_user), web.get("/report", report),
                    web.get("/health", health)])
    print("demo service pid %d on 127.0.0.1:%d" % (os.getpid(), args.port), flush=True)
    web.run_app(app, host="127.0.0.1", port=args.port, print=None)


if __name__ == "__main__":
    main()
