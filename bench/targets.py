"""Synthetic asyncio targets for bench/bench.py's BPF cost measurements (CPython 3.8+).

  idle         a loop parked in epoll_wait for an hour: loopscope attached to it sees none of
               the machine's events as its own (the "unrelated process" baseline)
  spin0        a loop iterating as fast as it can (await asyncio.sleep(0)): nearly every
               syscall it makes is a selector wait, epoll_wait with timeout 0
  asyncping PORT
               async round trips to the echo server (loop.sock_sendall / loop.sock_recv):
               every iteration parks the loop thread in epoll_wait until the echo process
               answers, i.e. one voluntary context switch per selector wait, as a lightly
               loaded server
  deep DEPTH COUNT
               on SIGUSR1: COUNT callbacks that recurse DEPTH Python frames deep and then
               burn CPU for 0.3 s (every on-CPU sample inside those busy periods walks a stack
               deeper than loopscope's 64-frame limit), then idle
  echo         a plain TCP echo server on loopback (prints "ready PID PORT"), no asyncio
  pingpong PORT
               callbacks that each make 200 blocking round trips to the echo server: every
               context switch of the loop thread is a blocking one inside a busy period
Prints "ready <pid>" once its loop runs.
"""
import asyncio
import os
import signal
import socket
import sys
import time


def burn(depth, seconds):
    if depth > 0:
        return burn(depth - 1, seconds)
    end = time.thread_time() + seconds
    n = 0
    while time.thread_time() < end:
        n += 1
    return n


async def idle():
    await asyncio.sleep(3600)


async def spin0():
    while True:
        await asyncio.sleep(0)


async def asyncping(port):
    loop = asyncio.get_running_loop()
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.setblocking(False)
    while True:
        await loop.sock_sendall(s, b"x")
        await loop.sock_recv(s, 64)


async def deep(depth, count):
    go = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, go.set)
    print("waiting", flush=True)
    await go.wait()
    for _ in range(count):
        burn(depth, 0.3)
        await asyncio.sleep(0.02)
    print("finished", flush=True)
    await idle()


def echo():
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(4)
    print("ready %d %d" % (os.getpid(), srv.getsockname()[1]), flush=True)
    while True:
        c, _ = srv.accept()
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        while True:
            data = c.recv(64)
            if not data:
                break
            c.sendall(data)
        c.close()


async def pingpong(port):
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    while True:
        for _ in range(200):
            s.sendall(b"x")
            s.recv(64)
        await asyncio.sleep(0)


async def main():
    mode = sys.argv[1]
    await asyncio.sleep(0.05)
    print("ready %d" % os.getpid(), flush=True)
    if mode == "idle":
        await idle()
    elif mode == "spin0":
        await spin0()
    elif mode == "asyncping":
        await asyncping(int(sys.argv[2]))
    elif mode == "deep":
        await deep(int(sys.argv[2]), int(sys.argv[3]))
    elif mode == "pingpong":
        await pingpong(int(sys.argv[2]))
    else:
        raise SystemExit("unknown mode %r" % mode)


if __name__ == "__main__":
    if sys.argv[1] == "echo":
        echo()
    else:
        asyncio.run(main())
