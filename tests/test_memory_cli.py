"""`leakscope memory` on real situations: allocator-held, live objects, --trim."""

from __future__ import annotations

import time

import pytest

from tests.conftest import cli_json


def _ready(target) -> None:
    assert target.proc.stdout.readline().strip() == "ready"


@pytest.mark.slow
def test_freed_bytes_are_allocator_held_and_trim_returns_them(target_factory):
    target = target_factory("memory_cases", "held-bytes")
    _ready(target)
    data = cli_json("memory", "--pid", str(target.pid))
    assert data["verdict"] == "allocator-held", data["reason"]
    assert data["trim_may_help"] is True
    assert data["figures"]["malloc"]["free_held"] > 100 * 2**20
    trimmed = cli_json("memory", "--pid", str(target.pid), "--trim")["trim"]
    assert trimmed["supported"] is True
    assert trimmed["rss_after"] < trimmed["rss_before"] - 100 * 2**20, trimmed


@pytest.mark.slow
def test_growing_live_objects(target_factory):
    target = target_factory("memory_cases", "growing")
    _ready(target)
    data = cli_json("memory", "--pid", str(target.pid))
    assert data["verdict"] == "live-objects", data["reason"]
    assert len(data["samples"]) >= 3


@pytest.mark.slow
def test_a_steady_process_is_no_growth_at_once_later_and_after_a_census(target_factory):
    """leakscope's own work — loading RPyC at the first query, a census's lists —
    never reads as the program's growth."""
    target = target_factory("memory_cases", "steady")
    _ready(target)
    pid = str(target.pid)
    first = cli_json("memory", "--pid", pid)
    assert first["verdict"] == "no-growth", first["reason"]
    time.sleep(1.5)  # a few history samples after the agent loaded
    later = cli_json("memory", "--pid", pid)
    assert later["verdict"] == "no-growth", later["reason"]
    census = cli_json("heap", "--pid", pid)
    assert census["total_count"] > 600_000
    after = cli_json("memory", "--pid", pid)
    assert after["verdict"] == "no-growth", after["reason"]
