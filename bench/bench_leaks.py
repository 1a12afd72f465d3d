"""What `leakscope leaks --sites` costs the target while it runs: tracemalloc on (with 4
frames, as leakscope turns it on for the interval; and with 1 and 8) against off, on
allocation-heavy code.

Each workload runs in a fresh process, tracing off, then on, the same code in the same run
(fastest of two); the table shows the time with tracing on as a multiple of the time
without, and the memory tracing took (its traces). Outside the interval tracing is off:
the program pays nothing.

    python bench/bench_leaks.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

WORKLOADS = {
    "objects": "make and drop 1M small objects (3 attributes)",
    "kept": "make and keep 200k dicts of 3 strings",
    "json": "json.loads + json.dumps of a 2 MB document, 5 times",
    "mixed": "a request-like loop: dict, list, str formatting, 300k times",
}


class Small:
    def __init__(self, i: int) -> None:
        self.a = i
        self.b = "x"
        self.c = None


def work(name: str) -> None:
    if name == "objects":
        for i in range(1_000_000):
            Small(i)
    elif name == "kept":
        kept = [{"id": str(i), "name": f"n{i}", "tag": "t" + str(i % 7)} for i in range(200_000)]
        del kept
    elif name == "json":
        document = json.dumps(
            [{"id": i, "name": f"item {i}", "tags": ["a", "b"]} for i in range(30_000)]
        )
        for _ in range(5):
            json.dumps(json.loads(document))
    else:
        out = []
        for i in range(300_000):
            request = {"path": f"/items/{i}", "headers": {"x": str(i)}}
            out.append(len(request["path"]) + len([request, i]))
        del out


def run_one(name: str, frames: int) -> dict:
    import tracemalloc

    tracing = frames > 0
    if tracing:
        tracemalloc.start(frames)
    t0 = time.perf_counter()
    work(name)
    elapsed = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1] if tracing else 0
    return {"seconds": elapsed, "trace_peak_mb": peak / 1e6}


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--one":
        print(json.dumps(run_one(sys.argv[2], int(sys.argv[3]))))
        return
    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} cpus\n")
    print(
        f"{'workload':8} {'off s':>7} {'4 frames':>9} {'ratio':>6} {'1 frame':>8} {'ratio':>6} "
        f"{'8 frames':>9} {'ratio':>6} {'traces MB':>9}  what"
    )
    for name, what in WORKLOADS.items():
        results = {}
        for mode in ("0", "4", "1", "8"):
            runs = [
                json.loads(
                    subprocess.run(
                        [sys.executable, __file__, "--one", name, mode],
                        capture_output=True,
                        text=True,
                        check=True,
                    ).stdout
                )
                for _ in range(2)
            ]
            results[mode] = min(runs, key=lambda r: r["seconds"])
        off, on, one, eight = (results[m]["seconds"] for m in ("0", "4", "1", "8"))
        print(
            f"{name:8} {off:7.2f} {on:9.2f} {on / off:5.1f}x {one:8.2f} {one / off:5.1f}x "
            f"{eight:9.2f} {eight / off:5.1f}x {results['4']['trace_peak_mb']:9.1f}  {what}"
        )


if __name__ == "__main__":
    main()
