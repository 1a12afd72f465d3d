"""`leakscope demo`: start a built-in leaky program and find its leak, step by step."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import time

import click

from leakscope.errors import ExitCode, LeakscopeError


def _start_target(seconds: float) -> tuple[subprocess.Popen[str], str]:
    env = dict(os.environ)
    env.pop("LEAKSCOPE_AGENT", None)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, leakscope.demo as d; sys.exit(d.main(sys.argv[1:]))",
            "--seconds",
            str(seconds),
        ],
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


def _run_step(title: str, args: list[str], pause: float) -> None:
    shown = "leakscope " + " ".join(shlex.quote(a) for a in args)
    click.secho(f"\n# {title}", fg="cyan", bold=True)
    click.secho(f"$ {shown}", fg="green")
    subprocess.run([sys.executable, "-m", "leakscope", *args], check=False)
    time.sleep(pause)


@click.command()
@click.option(
    "--scrapy",
    "use_scrapy",
    is_flag=True,
    help="Run a real Scrapy crawl with several spiders instead (needs Scrapy installed).",
)
@click.option(
    "--pause",
    type=click.FloatRange(0, 60),
    default=1.0,
    show_default=True,
    help="Seconds between steps.",
)
def demo(use_scrapy: bool, pause: float) -> None:
    """Start a built-in leaky program and walk through finding its leak.

    The program (python -m leakscope.demo) keeps every page of one site in a
    cache that is never pruned. The demo runs the real leakscope commands on
    it — ps, prefs, oldest, all — printing each command first, then stops the
    program. Nothing is left running.
    """
    if use_scrapy:
        try:
            from leakscope.integrations.scrapy_demo import run_demo
        except ImportError as exc:
            raise LeakscopeError(
                ExitCode.USAGE,
                f"the Scrapy demo needs Scrapy: pip install 'leakscope[scrapy]' ({exc})",
            ) from None
        run_demo(pause=pause)
        return
    proc, path = _start_target(seconds=600)
    pid = str(proc.pid)
    try:
        click.secho(f"Started a leaky demo program: pid {pid}, agent socket {path}", bold=True)
        time.sleep(1.0)
        _run_step("Which processes run a leakscope agent?", ["ps"], pause)
        _run_step(
            "What is alive, per class, and how old is the oldest?", ["prefs", "--pid", pid], pause
        )
        time.sleep(1.0)
        _run_step(
            "A moment later: Page and Request keep growing, Session does not.",
            ["prefs", "--pid", pid, "--ignore", "Session"],
            pause,
        )
        _run_step(
            "The oldest Page: which URL, and who links to it?",
            ["oldest", "Page", "--pid", pid, "--attr", "url", "--attr", "request"],
            pause,
        )
        _run_step(
            "Why is it still alive? The retention path from a root:",
            ["oldest", "Page", "--pid", pid, "--why"],
            pause,
        )
        _run_step(
            "All live Pages, oldest first (the first 5):",
            ["all", "Page", "--pid", pid, "--attr", "url", "--limit", "5"],
            pause,
        )
        _run_step("The same data as JSON, for scripts:", ["prefs", "--pid", pid, "--json"], 0)
        click.secho(
            "\nFound it: every page of https://shop.example stays in CACHE (leakscope/demo.py).",
            bold=True,
        )
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    click.echo(f"Demo program stopped (pid {pid}); its socket is gone: {not os.path.exists(path)}")
