"""A target that leaks a plain (untracked) class into a module-level structure.

``audit.pending`` (an `_Audit` instance in this module) keeps every `AuditEvent`
a background thread records (argv[1] events a second, default 200), each with a
dict of unique strings; `Scratch` objects are made and dropped (not a leak).
Stdin lines: "pause" / "resume" the thread; "count" prints len(audit.pending);
"tracing" prints whether tracemalloc is on.
"""

import signal
import sys
import threading
import time

import leakscope.agent


class AuditEvent:
    def __init__(self, n):
        self.n = n
        self.user = f"user-{n}"
        self.details = {"path": f"/items/{n}", "agent": f"agent-{n % 7}-{n}"}


class Scratch:
    def __init__(self, n):
        self.payload = [n] * 10


class _Audit:
    def __init__(self):
        self.pending = []

    def record(self, n):
        self.pending.append(AuditEvent(n))


audit = _Audit()
running = threading.Event()
running.set()


def work(rate):
    n = 0
    while True:
        running.wait()
        for _ in range(max(1, rate // 50)):
            audit.record(n)
            Scratch(n)
            n += 1
        time.sleep(0.02)


def main():
    rate = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    print(leakscope.agent.start(), flush=True)
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    threading.Thread(target=work, args=(rate,), daemon=True, name="worker").start()
    for line in sys.stdin:
        word = line.strip()
        if word == "pause":
            running.clear()
        elif word == "resume":
            running.set()
        elif word == "count":
            print(len(audit.pending), flush=True)
        elif word == "tracing":
            import tracemalloc

            print(tracemalloc.is_tracing(), flush=True)


if __name__ == "__main__":
    main()
