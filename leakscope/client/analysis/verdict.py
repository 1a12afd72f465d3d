"""The memory verdict: is a process's growth a leak, memory the allocators keep, or native?

RSS can grow for three different reasons, and each needs a different fix:

* live Python objects pile up (a real leak: look at what grows);
* Python freed the objects but the allocators keep the memory ("leaks without
  leaks"): pymalloc returns a 1 MiB arena to the system only when every block
  in it is free, so one survivor in fifty small dicts pins the whole arena;
  glibc keeps freed chunks of larger objects in its heap, and ``malloc_trim(0)``
  can give their pages back (it cannot help pymalloc's arenas);
* native code (C extensions, ctypes, numpy buffers) allocates outside Python's
  object allocators.

`judge` compares the figures now with the earliest history sample that counts
as the program's own baseline. leakscope must not blame the program for its
own work, so:

* the agent loads its own modules (RPyC and the service, about 8-11 MB) at the
  first query, after the history's first samples: it measures what that loading
  added to each figure, and the samples from before it are shifted by that much
  before one of them serves as the baseline;
* what the agent's heavy walks left in the process (a census's lists are freed,
  but the allocators keep their memory) is reported by the agent as its own
  footprint and taken out of the growth, and said apart.
"""

from __future__ import annotations

from leakscope.client.reports import MemoryAnswer, MemorySample, Verdict

_MIB = 1024 * 1024

# When judging growth, a new large block may stand for up to this much of the
# growth of glibc's heap (list arrays, big bytes/str such as response bodies).
_GROWTH_PER_LARGE_BLOCK = 64 * 1024
# Below these, growth or held memory is noise for a Python process.
_GROWTH_FLOOR = 4 * _MIB
_GROWTH_SHARE = 0.10
_HELD_FLOOR = 16 * _MIB
_HELD_SHARE = 0.30
_TRIM_FLOOR = 16 * _MIB
_TRIM_SHARE = 0.10

_ADVICE = {
    "live-objects": " Live objects grow: `leakscope leaks` names what grows and what holds it.",
    "allocator-held": " Python freed these objects, but the allocators keep the memory.",
    "native": " Growth is outside Python's object allocators: C extensions, ctypes,"
    " native libraries, numpy-like buffers.",
}


def _mib(n: float | None) -> str:
    return "?" if n is None else f"{n / _MIB:,.1f} MiB"


def _signed_mib(n: float | None) -> str:
    return "?" if n is None else f"{n / _MIB:+,.1f} MiB"


def _known(*values: float | None) -> bool:
    return all(v is not None for v in values)


def python_growth(base: MemorySample, now: MemorySample) -> float | None:
    """Bytes by which live Python objects grew between two samples, best source first."""
    if base.traced_bytes is not None and now.traced_bytes is not None:
        return float(now.traced_bytes - base.traced_bytes)
    parts = ("pymalloc_used", "pymalloc_blocks", "allocated_blocks", "malloc_in_use", "malloc_mmap")
    before = [getattr(base, k) for k in parts]
    after = [getattr(now, k) for k in parts]
    if _known(*before, *after):
        b_used, b_pm_blocks, b_blocks, b_in_use, b_mmap = (float(v) for v in before)
        n_used, n_pm_blocks, n_blocks, n_in_use, n_mmap = (float(v) for v in after)
        small = n_used - b_used
        # Blocks too big for pymalloc go to glibc; their sizes are unknown here.
        large = (n_blocks - n_pm_blocks) - (b_blocks - b_pm_blocks)
        heap = (n_in_use + n_mmap) - (b_in_use + b_mmap)
        return small + min(max(large, 0.0) * _GROWTH_PER_LARGE_BLOCK, max(heap, 0.0))
    if base.python_objects_bytes is not None and now.python_objects_bytes is not None:
        return float(now.python_objects_bytes - base.python_objects_bytes)
    return None


def _held_parts(p: MemorySample) -> tuple[float | None, float | None]:
    """(free bytes in pymalloc arenas, free bytes in glibc's heap a trim could return)."""
    pm = None if p.pymalloc_free is None else float(p.pymalloc_free)
    ml = None if p.malloc_releasable is None else float(p.malloc_releasable)
    return pm, ml


def _held(p: MemorySample) -> float | None:
    pm, ml = _held_parts(p)
    if pm is None and ml is None:
        return None
    return (pm or 0.0) + (ml or 0.0)


def _trim_words(trim_may_help: bool, now: MemorySample) -> str:
    if trim_may_help:
        return " malloc_trim(0) can give glibc's free pages back to the system."
    pm, ml = _held_parts(now)
    if (pm or 0.0) >= (ml or 0.0):
        return " malloc_trim would not help: pymalloc returns an arena only when it is empty."
    return " malloc_trim would give back little."


def baseline(answer: MemoryAnswer) -> MemorySample | None:
    """The earliest sample, with what leakscope's own loading added since it taken into account."""
    first = min((s for s in answer.samples if s.rss is not None), key=lambda s: s.t, default=None)
    loaded = answer.agent_loaded
    if first is not None and loaded is not None and first.t < loaded:
        return first.shifted(answer.load_shift)
    return first


def judge(answer: MemoryAnswer) -> Verdict:
    """Is the growth live objects, allocator-held free memory, native code, or none?"""
    now = MemorySample.of(answer.time, answer.figures)
    rss = now.rss
    if rss is None:
        return Verdict("no-growth", "RSS is unknown here")
    releasable = float(now.malloc_releasable or 0)
    trim_may_help = releasable >= max(_TRIM_FLOOR, _TRIM_SHARE * rss)
    held = _held(now) or 0.0
    # What leakscope's walks freed sits in the allocators' free memory until the
    # program reuses it: never count more of it than is still free.
    own = float(min(answer.own_bytes, held))
    mostly_held = held - own >= max(_HELD_FLOOR, _HELD_SHARE * rss)
    own_words = (
        f" leakscope's own walks left {_mib(own)} with the allocators (not counted)."
        if own >= _MIB
        else ""
    )

    def result(kind: str, reason: str) -> Verdict:
        if kind == "allocator-held":
            reason += _trim_words(trim_may_help, now)
        return Verdict(kind, reason + own_words, trim_may_help)

    base = baseline(answer)
    base_rss = float(base.rss) if base is not None and base.rss is not None else None
    floor = max(_GROWTH_FLOOR, _GROWTH_SHARE * (base_rss or rss))
    if base is None or base_rss is None:
        since = "no earlier sample to compare yet (ask again in a minute)"
    elif rss - own - base_rss < floor:
        since = f"RSS {_mib(base_rss)} -> {_mib(rss)}, less than {_mib(floor)} of growth"
    else:
        since = ""
    if since:
        if mostly_held:
            pm, ml = _held_parts(now)
            return result(
                "allocator-held",
                f"{since}; RSS {_mib(rss)} of which {_mib(held)} is memory Python freed "
                f"but the allocators keep ({_mib(pm)} free in pymalloc arenas + {_mib(ml)} "
                f"free in glibc's heap); live Python objects take about "
                f"{_mib(now.python_objects_bytes)}.",
            )
        return result("no-growth", f"{since}; RSS {_mib(rss)}, allocators hold {_mib(held)} free.")

    assert base is not None and base_rss is not None
    d_rss = rss - base_rss - own
    d_py = python_growth(base, now)
    base_pm, base_ml = _held_parts(base)
    now_pm, now_ml = _held_parts(now)
    d_pm = (now_pm or 0.0) - (base_pm or 0.0)
    d_ml = (now_ml or 0.0) - (base_ml or 0.0) - own
    d_held = d_pm + d_ml
    d_native = d_rss - max(d_py or 0.0, 0.0) - max(d_held, 0.0)
    figures = (
        f"RSS grew {_mib(d_rss)} over {now.t - base.t:,.0f} s ({_mib(base_rss)} -> {_mib(rss)}"
        + (f", less leakscope's own {_mib(own)}" if own >= _MIB else "")
        + f"): live Python objects {_signed_mib(d_py)}, free memory kept by allocators "
        f"{_signed_mib(d_held)} (pymalloc arenas {_signed_mib(d_pm)}, glibc's heap "
        f"{_signed_mib(d_ml)}), the rest {_signed_mib(d_native)}."
    )
    shares = {"live-objects": d_py or 0.0, "allocator-held": d_held, "native": d_native}
    kind = max(shares, key=lambda k: shares[k])
    if d_py is None and kind == "native":
        # Without pymalloc (PYTHONMALLOC=malloc) objects and native code share
        # glibc's heap; the census can tell them apart, these figures cannot.
        return result(
            "live-objects",
            figures + " Python's allocator figures are not available here, so live objects"
            " and native memory cannot be told apart: a heap census can.",
        )
    return result(kind, figures + _ADVICE[kind])
