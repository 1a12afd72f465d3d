"""A target whose tracked objects belong to owners: two threads, two asyncio tasks.

thread-a makes 30 Job objects, thread-b 20, task-x 7, task-y 4, and 3 are made
outside any owner. With sites on at start (LEAKSCOPE_TRACK_SITES=1) every Job
records its creation line; the line that makes them is marked SITE-LINE.
"""

import asyncio
import signal
import sys
import threading

import leakscope
import leakscope.agent
from leakscope.trackref import object_ref

KEEP = []


class Job(object_ref):
    pass


def make(n):
    for _ in range(n):
        KEEP.append(Job())  # SITE-LINE


def in_thread(owner, n):
    with leakscope.owner(owner):
        make(n)


@leakscope.owner("task-x")
async def task_x():
    await asyncio.sleep(0.01)
    make(7)


async def task_y():
    with leakscope.owner("task-y"):
        await asyncio.sleep(0.01)
        make(4)


async def tasks():
    await asyncio.gather(task_x(), task_y())


def main():
    threads = [
        threading.Thread(target=in_thread, args=("thread-a", 30)),
        threading.Thread(target=in_thread, args=("thread-b", 20)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    asyncio.run(tasks())
    make(3)
    print(leakscope.agent.start(), flush=True)
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    sys.stdin.read()


if __name__ == "__main__":
    main()
