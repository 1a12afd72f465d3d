"""`leakscope demo`: the real walk-through, run as a user would (without a terminal or stdin)."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import psutil
import pytest

from leakscope.client.demo.walkthrough import FINDING, STEPS
from tests.conftest import run_cli


def _demo_programs(socket_dir: Path) -> list[psutil.Process]:
    """Demo programs still running with this test's socket directory."""
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        try:
            if "leakscope.demo.program" not in (proc.info["cmdline"] or []):
                continue
            if proc.environ().get("LEAKSCOPE_SOCKET_DIR") == str(socket_dir):
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


@pytest.mark.slow
def test_demo_runs_every_step_and_leaves_nothing_behind(socket_dir: Path) -> None:
    result = run_cli("demo", "--pause", "0", env={"COLUMNS": "120"}, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    out = result.stdout
    started = re.search(r"Started a leaky demo program: pid (\d+), agent socket (\S+)", out)
    assert started, out
    pid, socket = started.group(1), started.group(2)
    assert Path(socket).parent == socket_dir

    # Each step: its title, then its command line, then that command's own output.
    expected_output = [
        "Processes with a leakscope agent",
        "Leak suspects in pid",
        "Live References — pid",
        "Why is it alive?",
        "verdict",
        '"rows": [',
    ]
    chunks = re.split(r"^\$ leakscope (.*)$", out, flags=re.M)
    commands, outputs = chunks[1::2], chunks[2::2]
    assert [shlex.split(c) for c in commands] == [
        [a.format(pid=pid) for a in args] for _, args in STEPS
    ]
    for (title, _), before, output, words in zip(
        STEPS, chunks[0:-1:2], outputs, expected_output, strict=True
    ):
        assert before.rstrip().endswith(f"# {title}"), (title, before)
        assert words in output, (title, output)

    leaks = " ".join(outputs[1].split())  # the finding wraps
    first = leaks.split("2. ", 1)[0]
    # The leak, named in one command: the class, its holder with its path, the line.
    assert "1. __main__.Page" in first, leaks
    assert "held by: dict at module __main__ → .CACHE" in first, leaks
    assert "made in: crawl_forever()" in first and "program.py:" in first, leaks
    prefs = outputs[2]
    counts = {
        m.group(1): int(m.group(2).replace(",", ""))
        for m in re.finditer(r"__main__\.(\w+)\s*│\s*([\d,]+)", prefs)
    }
    assert counts["Page"] >= 300 and counts["Request"] >= 300  # the preloaded leak
    assert 1 <= counts["Session"] <= 5  # bounded: no leak
    assert ".url" in outputs[3] and "'https://shop.example/start/0'" in outputs[3]
    why = outputs[3]
    assert "root: module __main__" in why and ".CACHE" in why
    assert "→ __main__.Page" in why
    assert "live-objects" in outputs[4]
    data = json.loads(outputs[5][: outputs[5].rindex("}") + 1])
    assert data["pid"] == int(pid)
    assert {r["class"] for r in data["rows"]} == {
        "__main__.Page",
        "__main__.Request",
        "__main__.Session",
    }
    assert FINDING in out
    assert f"Demo program stopped (pid {pid}); its socket is gone: True" in out

    # Nothing left behind: no program, no socket.
    assert not Path(socket).exists()
    assert list(socket_dir.iterdir()) == []
    assert not psutil.pid_exists(int(pid)) or psutil.Process(int(pid)).status() == "zombie"
    assert _demo_programs(socket_dir) == []
