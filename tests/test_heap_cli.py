"""`leakscope heap` and `oldest --why` on a target whose heap contents are known."""

from __future__ import annotations

import pytest

from leakscope.client.errors import ExitCode
from tests.conftest import cli_json, run_cli


@pytest.fixture
def heapy(target_factory):
    return target_factory("heapy")


def _by_kind(data: dict) -> dict[str, dict]:
    return {r["kind"]: r for r in data["rows"]}


def test_by_type_counts_exactly(heapy):
    data = cli_json("heap", "--pid", str(heapy.pid), "--limit", "10000", timeout=120)
    assert data["partition"] == "type"
    assert _by_kind(data)["__main__.Holder"]["count"] == 10_000
    assert data["total_count"] > 20_000  # the dicts and ints are counted too
    assert data["total_size"] > 0
    assert data["partial"] is False
    assert data["collected"] is False
    assert data["elapsed_s"] >= data["max_pause_s"] >= 0
    assert {"pid", "partition", "total_count", "total_size", "elapsed_s", "max_pause_s"} <= set(
        data
    )


@pytest.mark.slow
def test_by_via_names_the_meta_attribute(heapy):
    data = cli_json("heap", "--pid", str(heapy.pid), "--by-via", "dict", "--limit", "50")
    assert data["partition"] == "via"
    labels = {r["kind"]: r["count"] for r in data["rows"]}
    assert labels[".meta"] == 10_000, labels  # each Holder's dict, held by its .meta


@pytest.mark.slow
def test_by_referrer_names_the_holder_class(heapy):
    data = cli_json("heap", "--pid", str(heapy.pid), "--by-referrer", "Holder")
    assert data["partition"] == "referrer" and data["of"] == "__main__.Holder"
    assert [(r["kind"], r["count"]) for r in data["rows"]] == [("list", 10_000)]  # HOLDERS
    assert data["rows"][0]["size"] == data["total_size"] > 0
    data = cli_json("heap", "--pid", str(heapy.pid), "--by-referrer", "Lonely")
    assert [(r["kind"], r["count"]) for r in data["rows"]] == [("dict", 1)]  # HOLDERS[5].meta


@pytest.mark.slow
def test_by_module_and_size(heapy):
    data = cli_json("heap", "--pid", str(heapy.pid), "--by-module", "--limit", "10000")
    assert data["partition"] == "module"
    modules = {r["kind"]: r["count"] for r in data["rows"]}
    assert modules["__main__"] == 10_001  # the Holders and the Lonely one
    assert sum(modules.values()) == data["total_count"]
    data = cli_json("heap", "--pid", str(heapy.pid), "--by-size", "--limit", "10000")
    assert data["partition"] == "size"
    assert sum(r["count"] for r in data["rows"]) == data["total_count"]  # every object, once


@pytest.mark.slow
def test_max_objects_marks_partial(heapy):
    full = cli_json("heap", "--pid", str(heapy.pid))
    data = cli_json("heap", "--pid", str(heapy.pid), "--max-objects", "1000")
    assert data["partial"] is True
    assert full["partial"] is False
    assert data["total_count"] < full["total_count"] / 2


@pytest.mark.slow
def test_collect_is_reported(heapy):
    data = cli_json("heap", "--pid", str(heapy.pid), "--collect", "--limit", "3")
    assert data["collected"] is True


@pytest.mark.slow
def test_heap_table_and_growth_between_censuses(heapy):
    before = cli_json("heap", "--pid", str(heapy.pid), "--limit", "10000")
    assert heapy.proc.stdin is not None and heapy.proc.stdout is not None
    heapy.proc.stdin.write("grow 3000\n")
    heapy.proc.stdin.flush()
    assert heapy.proc.stdout.readline().strip() == "ok"
    after = cli_json("heap", "--pid", str(heapy.pid), "--limit", "10000")
    holder = "__main__.Holder"
    assert _by_kind(after)[holder]["count"] - _by_kind(before)[holder]["count"] == 3000
    table = run_cli("heap", "--pid", str(heapy.pid), "--limit", "30", env={"COLUMNS": "160"})
    assert table.returncode == 0, table.stderr
    assert table.stdout.startswith(f"Heap of pid {heapy.pid} by type: ")
    assert "Cumulative %" in table.stdout
    (holder_line,) = [line for line in table.stdout.splitlines() if "__main__.Holder" in line]
    assert "│ 13,000 │" in holder_line, holder_line


def test_unknown_backend_or_type_is_one_line(heapy):
    result = run_cli("heap", "--pid", str(heapy.pid), "--by-via", "NoSuchType")
    assert result.returncode == ExitCode.UNKNOWN_CLASS, result.stderr
    assert result.stderr.startswith("leakscope: no type named 'NoSuchType' in this process")
    assert result.stderr.count("\n") == 1
    assert result.stdout == ""
    result = run_cli("heap", "--pid", str(heapy.pid), "--backend", "nope")
    assert result.returncode == ExitCode.USAGE, result.stderr
    assert result.stderr.startswith("leakscope: Invalid value for '--backend': 'nope' is not one")
    assert result.stderr.count("\n") == 1 and result.stdout == ""


@pytest.mark.slow
def test_why_names_the_real_holder(heapy):
    data = cli_json("oldest", "Lonely", "--pid", str(heapy.pid), "--why", timeout=120)
    why = data["why"]
    assert why["found"] is True
    labels = " ".join(e["label"] for e in why["edges"])
    assert "HOLDERS" in labels, why
    assert "meta" in labels and "friend" in labels, why
    assert why["edges"][-1]["to_kind"].endswith("Lonely")


@pytest.mark.slow
def test_why_graph_file(heapy, tmp_path):
    out = tmp_path / "path.dot"
    result = run_cli("oldest", "Lonely", "--pid", str(heapy.pid), "--why", "--graph", str(out))
    assert result.returncode == 0, result.stderr
    text = out.read_text()
    assert text.startswith("digraph") and "friend" in text


def test_heap_by_type_from_a_dump_file(heapy, tmp_path):
    dump = tmp_path / "heap.dump"
    done = run_cli("dump", "--pid", str(heapy.pid), "-o", str(dump))
    assert done.returncode == 0, done.stderr
    offline = cli_json("heap", str(dump), "--limit", "1000")
    live = _by_kind(cli_json("heap", "--pid", str(heapy.pid), "--limit", "1000"))
    rows = _by_kind(offline)
    assert offline["backend"] == "dump" and offline["pid"] == heapy.pid
    # The same objects, counted and sized the same way as the live census.
    holder = rows["__main__.Holder"]
    assert (holder["count"], holder["size"]) == (10_000, live["__main__.Holder"]["size"])
    # The agent's own connections come and go between the two: dicts agree within 1%.
    assert abs(rows["dict"]["count"] - live["dict"]["count"]) < 0.01 * live["dict"]["count"]
    refused = run_cli("heap", str(dump), "--by-via", "dict")
    assert refused.returncode == ExitCode.USAGE and "only --by-type" in refused.stderr
    bad = tmp_path / "bad.dump"
    bad.write_text("not a dump")
    result = run_cli("heap", str(bad))
    assert result.returncode == ExitCode.BAD_SNAPSHOT and str(bad) in result.stderr
