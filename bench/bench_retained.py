"""`leakscope retained` and `leakscope dump` on the census benchmark's heap, against
`leakscope heap --by-type` and midden 0.2 (dump + load), measured in the same run.

A target process builds the heap of ``bench_census.py`` (dict rows, small objects with
three attributes, atom tuples; "2M" is about 2 million objects), starts a leakscope agent,
and runs a thread that wants to tick every 10 ms. Then, each as a whole command in a new
process, as a user would type them:

* ``leakscope heap --by-type --pid P`` (the yardstick);
* ``leakscope retained --pid P`` (dump over the socket, dominators, table), with the
  target's worst tick wait and its added peak RSS while it ran;
* ``leakscope dump --pid P -o FILE`` and ``leakscope retained FILE`` (file size, times).

midden runs as midden users run it: ``dump_heap()`` inside a process holding the same
heap (with the same ticking thread), then ``HeapDumpExplorer.import_lines`` (midden's
loader, "medium" estimates as its UI's default) in a new process. midden must be
installed in the interpreter given by ``--midden-python`` (a scratch virtualenv: ``pip
install midden midden-analysis``); without it those rows are skipped.

    python bench/bench_retained.py --midden-python /tmp/middenvenv/bin/python
    python bench/bench_retained.py --quick       # the 200k heap only
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
SIZES = {"200k": 16_700, "2M": 167_000}
HEAP: dict = {}


class Ticker(threading.Thread):
    """A thread that wants to run every 10 ms; records its longest extra wait."""

    def __init__(self) -> None:
        super().__init__(daemon=True, name="ticker")
        self.worst = 0.0

    def run(self) -> None:
        last = time.perf_counter()
        while True:
            time.sleep(0.01)
            now = time.perf_counter()
            self.worst = max(self.worst, now - last - 0.01)
            last = now


def _rss_kb() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


def _peak_kb() -> int:
    """The peak RSS since the last `_reset_peak` (VmHWM)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _reset_peak() -> None:
    # Linux: writing 5 to clear_refs resets the peak RSS to the current RSS.
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def target(n: int) -> None:
    """The target: the heap, an agent, a ticker; stdin "reset" / "report" lines."""
    import gc

    from bench_census import build_heap

    start_rss = _rss_kb()
    HEAP.update(build_heap(n))
    gc.collect()
    heap_rss = _rss_kb() - start_rss
    import leakscope.agent

    path = leakscope.agent.start()
    ticker = Ticker()
    ticker.start()
    print(json.dumps({"socket": str(path), "heap_rss_kb": heap_rss}), flush=True)
    base = _rss_kb()
    for line in sys.stdin:
        if line.strip() == "reset":
            ticker.worst = 0.0
            base = _rss_kb()
            _reset_peak()
            print("{}", flush=True)
        elif line.strip() == "report":
            peak = _peak_kb()
            print(
                json.dumps(
                    {"worst_s": ticker.worst, "peak_kb": peak, "base_kb": base, "rss_kb": _rss_kb()}
                ),
                flush=True,
            )


def midden_dump(n: int, out: str) -> None:
    """In a midden interpreter: the same heap, a ticker, midden's own dump_heap."""
    import gc

    from bench_census import build_heap
    from midden.dump.dump_heap import dump_heap

    HEAP.update(build_heap(n))
    gc.collect()
    ticker = Ticker()
    ticker.start()
    time.sleep(0.05)
    ticker.worst = 0.0
    t0 = time.perf_counter()
    dump_heap(out)
    elapsed = time.perf_counter() - t0
    print(json.dumps({"seconds": elapsed, "worst_s": ticker.worst}))


def midden_load(dump: str, work: str) -> None:
    from midden_analysis import EstimatorPrecision, HeapDumpExplorer

    t0 = time.perf_counter()
    explorer = HeapDumpExplorer(work)
    with open(dump, "rb") as f:
        explorer.import_lines(f, EstimatorPrecision.Medium)
    elapsed = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"seconds": elapsed, "peak_mb": peak / 1024}))


def _cli(env: dict, *args: str) -> float:
    t0 = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "leakscope", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=1800,
    )
    elapsed = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"leakscope {' '.join(args)} failed: {done.stderr.strip()}")
    return elapsed


def _ask(proc: subprocess.Popen, line: str) -> dict:
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(line + "\n")
    proc.stdin.flush()
    return json.loads(proc.stdout.readline())


def measure(size: str, midden_python: str | None, repeat: int) -> dict:
    n = SIZES[size]
    tmp = Path(tempfile.mkdtemp(prefix="bench-retained-"))
    env = dict(os.environ, PYTHONPATH=str(ROOT), LEAKSCOPE_SOCKET_DIR=str(tmp / "s"), COLUMNS="160")
    proc = subprocess.Popen(
        [sys.executable, __file__, "--target", str(n)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    out: dict = {"size": size}
    try:
        assert proc.stdout is not None
        facts = json.loads(proc.stdout.readline())
        pid = str(proc.pid)
        out["heap_rss_mb"] = facts["heap_rss_kb"] / 1024
        # The agent's modules load at its first client: not timed.
        _cli(env, "heap", "--by-type", "--pid", pid)
        heap_runs = []
        for _ in range(repeat):
            _ask(proc, "reset")
            seconds = _cli(env, "heap", "--by-type", "--pid", pid)
            heap_runs.append((seconds, _ask(proc, "report")))
        out["heap_s"] = min(s for s, _ in heap_runs)
        out["heap_worst_tick_s"] = max(r["worst_s"] for _, r in heap_runs)
        out["heap_added_peak_mb"] = max(r["peak_kb"] - r["base_kb"] for _, r in heap_runs) / 1024
        out["census_mb"] = (
            json.loads(
                subprocess.run(
                    [sys.executable, "-m", "leakscope", "heap", "--pid", pid, "--json"],
                    capture_output=True,
                    text=True,
                    env=env,
                    check=True,
                ).stdout
            )["total_size"]
            / 1e6
        )
        runs = []
        for _ in range(repeat):
            _ask(proc, "reset")
            seconds = _cli(env, "retained", "--pid", pid, "--timeout", "600")
            report = _ask(proc, "report")
            runs.append((seconds, report))
        seconds, report = min(runs, key=lambda r: r[0])
        out["retained_s"] = seconds
        out["worst_tick_s"] = max(r["worst_s"] for _, r in runs)
        out["added_peak_mb"] = max(r["peak_kb"] - r["base_kb"] for _, r in runs) / 1024
        dump = tmp / "heap.dump"
        out["dump_s"] = _cli(env, "dump", "--pid", pid, "-o", str(dump), "--timeout", "600")
        out["dump_mb"] = dump.stat().st_size / 1e6
        out["retained_file_s"] = _cli(env, "retained", str(dump))
    finally:
        proc.stdin.close()  # type: ignore[union-attr]
        proc.wait(timeout=60)
    if midden_python:
        mdump = tmp / "midden.jsonl"
        menv = dict(env, PYTHONPATH=str(ROOT / "bench"))
        done = subprocess.run(
            [midden_python, __file__, "--midden-dump", str(n), str(mdump)],
            capture_output=True,
            text=True,
            env=menv,
            timeout=3600,
        )
        if done.returncode == 0 and mdump.exists():
            got = json.loads(done.stdout.strip().splitlines()[-1])
            out["midden_dump_s"], out["midden_worst_tick_s"] = got["seconds"], got["worst_s"]
            out["midden_mb"] = mdump.stat().st_size / 1e6
            work = tmp / "midden.lmdb"
            work.mkdir()
            done = subprocess.run(
                [midden_python, __file__, "--midden-load", str(mdump), str(work)],
                capture_output=True,
                text=True,
                env=menv,
                timeout=3600,
            )
            if done.returncode == 0:
                got = json.loads(done.stdout.strip().splitlines()[-1])
                out["midden_load_s"], out["midden_load_peak_mb"] = got["seconds"], got["peak_mb"]
            else:
                out["midden_error"] = (done.stderr.strip().splitlines() or ["?"])[-1]
        else:
            out["midden_error"] = (done.stderr.strip().splitlines() or ["?"])[-1]
    shutil.rmtree(tmp, ignore_errors=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the 200k heap only")
    parser.add_argument("--midden-python", default=None, help="an interpreter with midden")
    parser.add_argument("--repeat", type=int, default=2, help="runs per command (fastest kept)")
    parser.add_argument("--target", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--midden-dump", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--midden-load", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.target:
        target(args.target)
        return
    if args.midden_dump:
        midden_dump(int(args.midden_dump[0]), args.midden_dump[1])
        return
    if args.midden_load:
        midden_load(*args.midden_load)
        return
    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} cpus\n")
    for size in ["200k"] if args.quick else list(SIZES):
        r = measure(size, args.midden_python, max(1, args.repeat))
        print(json.dumps(r))
        print(
            f"\n{size}: heap RSS {r['heap_rss_mb']:.0f} MB, objects' sizes {r['census_mb']:.0f} MB"
        )
        print(
            f"  leakscope heap --by-type     {r['heap_s']:7.2f} s  (worst tick "
            f"{1000 * r['heap_worst_tick_s']:.0f} ms, added peak RSS "
            f"{r['heap_added_peak_mb']:.1f} MB)"
        )
        print(
            f"  leakscope retained --pid     {r['retained_s']:7.2f} s  = "
            f"{r['retained_s'] / r['heap_s']:.1f}x heap --by-type (goal <= 5)"
        )
        print(f"  target's worst tick wait     {1000 * r['worst_tick_s']:7.0f} ms (goal <= 100)")
        print(
            f"  target's added peak RSS      {r['added_peak_mb']:7.1f} MB = "
            f"{100 * r['added_peak_mb'] / r['census_mb']:.1f}% of the objects' sizes, "
            f"{100 * r['added_peak_mb'] / r['heap_rss_mb']:.1f}% of the heap's RSS (goal <= 10%)"
        )
        print(f"  leakscope dump -o FILE       {r['dump_s']:7.2f} s, {r['dump_mb']:.1f} MB")
        print(f"  leakscope retained FILE      {r['retained_file_s']:7.2f} s")
        if "midden_load_s" in r:
            ours = r["retained_s"]
            theirs = r["midden_dump_s"] + r["midden_load_s"]
            print(
                f"  midden dump_heap             {r['midden_dump_s']:7.2f} s, "
                f"{r['midden_mb']:.1f} MB, worst tick {1000 * r['midden_worst_tick_s']:.0f} ms"
            )
            print(
                f"  midden import_lines (load)   {r['midden_load_s']:7.2f} s, peak "
                f"{r['midden_load_peak_mb']:.0f} MB"
            )
            print(
                f"  dump file size: {100 * r['dump_mb'] / r['midden_mb']:.0f}% of midden's "
                "(goal <= 40%)"
            )
            print(
                f"  end to end: midden dump + load {theirs:.1f} s vs leakscope retained "
                f"{ours:.1f} s = {theirs / ours:.1f}x faster (goal >= 10x)"
            )
        elif "midden_error" in r:
            print(f"  midden: {r['midden_error']}")


if __name__ == "__main__":
    main()
