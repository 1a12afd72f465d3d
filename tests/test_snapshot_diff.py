"""Snapshots, diff (files, live, interval), owners, sites, and bad snapshot files."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from leakscope.client.errors import ExitCode
from tests.conftest import TARGETS, cli_json, run_cli


@pytest.fixture
def heapy(target_factory):
    return target_factory("heapy")


def _grow(target, n: int) -> None:
    target.proc.stdin.write(f"grow {n}\n")
    target.proc.stdin.flush()
    assert target.proc.stdout.readline().strip() == "ok"


@pytest.mark.slow
def test_snapshot_round_trip_and_diff_of_files(heapy, tmp_path):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    result = run_cli("snapshot", "--pid", str(heapy.pid), "-o", str(a), "--heap")
    assert result.returncode == 0, result.stderr
    _grow(heapy, 500)
    assert run_cli("snapshot", "--pid", str(heapy.pid), "-o", str(b), "--heap").returncode == 0
    snap = json.loads(a.read_text())
    assert snap["leakscope_snapshot"] == 1
    assert snap["pid"] == heapy.pid
    assert {"leakscope_version", "time", "argv", "python", "prefs", "memory", "heap"} <= set(snap)
    assert snap["heap"]["rows"]
    data = cli_json("diff", str(a), str(b))
    top = data["rows"][0]
    assert top["class"].endswith("Holder") and top["delta"] == 500
    assert top["before"] == 10_000 and top["after"] == 10_500
    heap_top = {r["kind"]: r for r in data["heap_rows"]}
    assert heap_top["__main__.Holder"]["delta"] == 500
    deltas = [r["delta"] for r in data["rows"]]
    assert deltas == sorted(deltas, reverse=True)


@pytest.mark.slow
def test_diff_live_against_file_and_interval(heapy, tmp_path):
    a = tmp_path / "a.json"
    assert run_cli("snapshot", "--pid", str(heapy.pid), "-o", str(a)).returncode == 0
    _grow(heapy, 42)
    data = cli_json("diff", "--pid", str(heapy.pid), "--against", str(a))
    assert data["rows"][0]["delta"] == 42
    data = cli_json("diff", "--pid", str(heapy.pid), "--interval", "0.2")
    assert {r["class"]: (r["before"], r["delta"]) for r in data["rows"]} == {
        "__main__.Holder": (10_042, 0),
        "__main__.Lonely": (1, 0),
    }
    assert data["heap_rows"]  # --interval takes a census on both sides
    assert data["collected"] is False


@pytest.mark.slow
def test_snapshot_size_grows_with_classes_not_objects(heapy, tmp_path):
    out = tmp_path / "s.json"
    _grow(heapy, 50_000)
    assert run_cli("snapshot", "--pid", str(heapy.pid), "-o", str(out)).returncode == 0
    assert out.stat().st_size < 64 * 1024


@pytest.mark.parametrize(
    "content, words",
    [
        ('{"leakscope_snapshot": 1, "prefs": {"rows": [', "truncated"),
        ("hello, world", "not JSON"),
        ('{"leakscope_snapshot": 99, "prefs": {"rows": []}}', "schema"),
        ('{"something": "else"}', "not a leakscope snapshot"),
        ("", "empty"),
        ('{"leakscope_snapshot": true, "prefs": {"rows": []}}', "not a schema number"),
        (
            '{"leakscope_snapshot": 1, "pid": 1, "time": 2.0, '
            '"prefs": {"rows": [{"class": "A", "count": "x"}]}}',
            "damaged snapshot (count is not an integer",
        ),
    ],
)
def test_bad_snapshot_files(tmp_path, socket_dir, content, words):
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    good = tmp_path / "good.json"
    good.write_text('{"leakscope_snapshot": 1, "pid": 1, "time": 2.0, "prefs": {"rows": []}}')
    before = sorted(os.listdir(tmp_path))
    result = run_cli("diff", str(bad), str(good))
    assert result.returncode == ExitCode.BAD_SNAPSHOT, result.stderr
    assert str(bad) in result.stderr and words in result.stderr
    assert result.stderr.count("\n") == 1
    assert result.stdout == ""
    assert sorted(os.listdir(tmp_path)) == before


def test_missing_snapshot_file(tmp_path, socket_dir):
    result = run_cli("diff", str(tmp_path / "nope.json"), str(tmp_path / "nope2.json"))
    assert result.returncode == ExitCode.BAD_SNAPSHOT
    assert "no such file" in result.stderr


def test_owners_across_threads_and_tasks(target_factory):
    target = target_factory("owners")
    data = cli_json("prefs", "--pid", str(target.pid), "--group-by", "owner")
    counts = {r["group"]: r["count"] for r in data["rows"] if r["class"].endswith("Job")}
    assert counts == {"thread-a": 30, "thread-b": 20, "task-x": 7, "task-y": 4, "-": 3}


@pytest.mark.slow
def test_sites_name_the_real_line(target_factory):
    target = target_factory("owners", env={"LEAKSCOPE_TRACK_SITES": "1"})
    line = next(
        i
        for i, text in enumerate((TARGETS / "owners.py").read_text().splitlines(), 1)
        if "# SITE-LINE" in text
    )
    data = cli_json("prefs", "--pid", str(target.pid), "--group-by", "site")
    sites = {r["group"]: r["count"] for r in data["rows"] if r["class"].endswith("Job")}
    assert sites == {f"{TARGETS / 'owners.py'}:{line}": 64}, sites


@pytest.mark.slow
def test_sites_switch_at_run_time(target_factory):
    target = target_factory("owners")
    pid = str(target.pid)
    result = run_cli("prefs", "--pid", pid, "--group-by", "site")
    assert result.returncode == ExitCode.USAGE
    assert "leakscope sites on" in result.stderr
    assert cli_json("sites", "on", "--pid", pid)["sites"] is True
    assert cli_json("sites", "--pid", pid)["sites"] is True
    assert cli_json("sites", "off", "--pid", pid)["sites"] is False


@pytest.mark.slow
def test_history_and_memory_commands(target_factory):
    target = target_factory("heapy", env={"LEAKSCOPE_HISTORY_INTERVAL": "0.2"})
    pid = str(target.pid)
    import time

    time.sleep(0.7)
    data = cli_json("history", "Holder", "--pid", pid)
    assert data["class"].endswith("Holder")
    assert len(data["samples"]) >= 2
    assert all(s["count"] == 10_000 for s in data["samples"])
    plot = run_cli("history", "Holder", "--pid", pid, "--plot")
    assert plot.returncode == 0 and "10,000" in plot.stdout
    mem = cli_json("memory", "--pid", pid)
    # An idle process whose objects were all made before the agent started: no growth.
    assert mem["verdict"] == "no-growth", mem["reason"]
    assert mem["reason"].startswith("RSS "), mem["reason"]
    assert mem["figures"]["rss"] > 0
    assert mem["trim"] is None
    trimmed = cli_json("memory", "--pid", pid, "--trim")
    trim = trimmed["trim"]
    assert trim["supported"] is True  # glibc: malloc_trim exists
    assert trim["rss_before"] > 0 and trim["rss_after"] > 0
    assert trim["rss_after"] <= trim["rss_before"] + 1024 * 1024


@pytest.mark.slow
def test_history_unknown_class(target_factory):
    target = target_factory("heapy", env={"LEAKSCOPE_HISTORY_INTERVAL": "0.2"})
    import time

    time.sleep(0.5)
    result = run_cli("history", "Holdr", "--pid", str(target.pid))
    assert result.returncode == ExitCode.UNKNOWN_CLASS
    assert "Holder" in result.stderr


def test_snapshot_unwritable_path(heapy):
    result = run_cli("snapshot", "--pid", str(heapy.pid), "-o", "/proc/nope/x.json")
    assert result.returncode == ExitCode.CANNOT_WRITE
    assert result.stderr.count("\n") == 1
    assert not Path("/proc/nope/x.json").exists()
