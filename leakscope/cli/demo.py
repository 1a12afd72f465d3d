"""`leakscope demo`: start a built-in leaky program and walk through finding its leak."""

from __future__ import annotations

import click

from leakscope.cli.options import Seconds
from leakscope.client.errors import ExitCode, LeakscopeError

_STYLES = {
    "title": {"fg": "cyan", "bold": True},
    "command": {"fg": "green"},
    "bold": {"bold": True},
}


def _say(text: str, style: str) -> None:
    click.secho(text, **_STYLES.get(style, {}))  # type: ignore[arg-type]


@click.command()
@click.option(
    "--scrapy",
    "use_scrapy",
    is_flag=True,
    help="Run a real Scrapy crawl with several spiders instead (needs Scrapy installed).",
)
@click.option(
    "--pause",
    type=Seconds(0, 60),
    default=1.0,
    show_default=True,
    help="Seconds between steps.",
)
def demo(use_scrapy: bool, pause: float) -> None:
    """Start a built-in leaky program and walk through finding its leak.

    The program (python -m leakscope.demo.program) keeps every page of one
    site in a cache that is never pruned. The demo runs the real leakscope
    commands on it, printing each command first, then stops the program.
    Nothing is left running.

    \b
    Examples:
      leakscope demo                 the built-in program
      leakscope demo --scrapy        a real Scrapy crawl; finds the leaking spider
    """
    if use_scrapy:
        try:
            from leakscope.client.demo.scrapy_walkthrough import run_demo
        except ImportError as exc:
            raise LeakscopeError(
                ExitCode.USAGE,
                f"the Scrapy demo needs Scrapy: pip install 'leakscope[scrapy]' ({exc})",
            ) from None
        run_demo(pause=pause)
        return
    from leakscope.client.demo.walkthrough import walk_through

    walk_through(pause, _say)
