"""The ``leakscope`` command: a Click group of thin commands, one module each.

A command parses its options, asks the client (`leakscope.client`), and
hands the typed answer to a renderer (`leakscope.render`). Every failure
reaches the user as one line on stderr (``leakscope: ...``) and a documented
exit code (`leakscope.client.errors.ExitCode`); set ``LEAKSCOPE_DEBUG=1`` to
see the traceback of an internal error.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
import traceback
from typing import Any

import click

from leakscope import wire
from leakscope.client.connector import Connector
from leakscope.client.errors import ExitCode, LeakscopeError


def _fail(message: str, code: int) -> None:
    click.echo(f"leakscope: {message}", err=True)
    sys.exit(code)


def _interrupted() -> None:
    # Ctrl-C: leave now. Waiting for the connection to close cleanly can take as
    # long as the census the agent is running; the kernel closes the socket.
    with contextlib.suppress(Exception):
        sys.stdout.flush()
    # On a terminal "^C" was echoed where the cursor was: start a line of our own.
    start = "\n" if sys.stderr.isatty() else ""
    sys.stderr.write(f"{start}leakscope: interrupted\n")
    sys.stderr.flush()
    os._exit(ExitCode.INTERRUPTED)


class LeakscopeGroup(click.Group):
    """A group whose errors are one line each, with the documented exit codes."""

    def main(  # type: ignore[override]
        self, args: list[str] | None = None, prog_name: str | None = None, **extra: Any
    ) -> Any:
        extra.pop("standalone_mode", None)  # always: one line and an exit code
        argv = sys.argv[1:] if args is None else list(args)
        try:
            # Not Click's own main(): it prints a blank line on Ctrl-C and waits.
            with self.make_context(prog_name or "leakscope", argv, **extra) as ctx:
                rv = self.invoke(ctx)
        except click.exceptions.Exit as exc:
            sys.exit(exc.exit_code)
        except (click.exceptions.Abort, KeyboardInterrupt, EOFError):
            _interrupted()
        except click.exceptions.NoArgsIsHelpError as exc:
            click.echo(exc.ctx.get_help())
            sys.exit(ExitCode.USAGE)
        except click.UsageError as exc:
            where = exc.ctx.command_path if exc.ctx is not None else "leakscope"
            message = exc.format_message().replace("\n", " ")
            _fail(f"{message} (see `{where} --help`)", ExitCode.USAGE)
        except click.ClickException as exc:
            _fail(exc.format_message().replace("\n", " "), exc.exit_code)
        except LeakscopeError as exc:
            _fail(exc.message, exc.code)
        except BrokenPipeError:
            # The reader went away (`leakscope ... | head`): not an error.
            sys.stderr.close()
            os._exit(0)
        except Exception as exc:
            if os.environ.get("LEAKSCOPE_DEBUG"):
                traceback.print_exc()
            _fail(
                f"internal error: {type(exc).__name__}: {exc} (set LEAKSCOPE_DEBUG=1 for the "
                "traceback, and please report it)",
                ExitCode.INTERNAL,
            )
        sys.exit(rv if isinstance(rv, int) else 0)


@click.group(
    cls=LeakscopeGroup,
    context_settings={"help_option_names": ["-h", "--help"]},
    no_args_is_help=True,
)
@click.version_option(wire.VERSION, prog_name="leakscope")
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
@click.pass_context
def main(ctx: click.Context, remote: str | None, host: str | None) -> None:
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
      leakscope memory --pid PID         a leak, or memory the allocators keep?

    Every query command takes --json. Exit codes are listed in leakscope(1)
    (`man leakscope` after pip install; or man/leakscope.1 in the source).
    """
    prefix = None
    if remote is not None or host is not None:
        from leakscope.client.remote import parse_prefix

        prefix = parse_prefix(remote, host)
    ctx.obj = Connector(remote=prefix)


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
    "report": ("report", "report"),
    "sites": ("sites", "sites"),
    "run": ("run", "run"),
    "attach": ("attach", "attach"),
    "detach": ("attach", "detach"),
    "demo": ("demo", "demo"),
    "dump": ("dumps", "dump"),
    "retained": ("dumps", "retained"),
    "leaks": ("dumps", "leaks"),
    "track": ("track", "track"),
    "untrack": ("track", "untrack"),
    "_call": ("remote_call", "remote_call"),
}


def _load(name: str) -> click.Command:
    module_name, attribute = COMMANDS[name]
    # A command module that fails to import is a bug: let it surface as one.
    module = importlib.import_module(f"leakscope.cli.{module_name}")
    command = getattr(module, attribute)
    if not isinstance(command, click.Command):
        raise TypeError(f"leakscope.cli.{module_name}.{attribute} is not a Click command")
    return command


class _LazyCommands(dict):  # type: ignore[type-arg]
    """main.commands, filled on first use of each name."""

    def __missing__(self, name: str) -> click.Command:
        if name not in COMMANDS:
            raise KeyError(name)
        command = _load(name)
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
        return [(n, self[n]) for n in sorted(COMMANDS)]

    def values(self):  # type: ignore[no-untyped-def]
        return [c for _, c in self.items()]


main.commands = _LazyCommands()
