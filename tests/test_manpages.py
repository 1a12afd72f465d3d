"""The man pages in man/ match the Click commands: every command, every option."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import click

from leakscope.cli import main

MAN = Path(__file__).parent.parent / "man"


def test_man_pages_are_current():
    result = subprocess.run(
        [sys.executable, str(MAN / "build.py"), "--check"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


def test_every_option_has_a_man_entry():
    for name, cmd in main.commands.items():
        if cmd.hidden:
            assert not (MAN / f"leakscope-{name}.1").exists(), name
            continue
        page = (MAN / f"leakscope-{name}.1").read_text()
        ctx = click.Context(cmd, info_name=name)
        for param in cmd.get_params(ctx):
            if isinstance(param, click.Option):
                for opt in param.opts:
                    assert opt.replace("-", "\\-") in page, (name, opt)


def test_main_page_lists_every_command_and_exit_code():
    from leakscope.client.errors import ExitCode

    page = (MAN / "leakscope.1").read_text()
    for name, cmd in main.commands.items():
        assert (f"leakscope\\-{name}" in page) is not cmd.hidden, name

    for code in ExitCode:
        assert f"\\fB{int(code)}\\fR" in page
