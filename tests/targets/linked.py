"""A target whose leak is a linked list: the module global ``head`` is replaced by a new
`Node` (holding the old head) every few milliseconds, so the objects a dump must follow
are made while it walks. The loop runs in the module's own code (whose frame's locals are
the module's namespace). It exits when stdin closes."""

import os
import sys
import threading
import time

import leakscope.agent


class Node:
    def __init__(self, older):
        self.older = older
        self.payload = "x" * 100 + str(time.time())


def _exit_at_eof():
    sys.stdin.read()
    os._exit(0)


print(leakscope.agent.start(), flush=True)
threading.Thread(target=_exit_at_eof, daemon=True).start()
head = None
while True:
    head = Node(head)
    time.sleep(0.005)
