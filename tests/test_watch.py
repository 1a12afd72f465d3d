"""`prefs --watch`: a live table until Ctrl-C (exit 0), that waits when the target goes.

The table is redrawn on a real terminal (a pty), where each redraw is counted;
with ``--json`` each poll is one JSON document on its own line (JSON Lines).
Between polls the target grows, and the redraws must show it.
"""

from __future__ import annotations

import json
import os
import pty
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable

import pytest

from tests.conftest import REPO

EVERY = 0.3
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")  # colours and cursor moves


class Reader:
    """Collects what a file descriptor gives, in a thread, until it closes."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.data = b""
        self.cond = threading.Condition()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        while True:
            try:
                chunk = os.read(self.fd, 65536)
            except OSError:  # EIO: the pty's other side closed
                chunk = b""
            with self.cond:
                if not chunk:
                    self.cond.notify_all()
                    return
                self.data += chunk
                self.cond.notify_all()

    @property
    def text(self) -> str:
        with self.cond:
            return self.data.decode(errors="replace")

    def wait_for(self, check: Callable[[str], bool], timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        with self.cond:
            while not check(self.data.decode(errors="replace")):
                left = deadline - time.monotonic()
                assert left > 0, f"timed out; so far: {self.data[-2000:]!r}"
                self.cond.wait(left)

    def finish(self) -> str:
        self.thread.join(10)
        return self.text


def _env() -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(REPO), COLUMNS="120", LINES="40")
    env["TERM"] = "xterm-256color"
    return env


def _lines(text: str) -> list[str]:
    """The complete lines of *text* (a line may arrive in pieces)."""
    return text.split("\n")[:-1]


def _grow(target, n: int) -> None:  # type: ignore[no-untyped-def]
    target.proc.stdin.write(f"grow {n}\n")
    target.proc.stdin.flush()
    assert target.proc.stdout.readline().strip() == "ok"


def _stop(watcher: subprocess.Popen) -> int:
    watcher.send_signal(signal.SIGINT)
    return watcher.wait(timeout=10)


@pytest.mark.slow
def test_watch_redraws_on_a_terminal_until_ctrl_c(target_factory) -> None:
    heapy = target_factory("heapy")
    main, other = pty.openpty()
    watcher = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "leakscope",
            "prefs",
            "--pid",
            str(heapy.pid),
            "--watch",
            str(EVERY),
        ],
        stdin=other,
        stdout=other,
        stderr=subprocess.PIPE,
        env=_env(),
        close_fds=True,
    )
    os.close(other)
    out = Reader(main)
    title = f"Live References — pid {heapy.pid}"
    try:
        out.wait_for(lambda text: text.count(title) >= 3)
        started = time.monotonic()
        drawn = out.text.count(title)
        _grow(heapy, 500)
        out.wait_for(lambda text: "10,500" in text)
        out.wait_for(lambda text: text.count(title) >= drawn + 4)
        elapsed = time.monotonic() - started
        code = _stop(watcher)
    finally:
        if watcher.poll() is None:
            watcher.kill()
            watcher.wait()
    text = out.finish()
    os.close(main)
    err = watcher.stderr.read().decode() if watcher.stderr else ""
    assert code == 0, err
    assert "Traceback" not in err
    # Each redraw is the whole table again, in place (the cursor moves back up).
    frames = text.split(title)[1:]
    assert len(frames) >= drawn + 4
    assert len(frames) <= drawn + 3 + elapsed / EVERY + 2, "redrawn faster than asked"
    assert "\x1b[" in text  # drawn in place on a terminal, not appended as plain text
    plain = [ANSI.sub("", f) for f in frames]
    holder = [re.search(r"__main__\.Holder\W+([\d,]+)", f) for f in plain]
    counts = [m.group(1) for m in holder if m]
    assert counts[0] == "10,000" and counts[-1] == "10,500", counts
    assert counts == sorted(counts, key=lambda c: int(c.replace(",", "")))
    assert re.search(rf"every {EVERY:g}s — \d\d:\d\d:\d\d — Ctrl-C to stop", text)


def test_watch_json_is_one_document_per_line_per_poll(target_factory) -> None:
    heapy = target_factory("heapy")
    watcher = subprocess.Popen(
        [sys.executable, "-m", "leakscope", "prefs", "--pid", str(heapy.pid)]
        + ["--watch", str(EVERY), "--json"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_env(),
    )
    assert watcher.stdout is not None
    out = Reader(watcher.stdout.fileno())
    try:
        out.wait_for(lambda text: len(_lines(text)) >= 3)
        _grow(heapy, 500)
        out.wait_for(lambda text: '"count":10500' in "".join(_lines(text)))
        seen = len(_lines(out.text))
        out.wait_for(lambda text: len(_lines(text)) >= seen + 2)
        code = _stop(watcher)
    finally:
        if watcher.poll() is None:
            watcher.kill()
            watcher.wait()
    text = out.finish()
    err = watcher.stderr.read().decode() if watcher.stderr else ""
    assert code == 0, err
    assert err == ""
    assert text.endswith("\n")
    documents = [json.loads(line) for line in text.splitlines()]  # each line is whole
    assert len(documents) >= 6
    assert all(d["pid"] == heapy.pid and d["partial"] is False for d in documents)
    counts = [
        next(r["count"] for r in d["rows"] if r["class"] == "__main__.Holder") for d in documents
    ]
    grown = counts.index(10_500)
    assert grown >= 3 and counts == [10_000] * grown + [10_500] * (len(counts) - grown)
    times = [d["time"] for d in documents]
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert min(gaps) >= EVERY * 0.9, gaps  # one poll per interval, not more


@pytest.mark.slow
def test_watch_survives_the_target_going_away(basic_target) -> None:
    watcher = subprocess.Popen(
        [sys.executable, "-m", "leakscope", "prefs", "--pid", str(basic_target.pid)]
        + ["--watch", str(EVERY)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
    )
    time.sleep(1.2)
    basic_target.proc.kill()
    basic_target.proc.wait()
    time.sleep(1.5)
    assert watcher.poll() is None  # still waiting, not crashed
    watcher.send_signal(signal.SIGINT)
    out, err = watcher.communicate(timeout=10)
    assert watcher.returncode == 0, err
    assert f"no such process: {basic_target.pid} — retrying every 0.3s" in out
    assert "__main__.Widget" in out  # the last table stays on screen
    assert "Traceback" not in err
