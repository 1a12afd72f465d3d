"""Heap census against guppy3 and Pympler, on the same heaps, each tool in a fresh process.

Heaps are built like DESIGN.md's anchor: n each of dict rows
({"id", "name", "score"}), small objects with 3 attributes, and atom tuples
(about 12 objects per n, plus the interpreter's own). For every heap size and
every tool a new subprocess builds the heap, runs the tool once while a thread
ticks every 10 ms, and reports wall time, added RSS (peak, from ru_maxrss) and
the longest tick the thread waited. Ratios are printed against the peers of
the same run. Every tool makes the table a user reads: leakscope's rows drawn
by its own renderer, guppy3's partition printed with ``str()`` (guppy3 computes
a partition lazily: reading only ``.count`` skips the work), Pympler's summary
formatted.

    python bench/bench_census.py            # heaps of ~200k, 2M and 6M objects
    python bench/bench_census.py --quick    # ~200k only
    python bench/bench_census.py --repeat 1 # one run per tool (default: fastest of 2)
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SIZES = {"200k": 16_700, "2M": 167_000, "6M": 500_000}
GUPPY_VIA_SIZES = ("200k", "2M")  # guppy's byvia is ~20 s per million objects


def build_heap(n: int) -> dict:
    class Small:
        def __init__(self, i: int) -> None:
            self.a = i + 1000
            self.b = str(i)
            self.c = i * 0.5

    rows = [{"id": i + 1000, "name": f"n{i}", "score": i * 1.5} for i in range(n)]
    objs = [Small(i) for i in range(n)]
    tups = [(i + 1000, str(i), float(i)) for i in range(n)]
    return {"rows": rows, "objs": objs, "tups": tups}


class Ticker(threading.Thread):
    """A thread of the target that wants to run every 10 ms; records its longest wait."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.worst = 0.0
        self.running = True

    def run(self) -> None:
        last = time.perf_counter()
        while self.running:
            time.sleep(0.01)
            now = time.perf_counter()
            self.worst = max(self.worst, now - last - 0.01)
            last = now


HEAP: dict = {}


def worker(tool: str, n: int) -> dict:
    # A module global, as a real program's data would be: retention paths start at modules.
    HEAP.update(build_heap(n))
    heap = HEAP
    import gc

    # Imports are not part of the timed run, for any tool.
    if tool.startswith("builtin"):
        import leakscope.render.heap  # noqa: F401
        import leakscope.target.census  # noqa: F401
    elif tool.startswith("guppy"):
        import guppy  # noqa: F401
    else:
        import pympler.muppy  # noqa: F401
        import pympler.summary  # noqa: F401

    gc.collect()
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    ticker = Ticker()
    ticker.start()
    time.sleep(0.05)
    ticker.worst = 0.0
    extra: dict = {}
    t0 = time.perf_counter()
    if tool in ("builtin-type", "builtin-via", "builtin-via-class"):
        from leakscope.target.census import census

        partition, of = {
            "builtin-type": ("type", None),
            "builtin-via": ("via", "dict"),
            "builtin-via-class": ("via", "Small"),
        }[tool]
        answer = census(partition, of=of, limit=20)
        table = _leakscope_table(answer)
        extra = {
            "count": answer["total_count"],
            "max_pause_s": answer["max_pause_s"],
            "table_lines": table.count("\n"),
        }
    elif tool == "builtin-path":
        from leakscope.target.census import retention_path

        target = heap["objs"][-1].b
        answer = retention_path(target)
        extra = {"found": answer["found"], "edges": len(answer["edges"])}
    elif tool == "guppy-type":
        from guppy import hpy

        part = hpy().heap().bytype
        table = str(part)  # what a user reads: the partition is computed here
        extra = {"count": part.count, "table_lines": table.count("\n")}
    elif tool == "guppy-via":
        from guppy import hpy

        part = hpy().heap().bytype[0].byvia
        table = str(part)
        extra = {"count": part.count, "table_lines": table.count("\n")}
    elif tool == "guppy-via-class":
        from guppy import hpy

        part = hpy().heap().bytype
        row = next(part[i] for i in range(len(part)) if part[i].kind.arg.__name__ == "Small")
        table = str(row.byvia)
        extra = {"count": row.byvia.count, "table_lines": table.count("\n")}
    elif tool == "muppy":
        from pympler import muppy, summary

        rows = summary.summarize(muppy.get_objects())
        table = "\n".join(summary.format_(rows))
        extra = {"count": sum(r[1] for r in rows), "table_lines": table.count("\n")}
    else:
        raise SystemExit(f"unknown tool {tool}")
    elapsed = time.perf_counter() - t0
    time.sleep(0.03)
    ticker.running = False
    rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "tool": tool,
        "seconds": elapsed,
        "added_rss_mb": (rss1 - rss0) / 1024,
        "worst_tick_wait_s": ticker.worst,
        **extra,
    }


def _leakscope_table(answer: dict) -> str:
    """The table `leakscope heap` prints for this census, as text."""
    import io

    from rich.console import Console

    from leakscope.client.reports import HeapReport
    from leakscope.render.heap import heap_table

    out = io.StringIO()
    Console(file=out, width=120).print(heap_table(HeapReport.from_json({**answer, "pid": 0})))
    return out.getvalue()


def run(tool: str, n: int) -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run(
        [sys.executable, __file__, "--worker", tool, str(n)],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )
    if done.returncode != 0:
        return {"tool": tool, "error": done.stderr.strip().splitlines()[-1:]}
    return json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="only the ~200k-object heap")
    parser.add_argument(
        "--repeat", type=int, default=2, help="runs per tool and heap; the fastest is kept"
    )
    parser.add_argument("--worker", nargs=2, metavar=("TOOL", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker[0], int(args.worker[1]))))
        return
    sizes = ["200k"] if args.quick else list(SIZES)
    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} cpus\n")
    header = (
        f"{'heap':>5} {'tool':17} {'objects':>10} {'seconds':>8} {'+RSS MB':>8} {'worst wait':>10}"
    )
    print(header)
    print("-" * len(header))
    results: dict[str, dict[str, dict]] = {}
    for size in sizes:
        n = SIZES[size]
        tools = ["builtin-type", "guppy-type", "muppy", "builtin-via", "builtin-via-class"]
        if size in GUPPY_VIA_SIZES:
            tools += ["guppy-via", "guppy-via-class"]
        tools.append("builtin-path")
        results[size] = {}
        for tool in tools:
            # The machine is shared and noisy: keep each tool's fastest run.
            runs = [run(tool, n) for _ in range(max(1, args.repeat))]
            r = min(runs, key=lambda x: x.get("seconds", float("inf")))
            results[size][tool] = r
            if "error" in r:
                print(f"{size:>5} {tool:17} error: {r['error']}")
                continue
            count = r.get("count", r.get("edges", ""))
            print(
                f"{size:>5} {tool:17} {count:>10} {r['seconds']:8.2f} "
                f"{r['added_rss_mb']:8.1f} {r['worst_tick_wait_s'] * 1000:8.1f}ms"
            )
    print("\nRatios (same run; lower is better for leakscope)")
    for size, by_tool in results.items():

        def secs(tool: str, by_tool: dict = by_tool) -> float | None:
            r = by_tool.get(tool)
            return r["seconds"] if r and "seconds" in r else None

        def rss(tool: str, by_tool: dict = by_tool) -> float | None:
            r = by_tool.get(tool)
            return r["added_rss_mb"] if r and "added_rss_mb" in r else None

        ours, guppy, muppy = secs("builtin-type"), secs("guppy-type"), secs("muppy")
        if ours and guppy:
            print(f"{size:>5} by type: time {ours / guppy:5.2f}x guppy3 (target <= 0.5)", end="")
            ours_rss, guppy_rss = rss("builtin-type"), rss("guppy-type")
            if ours_rss is not None and guppy_rss:
                print(f", added RSS {ours_rss / guppy_rss:5.2f}x guppy3 (target <= 0.5)", end="")
            print()
        if ours and muppy:
            print(f"{size:>5} by type: {muppy / ours:5.1f}x faster than Pympler (target >= 5)")
        for label, mine, theirs in (
            ("via of dict (largest type)", "builtin-via", "guppy-via"),
            ("via of class Small", "builtin-via-class", "guppy-via-class"),
        ):
            via, guppy_via = secs(mine), secs(theirs)
            if via and guppy_via:
                print(
                    f"{size:>5} {label}: {guppy_via / via:5.1f}x faster than guppy3 (target >= 10)"
                )
            elif via:
                print(f"{size:>5} {label}: {via:.2f} s (guppy3 not run at this size)")
        path = secs("builtin-path")
        if path is not None:
            print(f"{size:>5} retention_path: {path:.2f} s (target at 2M < 2 s)")
    if len(results) > 1:
        first, last = list(results)[0], list(results)[-1]
        a, b = results[first].get("builtin-type", {}), results[last].get("builtin-type", {})
        if "seconds" in a and "seconds" in b:
            objects = b["count"] / a["count"]
            print(
                f"scaling {first}->{last}: objects x{objects:.1f}, "
                f"time x{b['seconds'] / a['seconds']:.1f} (linear would be x{objects:.1f})"
            )


if __name__ == "__main__":
    main()
