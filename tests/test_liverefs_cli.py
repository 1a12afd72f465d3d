"""prefs / oldest / all / ps against real target processes, over the real socket."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

from leakscope.cli import main
from leakscope.client.errors import ExitCode
from tests.conftest import TARGETS, cli_json, run_cli, start_target


def _rows(data: dict) -> dict[str, dict]:
    return {r["class"].rsplit(".", 1)[-1]: r for r in data["rows"]}


def test_prefs_json_exact_counts(basic_target):
    data = cli_json("prefs", "--pid", str(basic_target.pid))
    assert data["pid"] == basic_target.pid
    rows = _rows(data)
    assert rows["Widget"]["count"] == 10
    assert rows["Gadget"]["count"] == 5
    assert rows["Plain"]["count"] == 1
    for row in data["rows"]:
        assert {"class", "count", "oldest_age_s", "source"} <= set(row)
        assert row["source"] == "leakscope"
    # Widgets were made before Gadgets: their oldest is older.
    assert rows["Widget"]["oldest_age_s"] >= rows["Gadget"]["oldest_age_s"]
    assert rows["Widget"]["class"] == "__main__.Widget"


def test_prefs_table_through_cli_runner(basic_target):
    result = CliRunner().invoke(main, ["prefs", "--pid", str(basic_target.pid)])
    assert result.exit_code == 0, result.output
    assert "Live References" in result.output
    assert "__main__.Widget" in result.output
    assert "10" in result.output


@pytest.mark.slow
def test_prefs_finds_the_only_agent_without_pid(basic_target):
    data = cli_json("prefs")
    assert data["pid"] == basic_target.pid


@pytest.mark.slow
def test_ignore_by_short_and_dotted_name(basic_target):
    pid = str(basic_target.pid)
    names = set(_rows(cli_json("prefs", "--pid", pid, "--ignore", "Widget")))
    assert names == {"Gadget", "Plain"}
    names = set(_rows(cli_json("prefs", "--pid", pid, "-i", "__main__.Gadget", "-i", "object_ref")))
    # object_ref is the base of Widget and Gadget: both go; Plain is tracked by track().
    assert names == {"Plain"}


def test_oldest_with_attrs(basic_target):
    data = cli_json("oldest", "Widget", "--pid", str(basic_target.pid), "--attr", "url", "-a", "n")
    assert data["class"] == "__main__.Widget"
    assert data["attrs"] == {"url": "'https://example.test/widget/0'", "n": "0"}
    assert data["age_s"] >= 0
    assert isinstance(data["id"], int)
    assert set(data) >= {"class", "id", "age_s", "repr", "attrs"}


@pytest.mark.slow
def test_all_oldest_first_with_limit(basic_target):
    data = cli_json("all", "Widget", "--pid", str(basic_target.pid), "--attr", "n", "--limit", "3")
    # The class found (as `oldest` gives it), and the name asked for.
    assert (data["class"], data["query"]) == ("__main__.Widget", "Widget")
    assert data["total"] == 10
    assert [o["attrs"]["n"] for o in data["objects"]] == ["0", "1", "2"]


@pytest.mark.slow
def test_all_table_lists_every_object(basic_target):
    result = CliRunner().invoke(main, ["all", "Gadget", "--pid", str(basic_target.pid)])
    assert result.exit_code == 0, result.output
    assert "5 of 5" in result.output


@pytest.mark.slow
def test_unknown_class_suggests_close_names(basic_target):
    result = run_cli("oldest", "Widgit", "--pid", str(basic_target.pid))
    assert result.returncode == ExitCode.UNKNOWN_CLASS
    assert "Widget" in result.stderr
    assert result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_bad_attribute_name_is_refused(basic_target):
    result = run_cli("oldest", "Widget", "--pid", str(basic_target.pid), "--attr", "__class__")
    assert result.returncode == ExitCode.USAGE
    assert "attribute" in result.stderr


@pytest.mark.slow
def test_ps_lists_the_target(basic_target):
    data = cli_json("ps")
    assert [a["pid"] for a in data] == [basic_target.pid]
    entry = data[0]
    assert entry["socket"] == basic_target.socket
    assert entry["python"].startswith(f"{sys.version_info.major}.{sys.version_info.minor}")
    assert set(entry) >= {"pid", "name", "python", "socket"}


def test_python_dash_m_and_version():
    result = run_cli("--version")
    assert result.returncode == 0
    assert "leakscope" in result.stdout


@pytest.mark.slow
def test_several_agents_need_pid(target_factory):
    target_factory("basic", "1", "1")
    target_factory("basic", "1", "1")
    result = run_cli("prefs")
    assert result.returncode == ExitCode.SEVERAL_AGENTS
    assert "--pid" in result.stderr


def test_no_agent_at_all(socket_dir):
    result = run_cli("prefs")
    assert result.returncode == ExitCode.NONE_FOUND
    assert "no process" in result.stderr


def test_no_such_process(socket_dir):
    result = run_cli("prefs", "--pid", "4194303")
    assert result.returncode == ExitCode.NO_SUCH_PROCESS
    assert result.stderr.strip() == "leakscope: no such process: 4194303"


def test_not_a_python_process(socket_dir):
    proc = subprocess.Popen(["sleep", "30"])
    try:
        result = run_cli("prefs", "--pid", str(proc.pid))
        assert result.returncode == ExitCode.NOT_PYTHON, result.stderr
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.slow
def test_python_process_without_agent(socket_dir):
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        result = run_cli("prefs", "--pid", str(proc.pid))
        assert result.returncode == ExitCode.NO_AGENT, result.stderr
        assert "leakscope attach" in result.stderr
    finally:
        proc.kill()
        proc.wait()


def test_stale_socket_of_dead_process_is_swept(socket_dir):
    target = start_target(TARGETS / "basic.py", "1", "1")
    pid = target.pid
    target.proc.kill()  # SIGKILL: no atexit, the socket stays behind
    target.proc.wait()
    assert os.path.exists(target.socket)
    result = run_cli("prefs", "--pid", str(pid))
    assert result.returncode == ExitCode.STALE_SOCKET, result.stderr
    assert not os.path.exists(target.socket)


@pytest.mark.slow
def test_ps_sweeps_stale_sockets(socket_dir):
    target = start_target(TARGETS / "basic.py", "1", "1")
    target.proc.kill()
    target.proc.wait()
    assert os.path.exists(target.socket)
    assert cli_json("ps") == []
    assert not os.path.exists(target.socket)


@pytest.mark.slow
def test_socket_removed_on_normal_exit(basic_target):
    assert os.path.exists(basic_target.socket)
    assert basic_target.stop() == 0
    assert not os.path.exists(basic_target.socket)


@pytest.mark.slow
def test_invalid_option_values_are_one_line(basic_target):
    for args in (
        ["prefs", "--pid", "abc"],
        ["prefs", "--pid", str(basic_target.pid), "--group-by", "color"],
        ["all", "Widget", "--limit", "-1"],
        ["prefs", "--bogus"],
    ):
        result = run_cli(*args)
        assert result.returncode == ExitCode.USAGE, (args, result.stderr)
        assert result.stderr.count("\n") == 1, result.stderr
        assert result.stderr.startswith("leakscope: ")
    result = run_cli("prefs", "--pid", str(basic_target.pid), "--group-by", "color")
    assert "owner" in result.stderr and "spider" in result.stderr


@pytest.mark.slow
def test_agent_keeps_serving_after_client_disconnects_mid_call(target_factory):
    target = target_factory("basic", "3", "1", env={"SLOW_REPR_S": "1.0"})
    pid = str(target.pid)
    slow = subprocess.Popen(
        [sys.executable, "-m", "leakscope", "all", "SlowRepr", "--pid", pid],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(0.5)
    slow.kill()
    slow.wait()
    data = cli_json("prefs", "--pid", pid)
    assert _rows(data)["Widget"]["count"] == 3


@pytest.mark.slow
def test_json_output_is_one_document(basic_target):
    result = run_cli("prefs", "--pid", str(basic_target.pid), "--json")
    json.loads(result.stdout)
    assert result.stderr == ""


@pytest.mark.slow
def test_no_hidden_collection_and_collect_on_request(basic_target):
    pid = str(basic_target.pid)
    assert cli_json("prefs", "--pid", pid)["collected"] is False
    assert cli_json("prefs", "--pid", pid, "--collect")["collected"] is True
    assert cli_json("oldest", "Widget", "--pid", pid)["collected"] is False
    assert cli_json("all", "Widget", "--pid", pid, "--collect")["collected"] is True
