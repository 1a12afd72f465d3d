"""`prefs --watch`: a live table until Ctrl-C (exit 0), that waits when the target goes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from tests.conftest import REPO


def _watch(pid: int) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONPATH=str(REPO), COLUMNS="120")
    return subprocess.Popen(
        [sys.executable, "-m", "leakscope", "prefs", "--pid", str(pid), "--watch", "0.3"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def test_watch_redraws_until_ctrl_c(basic_target):
    watcher = _watch(basic_target.pid)
    time.sleep(2.0)
    watcher.send_signal(signal.SIGINT)
    out, err = watcher.communicate(timeout=10)
    assert watcher.returncode == 0, err
    assert "Live References" in out and "__main__.Widget" in out
    assert "Traceback" not in err


def test_watch_survives_the_target_going_away(basic_target):
    watcher = _watch(basic_target.pid)
    time.sleep(1.2)
    basic_target.proc.kill()
    basic_target.proc.wait()
    time.sleep(1.5)
    assert watcher.poll() is None  # still waiting, not crashed
    watcher.send_signal(signal.SIGINT)
    out, err = watcher.communicate(timeout=10)
    assert watcher.returncode == 0, err
    assert "retrying" in out
    assert "Traceback" not in err
