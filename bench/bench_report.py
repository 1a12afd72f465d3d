"""`leakscope report`: the page's size and the time from collected data to a written file.

Two parts, each printed as a table against the issue's budget (a typical report at most
3 MB, written within 2 s of the data being collected):

* rendering alone, from typed answers built here: an hour of history at the default 5 s
  (720 samples) of 20, 100 and 500 tracked classes, a census of 2,000 heap types, five leak
  suspects with their paths and creation sites, and a treemap of 60 retainers; the best of
  several runs of render + write (`leakscope.client.files.write_output`);
* the real command against a real leaking process (tests/targets/leaky.py, which keeps
  every AuditEvent it makes, with 200 tracked Widget classes added so the history has
  classes to draw): `leakscope report --pid P`, and with `--interval 5 --sites`, next to
  `leakscope leaks` with the same interval (the peer: the same two dumps, no page). The
  command's own --json says how long collecting took (asking the agent, the heap walks
  and dumps, the interval) and how long making and writing the page took after that.

    python bench/bench_report.py            # everything
    python bench/bench_report.py --quick    # rendering of 20 classes, and the live report
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from leakscope.client.files import write_output  # noqa: E402
from leakscope.client.report_contents import (  # noqa: E402
    ReportContents,
    RetainedObject,
    RetainedTree,
)
from leakscope.client.reports import (  # noqa: E402
    HeapReport,
    HeapRow,
    HistoryTable,
    LeakHolder,
    LeakSite,
    LeaksReport,
    LeakSuspect,
    MemoryFigures,
    MemoryReport,
    MemorySample,
    PathEdge,
    PrefsReport,
    PrefsRow,
    RetentionPath,
    Snapshot,
    Verdict,
)
from leakscope.render.report import render  # noqa: E402

MB = 1024 * 1024
BUDGET_BYTES = 3 * MB
BUDGET_S = 2.0

#: The leaking target with tracked classes too: tests/targets/leaky.py, run by path.
TARGET = r"""
import os, runpy, sys, threading, time
os.environ.setdefault("LEAKSCOPE_HISTORY_INTERVAL", "0.5")
from leakscope.trackref import object_ref
classes = [type(f"Widget{i:03d}", (object_ref,), {}) for i in range(200)]
keep = []
def tracked():
    n = 0
    while True:
        keep.extend(classes[(n + i) % 200]() for i in range(1 + n % 7))
        n += 1
        time.sleep(0.05)
threading.Thread(target=tracked, daemon=True).start()
sys.argv = [sys.argv[1], "200"]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def typical(classes: int, samples: int = 720) -> ReportContents:
    """An hour of history at 5 s, a census, suspects and retainers, as typed answers."""
    t0 = time.time() - 5 * samples
    memory = tuple(
        MemorySample(
            t=t0 + 5 * i,
            rss=300 * MB + 40_000 * i,
            uss=280 * MB + 40_000 * i,
            python_objects_bytes=120 * MB + 30_000 * i,
            pymalloc_free=8 * MB,
            malloc_free_held=12 * MB,
        )
        for i in range(samples)
    )
    counts = {
        f"app.models.Model{c:03d}": tuple(500 + c * 3 + (i * (c % 9)) // 4 for i in range(samples))
        for c in range(classes)
    }
    history = HistoryTable(pid=4242, memory=memory, counts=counts, interval_s=5.0)
    now = memory[-1].t
    prefs = PrefsReport(
        pid=4242,
        time=now,
        rows=tuple(
            PrefsRow(name, c[-1], 3000.0 + i, "leakscope", None, 4, 40, 4.2)
            for i, (name, c) in enumerate(counts.items())
        ),
        history=True,
    )
    by_owner = PrefsReport(
        pid=4242,
        time=now,
        rows=tuple(
            PrefsRow(name, c[-1] // 2, 60.0, "leakscope", f"worker-{i % 8}")
            for i, (name, c) in enumerate(counts.items())
        ),
        group_by="owner",
    )
    heap = HeapReport(
        pid=4242,
        partition="type",
        of=None,
        total_count=2_000_000,
        total_size=250 * MB,
        elapsed_s=2.4,
        max_pause_s=0.012,
        partial=False,
        backend="builtin",
        rows=tuple(
            HeapRow(f"pkg{i % 40}.mod.Type{i}", 2000 - i // 2, 900_000 - i) for i in range(2000)
        ),
    )
    path = RetentionPath(
        found=True,
        root="module app.audit",
        edges=(
            PathEdge("module app.audit", ".audit", "app.audit._Audit"),
            PathEdge("app.audit._Audit", ".pending", "list"),
        ),
    )
    suspects = LeaksReport(
        pid=4242,
        interval_s=30.0,
        suspects=tuple(
            LeakSuspect(
                kind=f"app.models.Model{k:03d}",
                count_before=10_000,
                count_after=16_000,
                size_delta=6_000 * 56,
                retained_size=6_000 * 400,
                holder=LeakHolder("list", 0x7F0000000000 + k, path, 2_400_000, 18_000, 0.98),
                sites=tuple(
                    LeakSite(f"app/models.py:{40 + s}", "make", 6000 // (s + 1)) for s in range(5)
                ),
                finding="grows in one list",
            )
            for k in range(5)
        ),
        sites_asked=True,
    )
    events = tuple(
        RetainedObject("app.models.Model000", 0x7F1000000 + i, 56, 40_000, 90) for i in range(40)
    )
    retained = RetainedTree(
        pid=4242,
        total_count=2_000_000,
        total_size=250 * MB,
        roots=(
            RetainedObject("list", 0x7F0000000001, 80_000, 40 * MB, 300_000, events),
            *(
                RetainedObject("dict", 0x7F2000000 + i, 4096, (19 - i) * MB, 9000)
                for i in range(19)
            ),
        ),
    )
    snapshot = Snapshot(
        pid=4242,
        time=now,
        host="box",
        version="0.1.0",
        argv=("python", "-m", "app.server", "--workers", "4"),
        python="3.11.7",
        prefs=prefs,
        prefs_by={"owner": by_owner},
        memory=MemoryReport(4242, MemoryFigures(rss=330 * MB), Verdict("live-objects", "grew")),
        heap=heap,
    )
    return ReportContents(
        made=time.time(),
        command="leakscope report --pid 4242 --interval 30 --sites",
        snapshot=snapshot,
        history=history,
        interval_s=30.0,
        suspects=suspects,
        retained=retained,
    )


def bench_render(classes: int, directory: str, runs: int = 5) -> tuple[int, float]:
    """(bytes, best seconds) of render + write for *classes* tracked classes."""
    contents = typical(classes)
    best, size = float("inf"), 0
    out = os.path.join(directory, f"typical-{classes}.html")
    for _ in range(runs):
        started = time.perf_counter()
        page = render(contents)
        write_output(out, page, "report")
        best = min(best, time.perf_counter() - started)
        size = os.path.getsize(out)
    return size, best


def bench_live(directory: str, interval: float) -> list[tuple[str, dict]]:
    """The real command against a real leaking process: its --json figures."""
    sockets = os.path.join(directory, "sockets")
    os.mkdir(sockets, 0o700)
    env = dict(os.environ, LEAKSCOPE_SOCKET_DIR=sockets, PYTHONPATH=str(REPO))
    target = subprocess.Popen(
        [sys.executable, "-c", TARGET, str(REPO / "tests" / "targets" / "leaky.py")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert target.stdout is not None
    target.stdout.readline()
    time.sleep(20)  # forty history samples, and something leaked
    results = []
    watch = ["--interval", str(interval), "--sites"]
    try:
        for label, command in (
            ("leakscope report --pid P", ["report"]),
            (f"leakscope report --pid P --interval {interval:g} --sites", ["report", *watch]),
            (f"peer: leakscope leaks --pid P --interval {interval:g} --sites", ["leaks", *watch]),
        ):
            out = os.path.join(directory, f"live-{len(results)}.html")
            if command[0] == "report":
                command += ["-o", out]
            started = time.perf_counter()
            done = subprocess.run(
                [sys.executable, "-m", "leakscope", *command, "--pid", str(target.pid), "--json"],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            figures = json.loads(done.stdout)
            figures["wall_s"] = time.perf_counter() - started
            results.append((label, figures))
    finally:
        target.terminate()
        target.wait(10)
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    print(f"budget: at most {BUDGET_BYTES / MB:.0f} MiB, written within {BUDGET_S:g} s")
    print()
    print(f"{'rendering (typed answers in, file out)':<44} {'size':>10} {'of budget':>9}"
          f" {'render+write':>13} {'of budget':>9}")  # fmt: skip
    with tempfile.TemporaryDirectory() as d:
        for classes in (20,) if args.quick else (20, 100, 500):
            size, seconds = bench_render(classes, d)
            label = f"an hour of history, {classes} classes"
            print(
                f"{label:<44} {size / MB:>6.2f} MiB {size / BUDGET_BYTES:>9.0%}"
                f" {seconds:>11.3f} s {seconds / BUDGET_S:>9.1%}"
            )
        print()
        print(
            f"{'the real command (a leaking process)':<58} {'size':>10} {'collect':>9}"
            f" {'render+write':>13} {'wall':>8}"
        )
        for label, f in bench_live(d, 5.0):
            if "bytes" in f:
                print(
                    f"{label:<58} {f['bytes'] / MB:>6.2f} MiB {f['collect_s']:>7.2f} s"
                    f" {f['render_s']:>11.3f} s {f['wall_s']:>6.2f} s"
                )
            else:
                print(f"{label:<58} {'':>10} {'':>9} {'':>13} {f['wall_s']:>6.2f} s")
    print()
    echarts = REPO / "leakscope/render/report/assets/echarts/echarts.min.js"
    print(
        f"of which Apache ECharts 6.1.0 (vendored, inline): {echarts.stat().st_size / MB:.2f} MiB"
    )


if __name__ == "__main__":
    main()
