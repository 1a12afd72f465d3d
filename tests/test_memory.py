"""The memory picture and its verdict, measured in real target processes.

Each target builds one situation (objects freed but a few kept, a growing list,
native mallocs), then prints the JSON of memory_figures()/verdict() computed
inside itself.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from leakscope import memory

ROOT = Path(__file__).resolve().parents[1]
MIB = 1024 * 1024

TARGET = textwrap.dedent(
    """
    import ctypes, json, sys, time
    from leakscope import memory

    kind = sys.argv[1]
    if "history" in sys.argv:
        # As the agent does it: earlier samples from the history thread's sampler.
        from leakscope.history import History
        history = History(interval_s=5.0, keep_s=60.0)
        before = history.sample_now()
    else:
        before = memory.memory_figures()
        before["t"] = time.time()
    keep = []
    if kind == "small-freed":
        # 600k small dicts, all freed but one in fifty: pymalloc keeps the arenas.
        tmp = [{"i": i} for i in range(600_000)]
        keep = tmp[::50]
        del tmp
    elif kind == "bytes-freed":
        # 60k 2 KB bytes, freed but one in fifty: glibc keeps the chunks.
        tmp = [bytes(2048) + b"x" for _ in range(60_000)]
        keep = tmp[::50]
        del tmp
    elif kind == "growing-list":
        class Row:
            def __init__(self, i):
                self.i = i
                self.name = "row"
        for i in range(600_000):
            keep.append(Row(i))
    elif kind == "native":
        libc = ctypes.CDLL(None)
        libc.malloc.restype = ctypes.c_void_p
        libc.malloc.argtypes = [ctypes.c_size_t]
        for _ in range(8_000):  # 8k x 16 KiB, written so it is resident
            p = libc.malloc(16384)
            ctypes.memset(p, 1, 16384)
            keep.append(p)
    elif kind == "idle":
        pass
    now = memory.memory_figures()
    now["t"] = time.time()
    samples = history.samples() if "history" in sys.argv else [before]
    out = {"before": before, "now": now, "verdict": memory.verdict(samples, now)}
    if "trim" in sys.argv:
        out["trim"] = memory.trim()
        after = memory.memory_figures()
        out["verdict_after_trim"] = memory.verdict([before], after)
    sys.stdout.write(json.dumps(out))
    """
)


def python_313() -> str | None:
    try:
        root = subprocess.run(
            ["pyenv", "root"], capture_output=True, text=True, timeout=10
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    path = Path(root, "versions", "3.13.0", "bin", "python3")
    return str(path) if root and path.exists() else None


def run_target(kind: str, *extra: str, python: str = sys.executable) -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("LEAKSCOPE_AGENT", None)
    proc = subprocess.run(
        [python, "-c", TARGET, kind, *extra],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    # The collectors run inside a host: they must print nothing of their own.
    assert proc.stderr == ""
    return json.loads(proc.stdout)


def test_figures_have_every_part_here() -> None:
    figures = memory.memory_figures()
    assert figures["rss"] > 10 * MIB
    assert figures["allocated_blocks"] > 1000
    pymalloc = figures["pymalloc"]
    assert pymalloc is not None
    assert 0 < pymalloc["used_bytes"] <= pymalloc["arena_bytes"]
    assert pymalloc["arena_bytes"] == pymalloc["arenas_in_use"] * pymalloc["arena_size"]
    assert 0 < pymalloc["blocks_in_use"] <= figures["allocated_blocks"]
    malloc = figures["malloc"]
    assert malloc is not None
    assert malloc["arena"] == malloc["in_use"] + malloc["free_held"]
    assert 0 <= malloc["releasable"] <= malloc["free_held"]
    assert figures["python_objects_bytes"] > 0
    assert figures["python_objects_source"].startswith(("estimate", "tracemalloc"))
    json.dumps(figures)  # plain data only


def test_pymalloc_figures_follow_live_small_objects() -> None:
    before = memory.pymalloc_figures()
    keep = [{"i": i} for i in range(100_000)]
    after = memory.pymalloc_figures()
    assert before is not None and after is not None
    # A one-key dict is well over 100 bytes in pymalloc blocks.
    assert after["used_bytes"] - before["used_bytes"] > 100 * len(keep)
    assert after["blocks_in_use"] - before["blocks_in_use"] >= len(keep)


def test_census_bytes_replace_the_estimate() -> None:
    figures = memory.memory_figures(census_bytes=123_456)
    assert figures["python_objects_bytes"] == 123_456
    assert figures["python_objects_source"] == "census"


def test_small_objects_freed_are_allocator_held_and_trim_cannot_help() -> None:
    out = run_target("small-freed")
    now, before = out["now"], out["before"]
    assert now["rss"] - before["rss"] > 60 * MIB
    assert now["pymalloc"]["utilisation"] < 0.2
    assert out["verdict"]["verdict"] == "allocator-held", out["verdict"]
    assert out["verdict"]["trim_may_help"] is False
    assert "pymalloc" in out["verdict"]["reason"]


def test_verdict_from_history_samples_in_a_target() -> None:
    out = run_target("small-freed", "history")
    assert "counts" in out["before"] and "pymalloc_free" in out["before"]
    assert out["verdict"]["verdict"] == "allocator-held", out["verdict"]
    out = run_target("native", "history")
    assert out["verdict"]["verdict"] == "native", out["verdict"]


def test_growing_list_is_live_objects() -> None:
    out = run_target("growing-list")
    assert out["now"]["rss"] - out["before"]["rss"] > 40 * MIB
    assert out["now"]["pymalloc"]["utilisation"] > 0.8
    assert out["verdict"]["verdict"] == "live-objects", out["verdict"]
    assert out["verdict"]["trim_may_help"] is False


def test_bytes_freed_are_glibc_held_and_trim_gives_them_back() -> None:
    out = run_target("bytes-freed", "trim")
    malloc = out["now"]["malloc"]
    assert malloc["free_held"] > 60 * MIB
    assert malloc["releasable"] > 60 * MIB
    assert out["verdict"]["verdict"] == "allocator-held", out["verdict"]
    assert out["verdict"]["trim_may_help"] is True
    trim = out["trim"]
    assert trim["supported"] is True
    assert trim["rss_before"] - trim["rss_after"] > 60 * MIB
    # Once trimmed, the free chunks are still "free" to glibc but no longer resident.
    assert out["verdict_after_trim"]["trim_may_help"] is False


def test_ctypes_malloc_growth_is_native() -> None:
    out = run_target("native")
    assert out["now"]["malloc"]["in_use"] - out["before"]["malloc"]["in_use"] > 100 * MIB
    assert out["verdict"]["verdict"] == "native", out["verdict"]
    assert out["verdict"]["trim_may_help"] is False


def test_idle_process_has_no_growth() -> None:
    out = run_target("idle")
    assert out["verdict"]["verdict"] == "no-growth", out["verdict"]


@pytest.mark.parametrize("kind", ["small-freed", "bytes-freed", "native"])
def test_same_verdicts_on_python_313(kind: str) -> None:
    python = python_313()
    if python is None:
        pytest.skip("no CPython 3.13 at $(pyenv root)/versions/3.13.0")
    out = run_target(kind, python=python)
    assert out["now"]["uss"] is None or out["now"]["uss"] > 0  # psutil may be absent
    assert out["now"]["pymalloc"] is not None
    expected = {"small-freed": "allocator-held", "bytes-freed": "allocator-held"}
    assert out["verdict"]["verdict"] == expected.get(kind, "native"), out["verdict"]


def test_verdict_without_history_judges_the_present() -> None:
    figures = memory.memory_figures()
    result = memory.verdict([], figures)
    assert result["verdict"] in ("no-growth", "allocator-held")
    assert "no earlier sample" in result["reason"]


def test_verdict_reads_history_samples_and_never_raises() -> None:
    base = memory.memory_summary(memory.memory_figures())
    base["t"] = 0.0
    grown = dict(base, t=60.0, rss=base["rss"] + 500 * MIB)
    result = memory.verdict([base], grown)
    # 500 MiB that neither Python objects nor free allocator memory explain.
    assert result["verdict"] == "native"
    assert "over 60 s" in result["reason"]
    broken = memory.verdict([{"rss": "lots"}, None], {"rss": None})  # type: ignore[list-item]
    assert broken["verdict"] == "no-growth"
