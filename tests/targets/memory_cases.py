"""Memory situations for `leakscope memory`, chosen by argv[1].

held-bytes: 100,000 bytes of 2 KB made, all but 1 in 50 freed (glibc keeps it)
growing:    a list that keeps growing with live objects
steady:     600,000 live objects made before the agent starts, then nothing changes
The agent starts first and history samples every 0.3 s, so the verdict has a
baseline from before the allocation. Prints "ready" once the situation is set.
"""

import os
import signal
import sys
import threading
import time

os.environ.setdefault("LEAKSCOPE_HISTORY_INTERVAL", "0.3")
import leakscope.agent  # noqa: E402

KEEP = []


class Row:
    def __init__(self, n):
        self.n = n
        self.payload = {"id": n, "name": f"row-{n}", "tags": [n, n + 1]}


def grow_forever():
    n = 0
    while True:
        KEEP.extend(Row(n + i) for i in range(20_000))
        n += 20_000
        time.sleep(0.2)


def main():
    if sys.argv[1] == "steady":
        KEEP.extend(Row(n) for n in range(200_000))
    print(leakscope.agent.start(), flush=True)
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    time.sleep(1.0)  # baseline samples
    if sys.argv[1] == "held-bytes":
        blobs = [bytes(2048) + i.to_bytes(4, "little") for i in range(100_000)]
        KEEP.extend(blobs[::50])
        del blobs
        time.sleep(0.8)
    elif sys.argv[1] == "growing":
        threading.Thread(target=grow_forever, daemon=True).start()
        time.sleep(2.5)
    print("ready", flush=True)
    sys.stdin.read()


if __name__ == "__main__":
    main()
