"""aiohttp hello-world server for bench/bench.py (overhead under load).

usage: python3.11 bench/server.py PORT [--uvloop]
Prints "ready <pid>" once listening. asyncio debug mode comes from PYTHONASYNCIODEBUG=1.
"""
import argparse
import asyncio
import os
import sys

from aiohttp import web


async def hello(request):
    return web.Response(text="Hello, world")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("port", type=int)
    ap.add_argument("--uvloop", action="store_true")
    args = ap.parse_args()
    app = web.Application()
    app.router.add_get("/", hello)
    if args.uvloop:
        import uvloop
        loop = uvloop.new_event_loop()
    else:
        loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)

    async def ready(app):
        print("ready %d" % os.getpid(), flush=True)

    app.on_startup.append(ready)
    web.run_app(app, host="127.0.0.1", port=args.port, access_log=None, print=None,
                handle_signals=True, loop=loop)


if __name__ == "__main__":
    sys.exit(main())
