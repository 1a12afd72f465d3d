"""``leakscope run``: start a program with the agent on, without touching its code."""

from __future__ import annotations

import sys

import click

from leakscope.client.run import run_program


@click.command(
    "run",
    context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False},
)
@click.option(
    "--children",
    is_flag=True,
    help="Also give an agent to the Python programs it starts (exec), not only to forks.",
)
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
def run(children: bool, command: tuple[str, ...]) -> None:
    """Run COMMAND (a Python program) with a leakscope agent in it, its code untouched.

    The first Python process of COMMAND gets the agent before its own code runs
    (a start-up hook on PYTHONPATH; no code changes), and `leakscope ps` lists
    it. Forked workers of a pre-fork server (gunicorn, celery) get their own agents;
    other programs it starts (exec) get none, unless --children.
    Signals sent to `leakscope run` are passed on; its exit status is
    COMMAND's. Where the agent listens is printed on stderr.

    \b
    Examples:
      leakscope run -- python app.py
      leakscope run -- scrapy crawl myspider
      leakscope run -- gunicorn app:wsgi -w 4       the master and each worker
    """
    code = run_program(command, children=children, say=lambda line: click.echo(line, err=True))
    sys.exit(code)
