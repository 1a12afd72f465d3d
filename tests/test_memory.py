"""The memory picture and its verdict, measured in real target processes.

Each target builds one situation (objects freed but a few kept, a growing list,
native mallocs), then prints the JSON of the figures and samples it measured
inside itself; the verdict is judged here, on the client side, from those.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from leakscope.client.analysis.verdict import judge
from leakscope.client.reports import MalformedReport, MemoryAnswer
from leakscope.target import memory

ROOT = Path(__file__).resolve().parents[1]
MIB = 1024 * 1024

TARGET = textwrap.dedent(
    """
    import ctypes, json, sys, time
    from leakscope.target import memory

    kind = sys.argv[1]
    if "history" in sys.argv:
        # As the agent does it: earlier samples from the history thread's sampler.
        from leakscope.target.history import History
        history = History(interval_s=5.0, keep_s=60.0)
        before = history.sample_now()
    else:
        before = dict(memory.memory_summary(memory.memory_figures()), t=time.time())
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
    samples = history.samples() if "history" in sys.argv else [before]
    out = {"before": before, "now": now, "time": time.time(), "samples": samples}
    if "trim" in sys.argv:
        out["trim"] = memory.trim()
        out["after_trim"] = memory.memory_figures()
        out["after_trim_time"] = time.time()
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
    out = json.loads(proc.stdout)
    out["verdict"] = verdict_of(out["now"], out["time"], out["samples"])
    if "after_trim" in out:
        out["verdict_after_trim"] = verdict_of(
            out["after_trim"], out["after_trim_time"], [out["before"]]
        )
    return out


def verdict_of(figures: dict, t: float, samples: list[dict]) -> dict:
    """The client's verdict on figures and samples measured in a target."""
    answer = MemoryAnswer.from_json({"pid": 1, "time": t, "figures": figures, "samples": samples})
    return judge(answer).to_json()


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


@pytest.mark.slow
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
    assert out["now"]["malloc"]["in_use"] - out["before"]["malloc_in_use"] > 100 * MIB
    assert out["verdict"]["verdict"] == "native", out["verdict"]
    assert out["verdict"]["trim_may_help"] is False


def test_idle_process_has_no_growth() -> None:
    out = run_target("idle")
    assert out["verdict"]["verdict"] == "no-growth", out["verdict"]


@pytest.mark.slow
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


def _answer(samples: list[dict], **now: object) -> MemoryAnswer:
    figures = dict(memory.memory_figures(), **now)
    return MemoryAnswer.from_json({"pid": 1, "time": 100.0, "figures": figures, "samples": samples})


def test_verdict_without_history_judges_the_present() -> None:
    # Nothing to compare and little held: no growth, and it says why.
    answer = _answer([], pymalloc=None, malloc=None)
    result = judge(answer)
    assert result.verdict == "no-growth", result
    assert "no earlier sample" in result.reason


def _quiet_figures() -> dict:
    """This process's figures without the allocators' (whatever the suite left free there)."""
    return dict(memory.memory_figures(), pymalloc=None, malloc=None)


def test_verdict_reads_history_samples() -> None:
    figures = _quiet_figures()
    base = dict(memory.memory_summary(figures), t=40.0)
    answer = _answer([base], rss=figures["rss"] + 500 * MIB, pymalloc=None, malloc=None)
    result = judge(answer)
    # 500 MiB that neither Python objects nor free allocator memory explain.
    assert result.verdict == "native", result
    assert "over 60 s" in result.reason


def test_verdict_does_not_count_the_agents_own_loading() -> None:
    # A small process (60 MiB: growth counts from 10% of RSS), whatever this one has grown to.
    figures = dict(_quiet_figures(), rss=60 * MIB)
    early = dict(memory.memory_summary(figures), t=10.0, rss=figures["rss"] - 12 * MIB)
    data = {"pid": 1, "time": 100.0, "figures": figures, "samples": [early]}
    assert judge(MemoryAnswer.from_json(data)).verdict == "native"  # RPyC's 12 MiB blamed
    shift = {"rss": 12 * MIB}
    fixed = judge(MemoryAnswer.from_json({**data, "agent_loaded": 49.0, "load_shift": shift}))
    assert fixed.verdict == "no-growth", fixed


def test_malformed_figures_are_refused() -> None:
    with pytest.raises(MalformedReport):
        MemoryAnswer.from_json({"pid": 1, "figures": {"rss": "lots"}})
