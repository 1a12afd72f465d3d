"""A target holding one list of 100,000 dicts of unique strings and large ints (ROWS), and
a plain object (BOX) holding a list of unique strings.

Prints its socket path, then one JSON line: the sum of sys.getsizeof over ROWS, its
dicts and their unique values (the list's retained size by hand), the ids of ROWS,
ROWS[7] and BOX, and, with "guppy" in argv, guppy3's domisize of each (guppy3 runs
first, before any leakscope walk).
"""

import json
import signal
import sys

import leakscope.agent


class Box:
    def __init__(self):
        self.items = [f"box-item-{i:06d}" for i in range(1000)]


ROWS = [{"name": f"user-{i:06d}", "score": 10**30 + i} for i in range(100_000)]
BOX = Box()


def expected():
    total = sys.getsizeof(ROWS)
    for row in ROWS:
        total += sys.getsizeof(row) + sys.getsizeof(row["name"]) + sys.getsizeof(row["score"])
    return total


def main():
    facts = {
        "expected": expected(),
        "ids": {"ROWS": id(ROWS), "ROW7": id(ROWS[7]), "BOX": id(BOX)},
    }
    if "guppy" in sys.argv:
        from guppy import hpy

        h = hpy()
        facts["guppy"] = {
            "ROWS": h.iso(ROWS).domisize,
            "ROW7": h.iso(ROWS[7]).domisize,
            "BOX": h.iso(BOX).domisize,
        }
    print(leakscope.agent.start(), flush=True)
    print(json.dumps(facts), flush=True)
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    for _ in sys.stdin:
        pass


if __name__ == "__main__":
    main()
