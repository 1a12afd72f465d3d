"""A test target: tracked objects of known counts, an agent, then it waits.

argv: number of Widget objects, number of Gadget objects.
Prints the socket path on stdout; exits when stdin closes or on SIGTERM.
"""

import os
import signal
import sys
import time

import leakscope.agent
from leakscope.trackref import object_ref, track


class Widget(object_ref):
    def __init__(self, n):
        self.n = n
        self.url = f"https://example.test/widget/{n}"


class Gadget(object_ref):
    __slots__ = ("n", "__dict__")

    def __init__(self, n):
        self.n = n


@track
class Plain:
    def __init__(self, n):
        self.n = n


class SlowRepr(object_ref):
    def __repr__(self):
        time.sleep(float(os.environ.get("SLOW_REPR_S", "0")))
        return "<SlowRepr>"


KEEP = []


def main():
    widgets = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    gadgets = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    for i in range(widgets):
        KEEP.append(Widget(i))
    time.sleep(0.01)
    for i in range(gadgets):
        KEEP.append(Gadget(i))
    KEEP.append(Plain(1))
    if os.environ.get("SLOW_REPR_S"):
        KEEP.append(SlowRepr())
    path = leakscope.agent.start()
    print(path, flush=True)
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    sys.stdin.read()  # until the test closes stdin


if __name__ == "__main__":
    main()
