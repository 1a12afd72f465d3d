"""A bounded history of per-class counts and memory figures, kept in the target.

A daemon thread ("leakscope-history") takes a sample every ``interval_s``
seconds and keeps the last ``keep_s`` seconds of them, so "what grew over the
last ten minutes" has an answer without the user having sampled beforehand.
It sleeps in ``Event.wait`` between samples (no CPU while waiting) and never
touches the object-creation path: a sample reads trackref's per-class counts
(O(classes)) and the memory figures of `leakscope.memory`.

Cost: with 50 classes one sample is well under a millisecond plus the memory
figures (USS, when psutil is there, walks the page tables: about 16 ms at
700 MB RSS, with the GIL released). Samples are stored packed (class names
shared between samples, counts in an ``array``): about 1 KB each, under 1 MB
for an hour at the default 5 s. ``bench/bench_history.py`` prints the figures.

Environment: ``LEAKSCOPE_HISTORY_INTERVAL`` (seconds, 0 = off, default 5) and
``LEAKSCOPE_HISTORY_KEEP`` (seconds, default 3600); see `History.from_env`.
"""

from __future__ import annotations

import logging
import math
import os
import sys
import threading
import time
from array import array
from collections import deque
from collections.abc import Callable
from typing import Any, NamedTuple

from leakscope.target import quiet_logging

quiet_logging()
log = logging.getLogger(__name__)

DEFAULT_INTERVAL_S = 5.0
DEFAULT_KEEP_S = 3600.0


class _Record(NamedTuple):
    """One sample, packed: consecutive records share their tuples of names."""

    t: float
    names: tuple[str, ...]
    counts: array
    keys: tuple[str, ...]
    values: tuple[Any, ...]


def class_counts() -> dict[str, int]:
    """Live instances per tracked class, keyed "module.QualName" (leakscope's
    registry and Scrapy's own one)."""
    from leakscope.target.describe import qualified_name
    from leakscope.target.grouping import live_rows

    counts: dict[str, int] = {}
    for row in live_rows(with_oldest=False).rows:  # counts only: no O(objects) search
        # The same names as prefs rows (so growth lines up), interned so an
        # hour of samples shares one string per class.
        key = sys.intern(qualified_name(row.cls))
        counts[key] = counts.get(key, 0) + row.count
    return counts


def default_sample() -> dict[str, Any]:
    """One sample: time, per-class counts and the flat memory summary."""
    from leakscope.target import memory

    sample: dict[str, Any] = {"t": time.time(), "counts": class_counts()}
    sample.update(memory.memory_summary(memory.memory_figures()))
    return sample


def _env_seconds(name: str, default: float) -> float:
    try:
        value = float(os.environ.get(name, default))
    except ValueError:
        return default
    return value if math.isfinite(value) and value >= 0 else default


class History:
    """Samples of class counts and memory, every ``interval_s``, for ``keep_s`` seconds.

    Reads are safe from any thread; the sampling thread is the only writer
    besides `sample_now`.
    """

    def __init__(
        self,
        interval_s: float = DEFAULT_INTERVAL_S,
        keep_s: float = DEFAULT_KEEP_S,
        sample: Callable[[], dict] | None = None,
    ) -> None:
        self.interval_s = float(interval_s)
        self.keep_s = float(keep_s)
        step = self.interval_s if self.interval_s > 0 else DEFAULT_INTERVAL_S
        # +1 so that the oldest kept sample is a full keep_s before the newest.
        self.maxlen = max(2, math.ceil(self.keep_s / step) + 1)
        self._sample = sample if sample is not None else default_sample
        self._records: deque[_Record] = deque(maxlen=self.maxlen)
        self._lock = threading.Lock()
        # growth() figures per class, valid until the next sample arrives.
        self._growth_of: object = None
        self._growth: dict[str, dict[str, Any]] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_error: str | None = None

    @classmethod
    def from_env(cls, sample: Callable[[], dict] | None = None) -> History | None:
        """A History configured by LEAKSCOPE_HISTORY_INTERVAL/KEEP; None when off (0)."""
        interval = _env_seconds("LEAKSCOPE_HISTORY_INTERVAL", DEFAULT_INTERVAL_S)
        if interval <= 0:
            return None
        keep = _env_seconds("LEAKSCOPE_HISTORY_KEEP", DEFAULT_KEEP_S)
        return cls(interval_s=interval, keep_s=keep, sample=sample)

    # -- the sampling thread ---------------------------------------------------

    def start(self) -> None:
        """Start the daemon sampling thread (no-op if running or interval is 0)."""
        if self.interval_s <= 0:
            return
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._stop = threading.Event()
            self._thread = threading.Thread(
                target=self._run, args=(self._stop,), name="leakscope-history", daemon=True
            )
            self._thread.start()

    def stop(self) -> None:
        """Stop the sampling thread and wait briefly for it; samples are kept."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5.0)
        self._thread = None

    @property
    def running(self) -> bool:
        """True while the sampling thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def _run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            self._take()
            if stop.wait(self.interval_s):
                return

    def _take(self) -> dict[str, Any] | None:
        """Take and keep one sample; None (and last_error set) if the sampler failed."""
        try:
            raw = self._sample()
            record = self._pack(raw)
        except Exception as exc:  # never let a sampler break the host
            first = self.last_error is None
            self.last_error = f"{type(exc).__name__}: {exc}"
            # Once as a warning, then quietly: a broken sampler fails every interval.
            log.log(
                logging.WARNING if first else logging.DEBUG, "history sample failed", exc_info=True
            )
            return None
        with self._lock:
            self._records.append(record)
        return _unpack(record)

    def _pack(self, raw: dict) -> _Record:
        counts = raw.get("counts") or {}
        names = tuple(counts)
        values = array("q", (int(counts[n]) for n in names))
        rest = {k: v for k, v in raw.items() if k not in ("t", "counts")}
        keys = tuple(rest)
        raw_t: Any = raw.get("t")
        t = float(raw_t) if type(raw_t) in (int, float) else time.time()
        last = self._records[-1] if self._records else None
        if last is not None:
            # Share the previous tuples when nothing changed: most samples.
            if names == last.names:
                names = last.names
            if keys == last.keys:
                keys = last.keys
        return _Record(t, names, values, keys, tuple(rest[k] for k in keys))

    # -- reading ---------------------------------------------------------------

    def _snapshot(self) -> list[_Record]:
        with self._lock:
            return list(self._records)

    def __len__(self) -> int:
        return len(self._records)

    def sample_now(self) -> dict[str, Any]:
        """Take a sample now (in the caller's thread), keep it and return it."""
        sample = self._take()
        if sample is None:
            return {"t": time.time(), "counts": {}, "error": self.last_error}
        return sample

    def samples(self, since_s: float | None = None) -> list[dict[str, Any]]:
        """Kept samples, oldest first; with ``since_s``, those of the last since_s
        seconds before the newest sample. Each is ``{"t", "counts", "rss", ...}``."""
        records = self._snapshot()
        if since_s is not None and records:
            start = records[-1].t - since_s
            records = [r for r in records if r.t >= start]
        return [_unpack(r) for r in records]

    def class_names(self) -> list[str]:
        """Every class name seen in the kept samples, sorted."""
        seen: set[str] = set()
        last: tuple[str, ...] | None = None
        for record in self._snapshot():
            if record.names is not last:
                seen.update(record.names)
                last = record.names
        return sorted(seen)

    def series(self, class_name: str, since_s: float | None = None) -> list[tuple[float, int]]:
        """(t, count) for every kept sample (or those of the last ``since_s``
        seconds before the newest); count 0 where the class was absent.

        Empty when no kept sample has the class.
        """
        points = _series(self._snapshot(), class_name)
        if since_s is not None and points:
            start = points[-1][0] - since_s
            points = [p for p in points if p[0] >= start]
        return points

    def change(self, class_name: str, over_s: float) -> int | None:
        """Count in the newest sample minus the count about ``over_s`` earlier.

        None when the history does not reach that far back (half an interval
        of slack) or the class was never seen.
        """
        return self._change(self.series(class_name), over_s)

    def rate_per_min(self, class_name: str, over_s: float | None = None) -> float | None:
        """Growth in instances per minute: least-squares slope over the kept samples
        (or the last ``over_s`` seconds); None with fewer than two samples."""
        return _rate_per_min(self.series(class_name), over_s)

    def growth(self, class_name: str) -> dict[str, Any]:
        """``change_1m``, ``change_10m`` and ``rate_per_min`` of one class.

        Built from one series and kept until the next sample arrives: `prefs`
        asks for every class on every call, and the figures cannot change
        between two samples.
        """
        records = self._snapshot()
        newest = (len(records), records[-1].t) if records else None
        with self._lock:
            if self._growth_of != newest:
                self._growth_of, self._growth = newest, {}
            known = self._growth.get(class_name)
        if known is not None:
            return known
        points = _series(records, class_name)
        figures = {
            "change_1m": self._change(points, 60.0),
            "change_10m": self._change(points, 600.0),
            "rate_per_min": _rate_per_min(points, None),
        }
        with self._lock:
            if self._growth_of == newest:
                self._growth[class_name] = figures
        return figures

    def _change(self, points: list[tuple[float, int]], over_s: float) -> int | None:
        if not points:
            return None
        t_now, count_now = points[-1]
        target = t_now - over_s
        slack = 0.5 * (self.interval_s if self.interval_s > 0 else DEFAULT_INTERVAL_S)
        if points[0][0] > target + slack:
            return None
        _, count_then = min(points, key=lambda p: abs(p[0] - target))
        return count_now - count_then


def _rate_per_min(points: list[tuple[float, int]], over_s: float | None) -> float | None:
    if over_s is not None and points:
        start = points[-1][0] - over_s
        points = [p for p in points if p[0] >= start]
    if len(points) < 2:
        return None
    n = len(points)
    mean_t = sum(p[0] for p in points) / n
    mean_c = sum(p[1] for p in points) / n
    var = sum((p[0] - mean_t) ** 2 for p in points)
    if var <= 0:
        return None
    cov = sum((p[0] - mean_t) * (p[1] - mean_c) for p in points)
    return cov / var * 60.0


def _unpack(record: _Record) -> dict[str, Any]:
    sample: dict[str, Any] = {
        "t": record.t,
        "counts": dict(zip(record.names, record.counts, strict=True)),
    }
    sample.update(zip(record.keys, record.values, strict=True))
    return sample


def _series(records: list[_Record], class_name: str) -> list[tuple[float, int]]:
    out: list[tuple[float, int]] = []
    seen = False
    last_names: tuple[str, ...] | None = None
    index: int | None = None
    for record in records:
        if record.names is not last_names:
            last_names = record.names
            try:
                index = record.names.index(class_name)
            except ValueError:
                index = None
        if index is None:
            out.append((record.t, 0))
        else:
            seen = True
            out.append((record.t, record.counts[index]))
    return out if seen else []
