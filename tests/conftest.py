"""Shared fixtures: real target processes with a real agent, and a CLI runner."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

TARGETS = Path(__file__).parent / "targets"
REPO = Path(__file__).parent.parent


@pytest.fixture
def socket_dir(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A private socket directory for this test only (isolates discovery)."""
    with tempfile.TemporaryDirectory(prefix="leakscope-test-") as d:
        path = Path(d) / "sockets"
        path.mkdir(mode=0o700)
        monkeypatch.setenv("LEAKSCOPE_SOCKET_DIR", str(path))
        yield path


@dataclass
class Target:
    """A running target process with an agent."""

    proc: subprocess.Popen[str]
    socket: str

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self) -> int:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            with contextlib.suppress(OSError):
                self.proc.stdin.close()
            wait_or_kill(self.proc, 10)
        return self.proc.returncode


def wait_or_kill(proc: subprocess.Popen, timeout: float) -> None:
    """Wait for *proc* to end; SIGKILL it if it has not after *timeout* seconds."""
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def terminate(proc: subprocess.Popen, timeout: float = 10) -> None:
    """SIGTERM *proc*, then SIGKILL it if it is still there after *timeout* seconds."""
    proc.terminate()
    wait_or_kill(proc, timeout)


def start_target(
    script: str | Path, *args: str, env: dict[str, str] | None = None, python: str | None = None
) -> Target:
    """Start a target script that prints its socket path once its agent is up."""
    full_env = dict(os.environ)
    full_env["PYTHONPATH"] = os.pathsep.join(
        [str(REPO), *filter(None, [full_env.get("PYTHONPATH")])]
    )
    full_env.update(env or {})
    proc = subprocess.Popen(
        [python or sys.executable, str(script), *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=full_env,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    if not line or line == "None":
        proc.kill()
        _, err = proc.communicate(timeout=10)
        raise RuntimeError(f"target did not start its agent: {line!r} {err}")
    return Target(proc, line)


@pytest.fixture
def target_factory(socket_dir: Path) -> Iterator:
    """Start targets (tests/targets/NAME.py) that are stopped at the end of the test."""
    started: list[Target] = []

    def factory(name: str = "basic", *args: str, **kw: object) -> Target:
        t = start_target(TARGETS / f"{name}.py", *args, **kw)  # type: ignore[arg-type]
        started.append(t)
        return t

    yield factory
    for t in started:
        t.stop()


@pytest.fixture
def basic_target(target_factory) -> Target:
    """The basic target: 10 Widgets, 5 Gadgets, 1 Plain."""
    return target_factory("basic", "10", "5")


def run_cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run the real `leakscope` command in a subprocess."""
    full_env = dict(os.environ)
    full_env["PYTHONPATH"] = os.pathsep.join(
        [str(REPO), *filter(None, [full_env.get("PYTHONPATH")])]
    )
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "leakscope", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=full_env,
        stdin=subprocess.DEVNULL,
    )


def cli_json(*args: str, **kw: object) -> object:
    """Run the CLI with --json and parse stdout (asserting exit code 0)."""
    result = run_cli(*args, "--json", **kw)  # type: ignore[arg-type]
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


# -- the fast subset (pytest -m "not slow") ------------------------------------
#
# Slow tests in files other engineers own, marked at collection so that
# `pytest -m "not slow"` stays under a minute while those files change. What
# stays fast still checks every part (the report without a browser, memory
# verdicts in a real target, bad input, dumps). Move a marker into its file
# (@pytest.mark.slow) and drop its line here.
SLOW_ELSEWHERE: dict[str, tuple[str, ...]] = {
    "tests/test_leaks.py": (
        "test_leaks_names_the_class_its_holder_and_creation_line",
        "test_dump_file_round_trip_and_bad_files",
        "test_by_class_sums_per_class",
        "test_agrees_with_guppy_domisize",
        "test_a_list_of_dicts_retains_exactly_what_getsizeof_sums",
        "test_leaks_offline_from_two_dumps",
        "test_track_and_untrack_a_running_class",
        "test_a_client_gone_mid_dump_leaves_nothing_held",
        "test_tracemalloc_stops_at_its_deadline_without_the_client",
        "test_oldest_and_all_find_an_untracked_class",
        "test_leaks_follows_a_structure_replaced_while_it_is_dumped",
    ),
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the tests of `SLOW_ELSEWHERE` slow (every parametrized case of each)."""
    for item in items:
        path, _, name = item.nodeid.partition("::")
        if name.split("[", 1)[0] in SLOW_ELSEWHERE.get(path, ()):
            item.add_marker(pytest.mark.slow)
