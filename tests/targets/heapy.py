"""A target with a heap of known contents.

10,000 Holder objects, each with a dict in `meta`, all in a module-level list
HOLDERS; one Lonely object reachable only through HOLDERS[5].meta["friend"].
Stdin lines "grow N" add N more Holders (answering "ok" on stdout).
"""

import signal
import sys

import leakscope.agent
from leakscope.trackref import object_ref


class Holder(object_ref):
    def __init__(self, n):
        self.n = n
        self.meta = {"n": n, "tag": "holder"}


class Lonely(object_ref):
    pass


HOLDERS = [Holder(i) for i in range(10_000)]
HOLDERS[5].meta["friend"] = Lonely()


def main():
    print(leakscope.agent.start(), flush=True)
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    for line in sys.stdin:
        words = line.split()
        if words[:1] == ["grow"]:
            HOLDERS.extend(Holder(i) for i in range(int(words[1])))
            print("ok", flush=True)


if __name__ == "__main__":
    main()
