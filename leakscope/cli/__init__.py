"""The ``leakscope`` command: a Click group of thin commands, one module each.

Every failure reaches the user as one line on stderr (``leakscope: ...``) and
a documented exit code (`leakscope.errors.ExitCode`); set ``LEAKSCOPE_DEBUG=1``
to see the traceback of an internal error.
"""

from __future__ import annotations

import os
import sys
import traceback
from typing import Any

import click

from leakscope import __version__
from leakscope.errors import ExitCode, LeakscopeError


def _fail(message: str, code: int) -> None:
    click.echo(f"leakscope: {message}", err=True)
    sys.exit(code)


class LeakscopeGroup(click.Group):
    """A group whose errors are one line each, with the documented exit codes."""

    def main(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        kwargs["standalone_mode"] = False
        try:
            rv = super().main(*args, **kwargs)
        except click.exceptions.Exit as exc:
            sys.exit(exc.exit_code)
        except click.exceptions.Abort:
            _fail("aborted", 130)
        except click.UsageError as exc:
            where = exc.ctx.command_path if exc.ctx is not None else "leakscope"
            message = exc.format_message().replace("\n", " ")
            _fail(f"{message} (see `{where} --help`)", ExitCode.USAGE)
        except click.ClickException as exc:
            _fail(exc.format_message().replace("\n", " "), exc.exit_code)
        except LeakscopeError as exc:
            _fail(exc.message, exc.code)
        except KeyboardInterrupt:
            sys.exit(130)
        except BrokenPipeError:
            sys.exit(0)
        except Exception as exc:
            if os.environ.get("LEAKSCOPE_DEBUG"):
                traceback.print_exc()
            _fail(
                f"internal error: {type(exc).__name__}: {exc} (set LEAKSCOPE_DEBUG=1 for the "
                "traceback, and please report it)",
                ExitCode.INTERNAL,
            )
        sys.exit(rv if isinstance(rv, int) else 0)


@click.group(cls=LeakscopeGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="leakscope")
@click.option(
    "--remote",
    metavar="PREFIX",
    default=None,
    help='Run on another host or container through this command prefix, e.g. "ssh user@box", '
    '"kubectl exec -i mypod --", "docker exec -i ctr". The leakscope installed there talks '
    "to the agent; tables are drawn here. No TCP port is opened.",
)
@click.option(
    "--host", metavar="USER@HOST", default=None, help='Shorthand for --remote "ssh USER@HOST".'
)
def main(remote: str | None, host: str | None) -> None:
    """Find memory leaks in running Python processes.

    A small agent inside the target process (started by
    `leakscope.agent.start()`, `leakscope run`, or `leakscope attach`) answers
    on a private Unix socket; these commands ask it what is alive, how old it
    is, what holds it, and how the heap and memory are made up.

    \b
    Start with:
      leakscope demo                     a built-in leaky program, walked through
      leakscope ps                       processes that run an agent
      leakscope prefs --pid PID          live tracked objects per class
      leakscope oldest CLASS --attr url  the oldest live object of a class

    Every command takes --json. Exit codes are listed in leakscope(1).
    """
    if remote is not None or host is not None:
        from leakscope import client
        from leakscope.integrations.remote import parse_prefix

        client.set_remote(parse_prefix(remote, host))


#: Every command: name -> (module under leakscope.cli, attribute). Modules are
#: imported only when their command runs (or --help lists them), so a query
#: does not pay for the imports of attach, run or the Scrapy demo.
COMMANDS: dict[str, tuple[str, str]] = {
    "ps": ("ps", "ps"),
    "prefs": ("liverefs", "prefs"),
    "oldest": ("liverefs", "oldest"),
    "all": ("liverefs", "all_objects"),
    "heap": ("heap", "heap"),
    "diff": ("diff", "diff"),
    "snapshot": ("snapshot", "snapshot"),
    "memory": ("memory", "memory"),
    "history": ("history", "history"),
    "sites": ("sites", "sites"),
    "run": ("run", "run"),
    "attach": ("attach", "attach"),
    "detach": ("attach", "detach"),
    "demo": ("demo", "demo"),
    "_call": ("remote_call", "remote_call"),
}


def _load(name: str) -> click.Command | None:
    entry = COMMANDS.get(name)
    if entry is None:
        return None
    import importlib

    try:
        module = importlib.import_module(f"leakscope.cli.{entry[0]}")
    except ImportError:
        return None
    command = getattr(module, entry[1], None)
    return command if isinstance(command, click.Command) else None


class _LazyCommands(dict):  # type: ignore[type-arg]
    """main.commands, filled on first use of each name."""

    def __missing__(self, name: str) -> click.Command:
        command = _load(name)
        if command is None:
            raise KeyError(name)
        self[name] = command
        return command

    def get(self, name: str, default: object = None) -> object:  # type: ignore[override]
        try:
            return self[name]
        except KeyError:
            return default

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in COMMANDS

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(sorted(COMMANDS))

    def __len__(self) -> int:
        return len(COMMANDS)

    def keys(self):  # type: ignore[no-untyped-def]
        return sorted(COMMANDS)

    def items(self):  # type: ignore[no-untyped-def]
        return [(n, c) for n in sorted(COMMANDS) if (c := self.get(n)) is not None]

    def values(self):  # type: ignore[no-untyped-def]
        return [c for _, c in self.items()]


main.commands = _LazyCommands()
