"""``leakscope demo``: start the built-in leaky program and find its leak, step by step.

The program (`leakscope.demo.program`) keeps every page of one site in a
cache that is never pruned. The walk-through runs the real ``leakscope``
commands on it, each printed before its output, then stops the program;
nothing is left running and its socket is gone.
"""

from __future__ import annotations

import importlib.util
import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Callable

from leakscope.client.errors import ExitCode, LeakscopeError

#: (title, arguments of `leakscope`) for each step, {pid} filled in.
STEPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Which processes run a leakscope agent?", ("ps",)),
    (
        "What is leaking, what holds it, and where is it made? One command, over 3 seconds:",
        ("leaks", "--pid", "{pid}", "--interval", "3", "--sites"),
    ),
    (
        "The tracked classes: how many are alive, and how old the oldest is:",
        ("prefs", "--pid", "{pid}"),
    ),
    (
        "The oldest Page, its URL, and why it is still alive (its path from a root):",
        ("oldest", "Page", "--pid", "{pid}", "--attr", "url", "--why"),
    ),
    (
        "A leak of live objects, or memory the allocators keep?",
        ("memory", "--pid", "{pid}"),
    ),
    ("The same data as JSON, for scripts:", ("prefs", "--pid", "{pid}", "--json")),
)
#: The step that needs the analysis extra (numpy, igraph).
ANALYSIS_STEP = "leaks"
FINDING = "Found it: every page of https://shop.example stays in CACHE (leakscope/demo/program.py)."


def _has_analysis() -> bool:
    return all(importlib.util.find_spec(name) is not None for name in ("numpy", "igraph"))


def start_program(seconds: float) -> tuple[subprocess.Popen[str], str]:
    """Start the leaky program; its process and its agent's socket path."""
    env = dict(os.environ)
    env.pop("LEAKSCOPE_AGENT", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "leakscope.demo.program", "--seconds", str(seconds)],
        stdout=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    if not line:
        proc.wait(timeout=5)
        raise LeakscopeError(ExitCode.INTERNAL, "the demo program exited before its agent started")
    return proc, line


def stop_program(proc: subprocess.Popen[str]) -> None:
    """Stop the program as Ctrl-C would, and wait for it (kill it after 10 s)."""
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def run_step(title: str, args: list[str], say: Callable[[str, str], None]) -> int:
    """Print the step's title and command, run the real command; its exit status."""
    say(f"\n# {title}", "title")
    say("$ leakscope " + " ".join(shlex.quote(a) for a in args), "command")
    sys.stdout.flush()
    return subprocess.run(
        [sys.executable, "-m", "leakscope", *args], check=False, stdin=subprocess.DEVNULL
    ).returncode


def walk_through(pause: float, say: Callable[[str, str], None]) -> None:
    """Run the whole demo; raises LeakscopeError if a step fails."""
    proc, path = start_program(seconds=600)
    pid = str(proc.pid)
    try:
        say(f"Started a leaky demo program: pid {pid}, agent socket {path}", "bold")
        time.sleep(1.0)
        for index, (title, args) in enumerate(STEPS):
            if args[0] == ANALYSIS_STEP and not _has_analysis():
                say(f"\n# {title}", "title")
                say("(skipped: it needs the analysis extra, pip install 'leakscope[analysis]')", "")
                continue
            status = run_step(title, [a.format(pid=pid) for a in args], say)
            if status != 0:
                raise LeakscopeError(
                    ExitCode.INTERNAL, f"demo step {index + 1} failed with exit status {status}"
                )
            time.sleep(pause)
        say("\n" + FINDING, "bold")
    finally:
        stop_program(proc)
    say(f"Demo program stopped (pid {pid}); its socket is gone: {not os.path.exists(path)}", "")
