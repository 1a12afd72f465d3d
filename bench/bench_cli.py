"""Whole-command cost at 1M live tracked objects: `leakscope prefs`, and a snapshot's size.

Starts a target holding N tracked objects spread over 50 classes, then runs
the real `leakscope prefs --pid P` (table and --json) repeatedly as a
subprocess and prints the median and best wall time, next to the same
target's answer time inside the agent and Python's own start-up time measured
in the same run (`python -c pass`), so the ratio says what leakscope adds. The
floor is Python starting and importing what any table needs and nothing of
leakscope: click (the command line), rich (the table) and rpyc (the agent's
protocol).

    python bench/bench_cli.py            # 1M objects, 15 runs each
    python bench/bench_cli.py --quick    # 100k objects, 5 runs
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

TARGET = r"""
import sys, leakscope.agent
from leakscope.trackref import object_ref
classes = [type(f"Cls{i}", (object_ref,), {}) for i in range(50)]
keep = [classes[i % 50]() for i in range(int(sys.argv[1]))]
print(leakscope.agent.start(), flush=True)
sys.stdin.read()
"""


#: What any `leakscope prefs` table must import, leakscope itself aside.
FLOOR = "import click, rich.console, rich.table, rpyc.core.protocol, rpyc.core.stream"


def timed(cmd: list[str], env: dict[str, str], runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(
            cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True
        )
        out.append(time.perf_counter() - t0)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    n = 100_000 if args.quick else 1_000_000
    runs = 5 if args.quick else 15
    with tempfile.TemporaryDirectory() as d:
        sockets = os.path.join(d, "s")
        os.mkdir(sockets, 0o700)
        env = dict(os.environ, LEAKSCOPE_SOCKET_DIR=sockets, COLUMNS="120")
        # As installed: modules come from their bytecode caches, not compiled each run.
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        target = subprocess.Popen(
            [sys.executable, "-c", TARGET, str(n)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        assert target.stdout is not None and target.stdin is not None
        target.stdout.readline()
        pid = str(target.pid)
        try:
            for warm_up in (["prefs"], ["prefs", "--json"], ["snapshot", "-o", os.devnull]):
                timed([sys.executable, "-m", "leakscope", *warm_up, "--pid", pid], env, 1)
            bare = timed([sys.executable, "-c", "pass"], env, runs)
            floor = timed([sys.executable, "-c", FLOOR], env, runs)
            table = timed([sys.executable, "-m", "leakscope", "prefs", "--pid", pid], env, runs)
            js = timed(
                [sys.executable, "-m", "leakscope", "prefs", "--pid", pid, "--json"], env, runs
            )
            snap = os.path.join(d, "snap.json")
            t0 = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "leakscope", "snapshot", "--pid", pid, "-o", snap],
                env=env,
                stdout=subprocess.DEVNULL,
                check=True,
            )
            snap_s = time.perf_counter() - t0
            snap_bytes = os.path.getsize(snap)
            from leakscope.client.connector import Connector

            with Connector().connect(int(pid)) as c:
                inner = []
                for _ in range(50):
                    t0 = time.perf_counter()
                    c.call("prefs", (), None)
                    inner.append(time.perf_counter() - t0)
        finally:
            target.stdin.close()
            target.wait(timeout=30)

    def ms(xs: list[float]) -> str:
        return f"median {1000 * statistics.median(xs):7.1f} ms   best {1000 * min(xs):7.1f} ms"

    print(f"leakscope prefs at {n:,} live tracked objects (50 classes), {runs} runs each")
    print(f"  python -c pass (start-up alone)  {ms(bare)}")
    print(f"  floor: python importing click, rich, rpyc  {ms(floor)}")
    print(f"  leakscope prefs --pid P (table)   {ms(table)}")
    print(f"  leakscope prefs --pid P --json    {ms(js)}")
    print(f"  one prefs call over the socket    {ms(inner)}  (connection reused)")
    print(
        f"  leakscope snapshot -o FILE        {1000 * snap_s:7.1f} ms, "
        f"{snap_bytes:,} bytes (target: under 1 MB)"
    )
    med = statistics.median(table)
    print(
        f"  goal: at most 150 ms median for the table -> {1000 * med:.0f} ms "
        f"({'met' if med <= 0.150 else 'not met'}); leakscope's own share above the floor: "
        f"{1000 * (med - statistics.median(floor)):.0f} ms"
    )


if __name__ == "__main__":
    main()
