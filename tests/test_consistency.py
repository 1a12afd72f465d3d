"""Papercuts a user meets: help, names in any script, messages in the user's words,
Ctrl-C, and output that reads right (widths, separators, legends, one JSON per line)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import psutil
import pytest

from leakscope.client.errors import ExitCode
from tests.conftest import REPO, cli_json, run_cli


def test_no_arguments_prints_the_help() -> None:
    result = run_cli()
    assert result.returncode == ExitCode.USAGE
    assert result.stdout.startswith("Usage: ") and "Commands:" in result.stdout
    assert "leakscope demo" in result.stdout and result.stderr == ""


@pytest.mark.slow
def test_a_class_name_in_any_script(target_factory) -> None:
    target = target_factory("oddities")
    data = cli_json("oldest", "Ünïcødé", "--pid", str(target.pid))
    assert data["class"] == "__main__.Ünïcødé"
    assert cli_json("all", "Ünïcødé", "--pid", str(target.pid))["total"] == 3
    via = cli_json("heap", "--by-referrer", "Ünïcødé", "--pid", str(target.pid))
    assert via["rows"][0]["kind"] == "list"


@pytest.mark.slow
def test_a_repr_that_raises_system_exit_is_described_not_fatal(target_factory) -> None:
    pid = str(target_factory("oddities").pid)
    found = cli_json("oldest", "Exiting", "--attr", "nope", "--pid", pid)
    assert "repr failed: SystemExit" in found["repr"], found
    assert found["attrs"] == {"nope": "<error: SystemExit>"}
    every = cli_json("all", "Exiting", "--pid", pid)
    assert every["total"] == 1 and "repr failed" in every["objects"][0]["repr"]


def test_the_target_s_text_is_shown_as_it_is_not_as_markup(target_factory) -> None:
    # A repr, an attribute or a class name holding "[/b]" once made every table fail with
    # an internal error (Rich read it as a closing tag); ":fire:" became an emoji.
    pid = str(target_factory("oddities").pid)
    oldest = run_cli("oldest", "Loud", "--attr", "label", "--pid", pid, env={"COLUMNS": "200"})
    assert oldest.returncode == 0, oldest.stderr
    assert "<Loud [/b] :fire: [bold]y[/bold]>" in oldest.stdout
    assert "'[red]x[/red] :fire:'" in oldest.stdout
    every = run_cli("all", "Loud", "--pid", pid, env={"COLUMNS": "200"})
    assert every.returncode == 0, every.stderr
    assert "<Loud [/b] :fire: [bold]y[/bold]>" in every.stdout
    for args in (["prefs"], ["heap", "--by-type", "--limit", "10000"], ["diff", "--interval", "0"]):
        shown = run_cli(*args, "--pid", pid, env={"COLUMNS": "200"})
        assert shown.returncode == 0, shown.stderr
        assert "Odd[/b]:fire:" in shown.stdout, args
        assert "\N{FIRE}" not in shown.stdout


@pytest.mark.slow
def test_refusals_name_the_option_the_user_typed(basic_target) -> None:
    pid = str(basic_target.pid)
    result = run_cli("oldest", "Widget", "--pid", pid, "--attr", "__dict__")
    assert result.returncode == ExitCode.USAGE
    assert "--attr '__dict__' is not a plain attribute name" in result.stderr
    result = run_cli("oldest", "Wid get", "--pid", pid)
    assert "CLASS 'Wid get' is not a class name" in result.stderr
    for internal in ("attrs", "class_name", "since_s", "max_objects"):
        assert f"{internal} " not in result.stderr


@pytest.mark.slow
def test_ctrl_c_during_a_census_stops_at_once(target_factory) -> None:
    target = target_factory("oddities", "400000")
    proc = subprocess.Popen(
        [sys.executable, "-m", "leakscope", "heap", "--pid", str(target.pid), "--by-via", "dict"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ, PYTHONPATH=str(REPO)),
    )
    # Wait until the command is connected to the agent (its Unix socket is open), so the
    # signal lands in the census and not in the interpreter's start-up on a loaded machine.
    deadline = time.monotonic() + 20
    while not psutil.Process(proc.pid).net_connections(kind="unix"):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "never connected"
        time.sleep(0.02)
    time.sleep(0.3)  # the census running
    assert proc.poll() is None
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    took = time.monotonic() - sent
    assert proc.returncode == ExitCode.INTERRUPTED == 130
    assert err == "leakscope: interrupted\n"
    assert took < 0.5, f"took {took:.2f} s to stop"


@pytest.mark.slow
def test_ps_keeps_the_pid_of_a_socket_whole_at_80_columns(target_factory) -> None:
    target = target_factory("basic", "1", "1")
    result = run_cli("ps", env={"COLUMNS": "80"})
    assert result.returncode == 0, result.stderr
    assert f"{target.pid}.sock" in result.stdout
    assert max(len(line) for line in result.stdout.splitlines()) <= 80


@pytest.mark.slow
def test_via_labels_are_explained_under_the_table(target_factory) -> None:
    target = target_factory("oddities")
    result = run_cli("heap", "--by-via", "Big", "--pid", str(target.pid), env={"COLUMNS": "200"})
    assert result.returncode == 0, result.stderr
    text = " ".join(result.stdout.split())  # the caption wraps
    assert "[*]" in text and ".?" in text
    assert "[*] an item of a long list" in text
    assert ".? an attribute whose name leakscope cannot read" in text


@pytest.mark.slow
def test_oldest_json_gives_the_address_as_the_table_does(basic_target) -> None:
    data = cli_json("oldest", "Widget", "--pid", str(basic_target.pid))
    assert data["address"] == hex(data["id"])
    table = run_cli("oldest", "Widget", "--pid", str(basic_target.pid)).stdout
    assert data["address"] in table


@pytest.mark.slow
def test_watch_json_is_one_document_per_line(basic_target) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "leakscope", "prefs", "--pid", str(basic_target.pid)]
        + ["--watch", "0.3", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ, PYTHONPATH=str(REPO)),
    )
    assert proc.stdout is not None
    lines = [proc.stdout.readline() for _ in range(3)]
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=30)
    documents = [json.loads(line) for line in lines]
    assert [d["pid"] for d in documents] == [basic_target.pid] * 3
    assert all(line.endswith("}\n") and line.count("\n") == 1 for line in lines)


def test_diff_shows_growth_with_separators_and_only_types_that_changed(tmp_path) -> None:
    def snap(t: float, pages: int, heap_rows: list[dict]) -> str:
        doc = {
            "leakscope_snapshot": 1,
            "time": t,
            "pid": 7,
            "host": "box",
            "prefs": {"rows": [{"class": "app.Page", "count": pages}]},
            "heap": {"partition": "type", "rows": heap_rows},
        }
        path = tmp_path / f"{t}.json"
        path.write_text(json.dumps(doc))
        return str(path)

    same = {"kind": "int", "count": 10, "size": 280}
    old = snap(1.0, 1000, [same, {"kind": "dict", "count": 100, "size": 10_000}])
    new = snap(61.0, 5670, [same, {"kind": "dict", "count": 3770, "size": 400_000}])
    result = run_cli("diff", old, new, env={"COLUMNS": "120"})
    assert result.returncode == 0, result.stderr
    assert "+4,670" in result.stdout and "+3,670" in result.stdout
    assert " int " not in result.stdout  # unchanged types are left out
    # Newest first: compared as given, and said.
    swapped = run_cli("diff", new, old, env={"COLUMNS": "200"})
    assert "the second snapshot is the older one" in swapped.stdout


def test_diff_without_tracked_classes_prints_no_empty_table(tmp_path) -> None:
    paths = []
    for t in (1.0, 2.0):
        doc = {"leakscope_snapshot": 1, "time": t, "pid": 7, "prefs": {"rows": []}, "heap": None}
        (tmp_path / f"{t}.json").write_text(json.dumps(doc))
        paths.append(str(tmp_path / f"{t}.json"))
    result = run_cli("diff", *paths)
    assert result.returncode == 0, result.stderr
    assert "Live references" not in result.stdout
    assert "No tracked classes on either side" in result.stdout


def test_run_says_when_the_program_exited_at_once(tmp_path) -> None:
    sockets = tmp_path / "s"
    result = run_cli(
        "run",
        "--",
        sys.executable,
        "/nonexistent/app.py",
        env={"LEAKSCOPE_SOCKET_DIR": str(sockets)},
    )
    assert result.returncode == 2  # python's own exit status for a missing script
    assert "listening on" not in result.stderr
    assert "exited at once" in result.stderr
