"""What the history costs, and the two "leaks without leaks" shown by the verdict.

Run: python bench/bench_history.py [--quick]

Prints:
1. one sample with 50 tracked classes and 1M tracked objects (class counts,
   memory figures, the whole sample), next to Scrapy's own per-class report
   (``format_live_refs``) at the same 1M objects, measured in the same run;
2. the memory an hour of samples takes (packed History vs a plain list of the
   same sample dicts);
3. the CPU an idle history thread uses over 10 s;
4. in separate processes: small dicts freed but one in fifty kept
   (pymalloc-held, malloc_trim cannot help) and 2 KB bytes freed but one in
   fifty kept (glibc-held, malloc_trim brings RSS down): figures, verdict,
   trim.
"""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import textwrap
import threading
import time
import tracemalloc
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from leakscope.client.analysis.verdict import judge  # noqa: E402
from leakscope.client.reports import MemoryAnswer  # noqa: E402
from leakscope.target import memory  # noqa: E402
from leakscope.target.history import History, class_counts, default_sample  # noqa: E402

MIB = 1024 * 1024
QUICK = "--quick" in sys.argv


def best_of(fn: Any, repeat: int = 7) -> float:
    """Best wall time of ``repeat`` calls, in seconds."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def ms(seconds: float) -> str:
    return f"{seconds * 1000:9.3f} ms"


def one_sample_cost() -> dict[str, Any]:
    from leakscope import trackref

    n_objects = 200_000 if QUICK else 1_000_000
    classes = [type(f"Cls{i:02d}", (trackref.object_ref,), {}) for i in range(50)]
    keep = [classes[i % 50]() for i in range(n_objects)]
    counts = class_counts()
    assert sum(counts.values()) >= n_objects, "trackref did not count our objects"

    t_counts = best_of(class_counts)
    t_figures = best_of(memory.memory_figures)
    t_pymalloc = best_of(memory.pymalloc_figures)
    t_malloc = best_of(memory.malloc_figures)
    t_sample = best_of(default_sample)

    print(f"\n1. one sample: 50 classes, {n_objects:,} tracked objects")
    print(f"   class counts (trackref.class_stats)   {ms(t_counts)}")
    print(f"   memory_figures() (with psutil USS)    {ms(t_figures)}")
    print(f"     of which pymalloc stats             {ms(t_pymalloc)}")
    print(f"     of which glibc mallinfo2            {ms(t_malloc)}")
    print(f"   whole default sample                  {ms(t_sample)}")

    scrapy_cost = None
    try:
        from scrapy.utils import trackref as scrapy_trackref

        scrapy_classes = [
            type(f"ScrapyCls{i:02d}", (scrapy_trackref.object_ref,), {}) for i in range(50)
        ]
        scrapy_keep = [scrapy_classes[i % 50]() for i in range(n_objects)]
        live_refs = scrapy_trackref.live_refs
        scrapy_counts = best_of(lambda: {c: len(w) for c, w in live_refs.items()})
        scrapy_cost = best_of(scrapy_trackref.format_live_refs, repeat=3)
        print(f"   peer: Scrapy len() per live_refs class {ms(scrapy_counts)}  (counts only)")
        print(f"   peer: Scrapy format_live_refs()       {ms(scrapy_cost)}  (counts + oldest)")
        print(f"   ratio class counts / Scrapy report    {t_counts / scrapy_cost:9.4f}")
        del scrapy_keep
    except ImportError:
        print("   peer: Scrapy not installed")
    sample = default_sample()
    del keep
    gc.collect()
    return sample


def hour_of_samples(sample: dict[str, Any]) -> None:
    interval = 5.0
    n = int(3600 / interval)
    i = 0

    def next_sample() -> dict[str, Any]:
        nonlocal i
        i += 1
        # New int objects each time, as real counts would be.
        counts = {k: v + i * 1000 for k, v in sample["counts"].items()}
        rest = {k: (v + i * 4096 if type(v) is int else v) for k, v in sample.items()}
        rest.update(t=1e9 + i * interval, counts=counts)
        return rest

    tracemalloc.start()
    start = tracemalloc.get_traced_memory()[0]
    history = History(interval_s=interval, keep_s=3600.0, sample=next_sample)
    for _ in range(n + 10):
        history.sample_now()
    packed = tracemalloc.get_traced_memory()[0] - start
    kept = len(history)
    del history
    i = 0
    start = tracemalloc.get_traced_memory()[0]
    plain = [next_sample() for _ in range(kept)]
    naive = tracemalloc.get_traced_memory()[0] - start
    tracemalloc.stop()
    del plain
    print(f"\n2. an hour of samples ({kept} x {len(sample['counts'])} classes, 5 s interval)")
    print(f"   packed History                        {packed / MIB:9.3f} MiB")
    print(f"     per sample                          {packed / kept:9.0f} bytes")
    print(f"   peer: list of plain sample dicts      {naive / MIB:9.3f} MiB")
    print(f"   ratio packed / plain                  {packed / naive:9.3f}")


def thread_cpu(thread: threading.Thread) -> float:
    assert thread.ident is not None
    return time.clock_gettime(time.pthread_getcpuclockid(thread.ident))


def idle_thread_cpu() -> None:
    seconds = 3.0 if QUICK else 10.0

    def history_thread(history: History) -> threading.Thread:
        existing = {t for t in threading.enumerate() if t.name == "leakscope-history"}
        history.start()
        new = {t for t in threading.enumerate() if t.name == "leakscope-history"} - existing
        return new.pop()

    idle = History(interval_s=3600.0, keep_s=3600.0)
    busy = History(interval_s=5.0, keep_s=3600.0)
    idle_thread = history_thread(idle)
    busy_thread = history_thread(busy)
    time.sleep(0.5)  # both took their first sample
    idle_before, busy_before = thread_cpu(idle_thread), thread_cpu(busy_thread)
    process_before = os.times()
    time.sleep(seconds)
    idle_used = thread_cpu(idle_thread) - idle_before
    busy_used = thread_cpu(busy_thread) - busy_before
    process = sum(os.times()[:2]) - sum(process_before[:2])
    idle.stop()
    busy.stop()
    print(f"\n3. history threads over {seconds:.0f} s")
    print(f"   idle thread (waiting, no sample due)  {ms(idle_used)} CPU")
    print(f"   thread sampling every 5 s             {ms(busy_used)} CPU")
    print(f"   whole process (main thread sleeping)  {ms(process)} CPU")


DEMO = textwrap.dedent(
    """
    import json, sys, time
    from leakscope.target import memory
    kind, n = sys.argv[1], int(sys.argv[2])
    before = dict(memory.memory_summary(memory.memory_figures()), t=time.time())
    if kind == "dicts":
        tmp = [{"i": i} for i in range(n)]
    else:
        tmp = [bytes(2048) + b"x" for _ in range(n)]
    peak = memory.memory_figures()["rss"]
    keep = tmp[::50]
    del tmp
    now = memory.memory_figures(); now_t = time.time()
    t0 = time.perf_counter(); trim = memory.trim(); trim["seconds"] = time.perf_counter() - t0
    after = memory.memory_figures(); after_t = time.time()
    print(json.dumps({"before": before, "peak": peak, "now": now, "now_t": now_t, "trim": trim,
                      "after": after, "after_t": after_t, "kept": len(keep)}))
    """
)


def verdict_of(figures: dict, t: float, before: dict) -> dict:
    answer = MemoryAnswer.from_json({"pid": 0, "time": t, "figures": figures, "samples": [before]})
    return judge(answer).to_json()


def demo(kind: str, n: int, label: str) -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("LEAKSCOPE_AGENT", None)
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", DEMO, kind, str(n)], capture_output=True, text=True, env=env
    )
    took = time.perf_counter() - t0
    if proc.returncode != 0:
        print(f"   {label}: target failed: {proc.stderr.strip()[-300:]}")
        return
    d = json.loads(proc.stdout)
    now, after = d["now"], d["after"]
    # The verdict is the client's, as `leakscope memory` judges it.
    d["verdict"] = verdict_of(now, d["now_t"], d["before"])
    d["verdict_after"] = verdict_of(after, d["after_t"], d["before"])
    pm, m = now["pymalloc"], now["malloc"]
    print(f"\n   {label} ({took:.1f} s)")
    print(
        f"   RSS {d['before']['rss'] / MIB:.0f} MiB at start, {d['peak'] / MIB:.0f} MiB at "
        f"peak, {now['rss'] / MIB:.0f} MiB after freeing all but {d['kept']:,}"
    )
    print(
        f"   pymalloc: {pm['arenas_in_use']} arenas, {pm['arena_bytes'] / MIB:.0f} MiB, "
        f"utilisation {pm['utilisation']:.1%}; glibc: in use {m['in_use'] / MIB:.0f} MiB, "
        f"free held {m['free_held'] / MIB:.0f} MiB, releasable {m['releasable'] / MIB:.0f} MiB"
    )
    print(f"   verdict: {d['verdict']['verdict']}, trim_may_help={d['verdict']['trim_may_help']}")
    print(f"     {d['verdict']['reason']}")
    t = d["trim"]
    print(
        f"   malloc_trim(0): RSS {t['rss_before'] / MIB:.0f} -> {t['rss_after'] / MIB:.0f} MiB "
        f"in {t['seconds'] * 1000:.1f} ms; afterwards RSS {after['rss'] / MIB:.0f} MiB, "
        f"verdict {d['verdict_after']['verdict']}, "
        f"trim_may_help={d['verdict_after']['trim_may_help']}"
    )


def main() -> None:
    print(f"Python {sys.version.split()[0]}, pid {os.getpid()}, quick={QUICK}")
    sample = one_sample_cost()
    hour_of_samples(sample)
    idle_thread_cpu()
    print('\n4. "leaks without leaks" (each in its own process)')
    demo("dicts", 600_000 if QUICK else 3_000_000, "small dicts freed, 1 in 50 kept")
    demo("bytes", 100_000, "2 KB bytes freed, 1 in 50 kept")


if __name__ == "__main__":
    main()
