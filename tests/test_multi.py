"""Several processes at once: --all and repeated --pid, one column per process."""

from __future__ import annotations

import json

import pytest

from leakscope.client.errors import ExitCode
from tests.conftest import cli_json, run_cli


@pytest.mark.slow
def test_prefs_all_and_repeated_pid(target_factory):
    a = target_factory("basic", "4", "1")
    b = target_factory("basic", "6", "2")
    data = cli_json("prefs", "--all")
    assert sorted(data["pids"]) == sorted([a.pid, b.pid])
    widget = next(r for r in data["rows"] if r["class"].endswith("Widget"))
    assert widget["count"] == 10
    assert widget["per_pid"] == {str(a.pid): 4, str(b.pid): 6}
    assert widget["oldest_age_s"] >= 0
    data2 = cli_json("prefs", "--pid", str(a.pid), "--pid", str(b.pid))
    assert {r["class"]: r["count"] for r in data2["rows"]} == {
        r["class"]: r["count"] for r in data["rows"]
    }
    table = run_cli("prefs", "--all", env={"COLUMNS": "160"})
    assert table.returncode == 0
    assert str(a.pid) in table.stdout and str(b.pid) in table.stdout and "Total" in table.stdout


def test_dead_pid_among_many_is_reported_not_fatal(target_factory):
    a = target_factory("basic", "3", "1")
    result = run_cli("prefs", "--pid", str(a.pid), "--pid", "4194303", "--json")
    assert result.returncode == ExitCode.PARTIAL
    data = json.loads(result.stdout)
    assert data["pids"] == [a.pid]
    assert "4194303" in data["gone"]
    assert result.stderr.count("\n") == 1 and "4194303" in result.stderr


def test_all_with_no_agents(socket_dir):
    result = run_cli("prefs", "--all")
    assert result.returncode == ExitCode.NONE_FOUND
    assert result.stderr.count("\n") == 1


@pytest.mark.slow
def test_heap_and_memory_all(target_factory):
    a = target_factory("basic", "3", "1")
    b = target_factory("basic", "5", "1")
    heap = cli_json("heap", "--all", "--limit", "500")
    widget = next(r for r in heap["rows"] if r["kind"].endswith("Widget"))
    assert widget["per_pid"] == {str(a.pid): 3, str(b.pid): 5}
    mem = cli_json("memory", "--all")
    assert sorted(r["pid"] for r in mem["rows"]) == sorted([a.pid, b.pid])
    assert all(r["rss"] > 0 for r in mem["rows"])


@pytest.mark.slow
def test_diff_all_over_an_interval(target_factory):
    a = target_factory("heapy")
    b = target_factory("basic", "2", "1")

    import threading
    import time

    def grow():
        time.sleep(1.0)
        a.proc.stdin.write("grow 77\n")
        a.proc.stdin.flush()

    threading.Thread(target=grow).start()
    data = cli_json("diff", "--all", "--interval", "2.5")
    assert sorted(data["pids"]) == sorted([a.pid, b.pid])
    top = data["rows"][0]
    assert top["class"].endswith("Holder") and top["delta"] == 77
    assert top["per_pid"] == {str(a.pid): 77}
