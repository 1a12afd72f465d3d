"""The bounded history: packing, change and rate, the sampling thread."""

from __future__ import annotations

import threading
import time

import pytest

from leakscope.target.history import History, class_counts, default_sample


class Clock:
    """A sample function whose time and counts the test decides."""

    def __init__(self, step_s: float = 10.0) -> None:
        self.i = 0
        self.step_s = step_s

    def __call__(self) -> dict:
        self.i += 1
        counts = {"app.Grows": 3 * self.i, "app.Flat": 7}
        if self.i % 2:
            counts["app.Sometimes"] = 1
        return {"t": 1000.0 + self.step_s * self.i, "counts": counts, "rss": 100 + self.i}


def test_samples_are_bounded_by_keep_over_interval() -> None:
    history = History(interval_s=10.0, keep_s=100.0, sample=Clock())
    for _ in range(50):
        history.sample_now()
    samples = history.samples()
    assert len(samples) == history.maxlen == 11
    assert [s["rss"] for s in samples] == list(range(140, 151))
    assert samples[-1]["counts"]["app.Grows"] == 150
    assert samples[0]["t"] == 1400.0


def test_samples_since_counts_back_from_the_newest() -> None:
    history = History(interval_s=10.0, keep_s=1000.0, sample=Clock())
    for _ in range(20):
        history.sample_now()
    assert [s["t"] for s in history.samples(since_s=30)] == [1170.0, 1180.0, 1190.0, 1200.0]


def test_change_and_rate_on_a_known_series() -> None:
    history = History(interval_s=10.0, keep_s=1000.0, sample=Clock())
    for _ in range(20):  # t = 1010 .. 1200, Grows = 3 .. 60
        history.sample_now()
    assert history.change("app.Grows", 60.0) == 18
    assert history.change("app.Flat", 60.0) == 0
    assert history.change("app.Grows", 190.0) == 57
    assert history.change("app.Grows", 600.0) is None  # history too short
    assert history.change("app.Never", 60.0) is None
    assert history.rate_per_min("app.Grows") == pytest.approx(18.0)
    assert history.rate_per_min("app.Grows", over_s=50.0) == pytest.approx(18.0)
    assert history.rate_per_min("app.Flat") == pytest.approx(0.0)
    assert history.rate_per_min("app.Never") is None
    # A class absent from some samples counts 0 there.
    series = history.series("app.Sometimes")
    assert [c for _, c in series[:4]] == [1, 0, 1, 0]
    assert history.class_names() == ["app.Flat", "app.Grows", "app.Sometimes"]


def test_growth_matches_change_and_rate_and_follows_new_samples() -> None:
    history = History(interval_s=10.0, keep_s=1000.0, sample=Clock())
    for _ in range(20):
        history.sample_now()
    assert history.growth("app.Grows") == {
        "change_1m": 18,
        "change_10m": None,
        "rate_per_min": pytest.approx(18.0),
    }
    assert history.growth("app.Never") == {
        "change_1m": None,
        "change_10m": None,
        "rate_per_min": None,
    }
    for _ in range(60):  # now the history reaches ten minutes back
        history.sample_now()
    assert history.growth("app.Grows")["change_10m"] == 180
    assert history.growth("app.Grows")["change_1m"] == history.change("app.Grows", 60.0)


def test_rate_needs_two_samples() -> None:
    history = History(interval_s=10.0, keep_s=100.0, sample=Clock())
    history.sample_now()
    assert history.rate_per_min("app.Grows") is None
    assert history.change("app.Grows", 0.0) == 0


def test_thread_samples_and_stops() -> None:
    history = History(interval_s=0.02, keep_s=10.0, sample=lambda: {"counts": {"a.B": 1}})
    history.start()
    try:
        names = [t.name for t in threading.enumerate()]
        assert "leakscope-history" in names
        deadline = time.monotonic() + 10
        while len(history) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(history) >= 3
        assert all(t.daemon for t in threading.enumerate() if t.name == "leakscope-history")
    finally:
        history.stop()
    assert not history.running
    n = len(history)
    time.sleep(0.1)
    assert len(history) == n


def test_a_failing_sampler_does_not_kill_the_thread() -> None:
    calls = []

    def flaky() -> dict:
        calls.append(1)
        if len(calls) % 2:
            raise RuntimeError("boom")
        return {"counts": {"a.B": len(calls)}}

    history = History(interval_s=0.02, keep_s=10.0, sample=flaky)
    history.start()
    try:
        deadline = time.monotonic() + 10
        while len(history) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert history.running
        assert len(history) >= 2
        assert history.last_error == "RuntimeError: boom"
    finally:
        history.stop()


@pytest.mark.slow
def test_idle_thread_uses_no_cpu() -> None:
    history = History(interval_s=60.0, keep_s=600.0, sample=lambda: {"counts": {}})
    history.start()
    try:
        deadline = time.monotonic() + 10
        while len(history) < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        thread = next(t for t in threading.enumerate() if t.name == "leakscope-history")
        assert thread.ident is not None
        clock = time.pthread_getcpuclockid(thread.ident)
        cpu_before = time.clock_gettime(clock)
        time.sleep(1.5)
        cpu_used = time.clock_gettime(clock) - cpu_before
    finally:
        history.stop()
    # A polling loop would burn a good part of the 1.5 s; a wait burns ~nothing.
    assert cpu_used < 0.05


def test_interval_zero_means_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEAKSCOPE_HISTORY_INTERVAL", "0")
    assert History.from_env() is None
    monkeypatch.setenv("LEAKSCOPE_HISTORY_INTERVAL", "2")
    monkeypatch.setenv("LEAKSCOPE_HISTORY_KEEP", "60")
    history = History.from_env()
    assert history is not None
    assert (history.interval_s, history.keep_s, history.maxlen) == (2.0, 60.0, 31)
    monkeypatch.setenv("LEAKSCOPE_HISTORY_INTERVAL", "often")
    history = History.from_env()
    assert history is not None and history.interval_s == 5.0
    off = History(interval_s=0, sample=lambda: {"counts": {}})
    off.start()
    assert not off.running


def test_default_sample_has_memory_and_counts() -> None:
    sample = default_sample()
    assert sample["rss"] > 0
    assert sample["allocated_blocks"] > 0
    assert sample["pymalloc_used"] > 0
    assert isinstance(sample["counts"], dict)
    assert abs(sample["t"] - time.time()) < 60


def test_class_counts_come_from_trackref() -> None:
    trackref = pytest.importorskip("leakscope.trackref")

    class Leaky(trackref.object_ref):  # type: ignore[name-defined,misc]
        pass

    keep = [Leaky() for _ in range(7)]
    key = f"{Leaky.__module__}.{Leaky.__qualname__}"
    assert class_counts()[key] == len(keep)
    history = History(interval_s=10.0, keep_s=100.0)
    history.sample_now()
    keep.extend(Leaky() for _ in range(5))
    history.sample_now()
    assert [c for _, c in history.series(key)] == [7, 12]
