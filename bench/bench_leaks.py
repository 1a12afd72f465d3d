"""What `leakscope leaks --sites` costs the target while it runs: tracemalloc on (8 frames,
as leakscope turns it on for the interval) against off, on allocation-heavy code.

Each workload runs in a fresh process, tracing off then on, the same code in the same run;
the table shows the time with tracing on as a multiple of the time without. Memory that
tracing takes (its traces) is reported too. Outside the interval tracing is off: the
program pays nothing.

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
    "json": "json.loads + json.dumps of a 2 MB document, 20 times",
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
        for _ in range(20):
            json.dumps(json.loads(document))
    else:
        out = []
        for i in range(300_000):
            request = {"path": f"/items/{i}", "headers": {"x": str(i)}}
            out.append(len(request["path"]) + len([request, i]))
        del out


def run_one(name: str, tracing: bool) -> dict:
    import tracemalloc

    if tracing:
        tracemalloc.start(8)
    t0 = time.perf_counter()
    work(name)
    elapsed = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1] if tracing else 0
    return {"seconds": elapsed, "trace_peak_mb": peak / 1e6}


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--one":
        print(json.dumps(run_one(sys.argv[2], sys.argv[3] == "on")))
        return
    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} cpus\n")
    print(f"{'workload':8} {'off s':>7} {'on s':>7} {'ratio':>6} {'traces MB':>9}  what")
    for name, what in WORKLOADS.items():
        results = {}
        for mode in ("off", "on"):
            runs = [
                json.loads(
                    subprocess.run(
                        [sys.executable, __file__, "--one", name, mode],
                        capture_output=True,
                        text=True,
                        check=True,
                    ).stdout
                )
                for _ in range(3)
            ]
            results[mode] = min(runs, key=lambda r: r["seconds"])
        off, on = results["off"]["seconds"], results["on"]["seconds"]
        print(
            f"{name:8} {off:7.2f} {on:7.2f} {on / off:5.1f}x {results['on']['trace_peak_mb']:9.1f}"
            f"  {what}"
        )


if __name__ == "__main__":
    main()
