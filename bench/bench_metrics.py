"""What a Prometheus scrape costs the agent, and what ``prefs --all`` costs over one process.

Run: python bench/bench_metrics.py [--quick]

1. Scrape cost. 1M live tracked objects (20 classes, a fifth of them made
   under 4 owners; 100k with --quick) in this process, the metrics endpoint
   started as the agent starts it. Prints, median and worst of many runs:

   * the agent's work per scrape: the collector plus the exposition
     (``generate_latest`` on the endpoint's registry, what the endpoint's
     thread runs per request), in OpenMetrics (what Prometheus asks for) and
     in the older text format;
   * a whole HTTP scrape of ``/metrics`` (client in the same process, so it
     also counts the client's parsing of the response);
   * the peer: counting the same classes the objgraph way, by walking
     ``gc.get_objects()`` (what a registry-less exporter would have to do),
     and the ratio.

   Target: the agent's work < 5 ms at 1M objects.

2. ``prefs --all`` over 8 processes against ``prefs --pid`` of one (only when
   this leakscope has ``prefs --all``): median wall time of the real command,
   and the ratio. Target: < 2x.
"""

from __future__ import annotations

import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from leakscope import trackref  # noqa: E402
from leakscope.target import metrics  # noqa: E402

QUICK = "--quick" in sys.argv
N_OBJECTS = 100_000 if QUICK else 1_000_000
N_CLASSES = 20
OWNERS = ("cache", "sessions", "jobs", "pool")
BUDGET_MS = 5.0
OPENMETRICS = "application/openmetrics-text; version=1.0.0"


def make_classes() -> list[type]:
    return [
        type(f"Item{i}", (trackref.object_ref,), {"__slots__": ("n",)}) for i in range(N_CLASSES)
    ]


def fill(classes: list[type]) -> list[object]:
    keep: list[object] = []
    per_class = N_OBJECTS // len(classes)
    owned = per_class // 5
    for cls in classes:
        for name in OWNERS:
            with trackref.owner(name):
                keep.extend(cls() for _ in range(owned // len(OWNERS)))
        keep.extend(cls() for _ in range(per_class - owned))
    return keep


def timed(func, runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        func()
        out.append((time.perf_counter() - t) * 1000)
    return out


def objgraph_style_counts(classes: list[type]) -> dict[str, int]:
    wanted = set(classes)
    counts: dict[str, int] = {}
    for obj in gc.get_objects():
        cls = type(obj)
        if cls in wanted:
            counts[cls.__name__] = counts.get(cls.__name__, 0) + 1
    return counts


def bench_scrape() -> None:
    from prometheus_client import generate_latest
    from prometheus_client.openmetrics.exposition import generate_latest as openmetrics_latest

    classes = make_classes()
    gc.disable()
    t = time.perf_counter()
    keep = fill(classes)
    gc.enable()
    made = time.perf_counter() - t
    print(f"{len(keep):,} live tracked objects in {N_CLASSES} classes ({made:.1f} s to make)")
    address = metrics.start_metrics("127.0.0.1:0")
    assert address is not None, "the metrics endpoint did not start"
    registry = metrics.make_registry()
    body = generate_latest(registry)
    assert f'class="{classes[0].__module__}.Item0",source="leakscope"'.encode() in body
    work_text = timed(lambda: generate_latest(registry), 200)
    work_om = timed(lambda: openmetrics_latest(registry), 200)
    url = f"http://{address}/metrics"
    request = urllib.request.Request(url, headers={"Accept": OPENMETRICS})
    http = timed(lambda: urllib.request.urlopen(request).read(), 50)
    peer = timed(lambda: objgraph_style_counts(classes), 3)
    samples = sum(1 for line in body.splitlines() if not line.startswith(b"#"))
    print(f"scrape: {samples} samples, {len(body):,} bytes")
    for label, runs in (
        ("agent work, OpenMetrics (what Prometheus asks)", work_om),
        ("agent work, Prometheus text format            ", work_text),
        ("whole HTTP scrape, client in-process          ", http),
    ):
        print(f"{label}: median {statistics.median(runs):.2f} ms, worst {max(runs):.2f} ms")
    med = statistics.median(work_om)
    print(f"peer, objgraph-style gc.get_objects() count: median {statistics.median(peer):.1f} ms")
    print(f"ratio leakscope / peer: {med / statistics.median(peer):.4f}")
    verdict = "PASS" if med < BUDGET_MS else "FAIL"
    size = "1M" if not QUICK else f"{N_OBJECTS:,}"
    print(f"target: agent work < {BUDGET_MS:g} ms at {size} objects: {verdict} ({med:.2f} ms)")
    metrics.stop_metrics()
    del keep


def has_prefs_all() -> bool:
    done = subprocess.run(
        [sys.executable, "-m", "leakscope", "prefs", "--help"],
        capture_output=True,
        text=True,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
    )
    return "--all" in done.stdout


def bench_all(n_processes: int = 8, runs: int = 5) -> None:
    if not has_prefs_all():
        print("prefs --all: not in this leakscope yet; skipped")
        return
    target = ROOT / "tests" / "targets" / "basic.py"
    with tempfile.TemporaryDirectory(prefix="leakscope-bench-") as tmp:
        sockets = Path(tmp) / "sockets"
        sockets.mkdir(mode=0o700)
        env = dict(os.environ, PYTHONPATH=str(ROOT), LEAKSCOPE_SOCKET_DIR=str(sockets))
        procs = [
            subprocess.Popen(
                [sys.executable, str(target), "2000", "1000"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                env=env,
            )
            for _ in range(n_processes)
        ]
        try:
            for p in procs:
                assert p.stdout is not None and p.stdout.readline().strip()

            def cli(*args: str) -> float:
                t = time.perf_counter()
                done = subprocess.run(
                    [sys.executable, "-m", "leakscope", "prefs", *args, "--json"],
                    capture_output=True,
                    text=True,
                    env=env,
                )
                elapsed = time.perf_counter() - t
                assert done.returncode == 0, done.stderr
                json.loads(done.stdout)
                return elapsed * 1000

            one = [cli("--pid", str(procs[0].pid)) for _ in range(runs)]
            many = [cli("--all") for _ in range(runs)]
            m1, m8 = statistics.median(one), statistics.median(many)
            print(f"prefs --pid (1 process):   median {m1:.0f} ms")
            print(f"prefs --all ({n_processes} processes): median {m8:.0f} ms")
            verdict = "PASS" if m8 < 2 * m1 else "FAIL"
            print(f"target: --all over {n_processes} < 2x one: {verdict} (ratio {m8 / m1:.2f})")
        finally:
            for p in procs:
                if p.stdin is not None:
                    p.stdin.close()
            for p in procs:
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()


if __name__ == "__main__":
    bench_scrape()
    bench_all()
