"""`leakscope.client.files`: snapshot files written, read back, and refused when damaged."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from leakscope import wire
from leakscope.client import files
from leakscope.client.connector import Connector
from leakscope.client.errors import ExitCode, LeakscopeError
from leakscope.client.reports import (
    HeapReport,
    HeapRow,
    MallocFigures,
    MemoryFigures,
    MemoryReport,
    PrefsReport,
    PrefsRow,
    PymallocFigures,
    Snapshot,
    Verdict,
)

FIGURES = MemoryFigures(
    rss=80_000_000,
    uss=70_000_000,
    swap=0,
    allocated_blocks=150_000,
    pymalloc=PymallocFigures(12, 1 << 20, 12 << 20, 9_000_000, 3_582_912, 0.715, 140_000),
    malloc=MallocFigures(50_000_000, 20_000_000, 30_000_000, 1_000_000, 4_000_000, 28_000_000),
    python_objects_bytes=12_000_000,
    python_objects_source="pymalloc",
)
PID, WHEN = 4242, 1795679067.8


def full_snapshot() -> Snapshot:
    """A snapshot with every section a file keeps."""
    return Snapshot(
        pid=PID,
        time=WHEN,
        host="box",
        version="0.1.0",
        argv=("python", "app.py", "--workers=2"),
        python="3.11.7",
        prefs=PrefsReport(
            PID,
            WHEN,
            (
                PrefsRow("app.Page", 6_659, 960.0, "leakscope", None, 398, 3973, 397.0),
                PrefsRow("scrapy.http.request.Request", 3, 1.5, "scrapy"),
            ),
        ),
        prefs_by={
            "owner": PrefsReport(
                PID,
                WHEN,
                (
                    PrefsRow("app.Page", 6_000, 960.0, "leakscope", "thread-a"),
                    PrefsRow("app.Page", 659, 12.0, "leakscope", "-"),
                ),
                group_by="owner",
            ),
            "site": PrefsReport(
                PID,
                WHEN,
                (PrefsRow("app.Page", 6_659, 960.0, "leakscope", "app.py:12"),),
                group_by="site",
            ),
        },
        memory=MemoryReport(
            PID, FIGURES, Verdict("allocator-held", "freed but kept", trim_may_help=True)
        ),
        heap=HeapReport(
            pid=PID,
            partition="type",
            of=None,
            total_count=121_839,
            total_size=14_547_559,
            elapsed_s=0.37,
            max_pause_s=0.04,
            partial=False,
            backend="builtin",
            rows=(HeapRow("dict", 13_264, 3_250_000), HeapRow("app.Page", 6_659, 372_904)),
        ),
        collected=True,
    )


def test_round_trip_through_json() -> None:
    snap = full_snapshot()
    document = files.to_json(snap)
    assert document["leakscope_snapshot"] == files.SCHEMA == 1
    assert document["memory"]["verdict"] == "allocator-held"
    assert document["memory"]["figures"]["pymalloc"]["free_bytes_in_arenas"] == 3_582_912
    assert files.from_json(json.loads(json.dumps(document))) == snap


def test_round_trip_of_a_bare_snapshot() -> None:
    snap = Snapshot(
        pid=1,
        time=2.0,
        host="",
        version="0.1.0",
        argv=(),
        python=None,
        prefs=PrefsReport(1, 2.0, ()),
    )
    document = files.to_json(snap)
    assert document["memory"] is None and document["heap"] is None and document["prefs_by"] == {}
    assert files.from_json(document) == snap


def test_write_then_read(tmp_path: Path) -> None:
    snap = full_snapshot()
    out = tmp_path / "s.json"
    files.write_snapshot(snap, str(out))
    text = out.read_text()
    assert text.endswith("}\n") and text.count("\n") == 1  # one compact line
    assert files.read(str(out)) == snap
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.json"]  # no temporary file left


def test_a_live_snapshot_survives_its_file(basic_target, tmp_path: Path) -> None:
    """A snapshot of a real target: what the file keeps reads back the same."""
    with Connector().connect(basic_target.pid, 10) as client:
        snap = files.take(client, with_heap=True)
    assert snap.pid == basic_target.pid and snap.version == wire.VERSION
    assert {r.cls: r.count for r in snap.prefs.rows}["__main__.Widget"] == 10
    assert snap.heap is not None and snap.heap.partition == "type"
    assert snap.memory is not None and snap.memory.figures.rss
    assert set(snap.prefs_by) == {"owner"}  # sites are off in the basic target
    out = tmp_path / "live.json"
    files.write_snapshot(snap, str(out))
    back = files.read(str(out))
    assert files.to_json(back) == files.to_json(snap)
    assert back.prefs.rows == snap.prefs.rows and back.heap == snap.heap
    assert back.prefs_by["owner"].rows == snap.prefs_by["owner"].rows
    assert back.memory is not None and back.memory.verdict == snap.memory.verdict


GOOD = {"leakscope_snapshot": 1, "pid": 1, "time": 2.0, "prefs": {"rows": []}}

REFUSED: list[tuple[str, str | bytes, str]] = [
    ("empty", "", "empty file"),
    ("blank", "  \n\n", "empty file"),
    ("truncated", json.dumps(GOOD)[:-3], "truncated JSON (the file ends early)"),
    ("not JSON", "hello, world", "not JSON (Expecting value, line 1 column 1)"),
    ("not text", b"\xff\xfe\x00garbage", "not a leakscope snapshot (not text)"),
    ("foreign", '{"something": "else"}', "not a leakscope snapshot (no 'leakscope_snapshot' key)"),
    ("a list", "[1, 2]", "not a leakscope snapshot (no 'leakscope_snapshot' key)"),
    (
        "marker true",
        json.dumps({**GOOD, "leakscope_snapshot": True}),
        "not a leakscope snapshot ('leakscope_snapshot' is True, not a schema number)",
    ),
    (
        "marker a string",
        json.dumps({**GOOD, "leakscope_snapshot": "1"}),
        "not a leakscope snapshot ('leakscope_snapshot' is '1', not a schema number)",
    ),
    (
        "newer schema",
        json.dumps({**GOOD, "leakscope_snapshot": 2}),
        f"snapshot schema 2 is not supported by leakscope {wire.VERSION} (it reads schema 1)",
    ),
    (
        "damaged row",
        json.dumps({**GOOD, "prefs": {"rows": [{"class": "app.Page", "count": "many"}]}}),
        "damaged snapshot (count is not an integer: 'many')",
    ),
    (
        "row without class",
        json.dumps({**GOOD, "prefs": {"rows": [{"count": 3}]}}),
        "damaged snapshot (missing 'class')",
    ),
    (
        "damaged heap row",
        json.dumps({**GOOD, "heap": {"rows": [{"kind": "dict", "count": None}]}}),
        "damaged snapshot (count is not an integer: None)",
    ),
    (
        "damaged owner rows",
        json.dumps({**GOOD, "prefs_by": {"owner": {"rows": "x"}}}),
        "damaged snapshot (rows is not a list)",
    ),
    (
        "memory figures a list",
        json.dumps({**GOOD, "memory": {"verdict": "no-growth", "figures": "x"}}),
        "damaged snapshot (memory figures are not an object)",
    ),
    ("no prefs", json.dumps({**GOOD, "prefs": None}), "damaged snapshot (no prefs rows)"),
    ("no pid", json.dumps({**GOOD, "pid": "1"}), "damaged snapshot (no pid and time)"),
    ("time a bool", json.dumps({**GOOD, "time": True}), "damaged snapshot (no pid and time)"),
]


@pytest.mark.parametrize(
    ("content", "words"), [r[1:] for r in REFUSED], ids=[r[0] for r in REFUSED]
)
def test_read_refuses_with_code_14_the_file_and_the_defect(
    tmp_path: Path, content: str | bytes, words: str
) -> None:
    bad = tmp_path / "bad.json"
    if isinstance(content, bytes):
        bad.write_bytes(content)
    else:
        bad.write_text(content)
    with pytest.raises(LeakscopeError) as caught:
        files.read(str(bad))
    assert caught.value.code == ExitCode.BAD_SNAPSHOT == 14
    assert caught.value.message == f"{bad}: {words}"
    assert "\n" not in caught.value.message


def test_read_refuses_what_is_not_a_file(tmp_path: Path) -> None:
    for path, words in ((tmp_path / "nope.json", "no such file"), (tmp_path, "is a directory")):
        with pytest.raises(LeakscopeError) as caught:
            files.read(str(path))
        assert caught.value.code == ExitCode.BAD_SNAPSHOT
        assert caught.value.message.startswith(f"{path}: {words}")


def test_memory_figures_that_are_an_empty_list_are_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**GOOD, "memory": {"verdict": "no-growth", "figures": []}}))
    with pytest.raises(LeakscopeError) as caught:
        files.read(str(bad))
    assert caught.value.message == f"{bad}: damaged snapshot (memory figures are not an object)"


def test_a_file_cut_anywhere_is_called_truncated(tmp_path: Path) -> None:
    """A snapshot cut short (a full disk, an interrupted copy) says so, wherever the cut falls."""
    text = json.dumps(files.to_json(full_snapshot()), separators=(",", ":")) + "\n"
    cut = tmp_path / "cut.json"
    wrong: dict[str, str] = {}
    for end in range(1, len(text) - 1, 7):
        cut.write_text(text[:end])
        with pytest.raises(LeakscopeError) as caught:
            files.read(str(cut))
        assert caught.value.code == ExitCode.BAD_SNAPSHOT
        if caught.value.message != f"{cut}: truncated JSON (the file ends early)":
            wrong.setdefault(caught.value.message.split(": ", 1)[1][:40], text[:end][-12:])
    assert wrong == {}, f"{len(wrong)} kinds of cut misnamed: {wrong}"
