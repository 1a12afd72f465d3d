"""A pre-fork server for real: `leakscope run -- gunicorn -w 3`, one agent per process."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import REPO, cli_json, terminate

APP_DIR = Path(__file__).parent / "gunicorn_app"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_gunicorn_master_and_workers_each_have_an_agent(socket_dir):
    gunicorn = shutil.which("gunicorn", path=os.path.dirname(sys.executable))
    if gunicorn is None:
        pytest.skip("gunicorn is not installed (pip install gunicorn)")
    port = _free_port()
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), str(APP_DIR)])
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "leakscope",
            "run",
            "--",
            gunicorn,
            "-w",
            "3",
            "-b",
            f"127.0.0.1:{port}",
            "--chdir",
            str(APP_DIR),
            "leakyapp:app",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        agents: list[dict] = []
        while time.monotonic() < deadline:
            agents = cli_json("ps")
            if len(agents) == 4:
                break
            time.sleep(0.3)
        assert len(agents) == 4, agents
        roles = sorted(a["role"] for a in agents)
        assert roles == ["master", "worker", "worker", "worker"]
        master = next(a for a in agents if a["role"] == "master")
        workers = [a["pid"] for a in agents if a["role"] == "worker"]
        assert all(a["ppid"] == master["pid"] for a in agents if a["role"] == "worker")

        for _ in range(60):
            urllib.request.urlopen(f"http://127.0.0.1:{port}/leak", timeout=10).read()
        for _ in range(30):
            urllib.request.urlopen(f"http://127.0.0.1:{port}/ok", timeout=10).read()

        data = cli_json("prefs", "--all")
        assert sorted(data["pids"]) == sorted([master["pid"], *workers])
        row = next(r for r in data["rows"] if r["class"].endswith("Session"))
        assert row["count"] == 60
        assert row["per_pid"].get(str(master["pid"]), 0) == 0
        assert sum(row["per_pid"].get(str(w), 0) for w in workers) == 60
    finally:
        terminate(proc, 30)
    time.sleep(0.5)
    assert cli_json("ps") == []
