"""What an idle agent costs its host: CPU ticks and resident memory.

Starts the same small idle program several ways, side by side, and watches
them for 30 seconds (``--seconds``):

* ``bare``          -- leakscope not imported (the baseline)
* ``imported``      -- ``import leakscope.agent``, agent not started
* ``started``       -- agent started, growth history off
* ``served``        -- agent started, history off, after one CLI query
                       (RPyC and the service are imported on the first client)
* ``with-history``  -- agent started with the default growth history (5 s samples)

For each it prints RSS (and the difference to ``bare``), the CPU ticks the
whole process used over the window, and the ticks of the agent's accept
thread alone. The goal: the accept thread uses 0 ticks and the agent adds
under 5 MB. Not a test: the machine is shared, so read the figures, not a
pass/fail.

Run: ``python bench/bench_agent.py [--seconds 30]``
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

# The idle host: build a little state, optionally start the agent, report its
# threads' native ids, then sleep until stdin closes.
HOST = r"""
import json, os, sys, threading
mode = sys.argv[1]
data = [dict(n=i) for i in range(10_000)]  # some state of its own
if mode != "bare":
    import leakscope.agent
    if mode != "imported":
        leakscope.agent.start()
threads = {t.name: t.native_id for t in threading.enumerate()}
print(json.dumps({"pid": os.getpid(), "threads": threads}), flush=True)
sys.stdin.read()
"""

MODES = ("bare", "imported", "started", "served", "with-history")


def rss_kb(pid: int) -> int:
    """Resident set size of *pid* in kB."""
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def ticks(path: str) -> int:
    """utime + stime (clock ticks) from a /proc .../stat file."""
    with open(path) as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def start(mode: str, sock_dir: str) -> tuple[subprocess.Popen[str], dict]:
    """Start one idle host; return it and its ready line."""
    env = dict(os.environ, PYTHONPATH=str(REPO), LEAKSCOPE_SOCKET_DIR=sock_dir)
    env["LEAKSCOPE_HISTORY_INTERVAL"] = "5" if mode == "with-history" else "0"
    proc = subprocess.Popen(
        [sys.executable, "-c", HOST, mode],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    return proc, json.loads(proc.stdout.readline())


def main() -> None:
    """Measure every mode side by side and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    opts = parser.parse_args()
    sock_dir = tempfile.mkdtemp(prefix="lsb-")
    hosts = {mode: start(mode, sock_dir) for mode in MODES}
    try:
        served_pid = hosts["served"][1]["pid"]
        query = subprocess.run(
            [sys.executable, "-m", "leakscope", "prefs", "--pid", str(served_pid), "--json"],
            capture_output=True,
            text=True,
            env=dict(os.environ, PYTHONPATH=str(REPO)),
        )
        if query.returncode != 0:
            print(f"query of the 'served' host failed: {query.stderr.strip()}", file=sys.stderr)
        time.sleep(2.0)  # let start-up work settle before the window opens
        before = {}
        for mode, (_, ready) in hosts.items():
            pid = ready["pid"]
            agent_tid = ready["threads"].get("leakscope-agent")
            agent_stat = f"/proc/{pid}/task/{agent_tid}/stat" if agent_tid else None
            before[mode] = (ticks(f"/proc/{pid}/stat"), ticks(agent_stat) if agent_stat else None)
        print(f"watching {len(hosts)} idle hosts for {opts.seconds:g} s ...", file=sys.stderr)
        time.sleep(opts.seconds)
        bare_rss = rss_kb(hosts["bare"][1]["pid"])
        hz = os.sysconf("SC_CLK_TCK")
        print(f"\nidle agent footprint over {opts.seconds:g} s ({hz} ticks/s)\n")
        print(f"{'host':<14}{'RSS kB':>10}{'vs bare':>10}{'process ticks':>16}{'agent thread':>15}")
        for mode, (_, ready) in hosts.items():
            pid = ready["pid"]
            rss = rss_kb(pid)
            proc_ticks = ticks(f"/proc/{pid}/stat") - before[mode][0]
            agent_tid = ready["threads"].get("leakscope-agent")
            agent = "-"
            if agent_tid and before[mode][1] is not None:
                agent = str(ticks(f"/proc/{pid}/task/{agent_tid}/stat") - before[mode][1])
            print(f"{mode:<14}{rss:>10}{rss - bare_rss:>+10}{proc_ticks:>16}{agent:>15}")
        print(
            "\ngoal: agent thread 0 ticks; 'started' and 'served' under +5120 kB vs 'bare' "
            "(history sampling costs ticks by design: it wakes every 5 s)"
        )
    finally:
        for proc, _ in hosts.values():
            if proc.stdin is not None:
                proc.stdin.close()
            proc.wait(10)
        shutil.rmtree(sock_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
