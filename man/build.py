"""Write the man pages in man/ from the Click commands (and check they are current).

    python man/build.py          # rewrite man/*.1
    python man/build.py --check  # exit 1 if any page differs from the commands

Each page's options come from the command's own Click parameters, so a new
option cannot ship without its man entry: tests/test_manpages.py runs --check.
"""

from __future__ import annotations

import inspect
import sys
from pathlib import Path

import click

from leakscope import __version__
from leakscope.cli import main
from leakscope.client.errors import MEANINGS, ExitCode

HERE = Path(__file__).parent
DATE = "2026-11"

#: The block of a command's help that lists examples (Click keeps it as written).
EXAMPLES_HEAD = "\b\nExamples:\n"


def split_examples(help_text: str) -> tuple[str, list[tuple[str, str]]]:
    """The help text without its Examples block, and the examples as (command, what)."""
    text = inspect.cleandoc(help_text)
    head, found, block = text.partition(EXAMPLES_HEAD)
    if not found:
        return text, []
    examples = []
    for line in block.split("\n\n", 1)[0].splitlines():
        command, _, what = line.strip().partition("  ")
        examples.append((command.strip(), what.strip()))
    return head.rstrip(), examples


def _esc(text: str) -> str:
    out = text.replace("\\", "\\\\").replace("-", "\\-")
    lines = []
    for line in out.splitlines():
        if line.startswith((".", "'")):
            line = "\\&" + line
        lines.append(line)
    return "\n".join(lines)


def _paragraphs(help_text: str) -> str:
    out = []
    for para in inspect.cleandoc(help_text).split("\n\n"):
        if para.startswith("\b\n"):  # Click's "keep these lines as they are"
            out.append(".nf\n" + _esc(para[2:]) + "\n.fi")
        elif para.strip():
            out.append(_esc(" ".join(line.strip() for line in para.splitlines())))
    return "\n.PP\n".join(out)


def _option_lines(cmd: click.Command, ctx: click.Context) -> list[str]:
    lines: list[str] = []
    for param in cmd.get_params(ctx):
        record = param.get_help_record(ctx)
        if record is None:
            continue
        names, help_text = record
        lines += [".TP", f"\\fB{_esc(names)}\\fR", _esc(help_text or "")]
    return lines


def _usage(cmd: click.Command, ctx: click.Context) -> str:
    pieces = cmd.collect_usage_pieces(ctx)
    return " ".join(pieces)


def command_page(name: str, cmd: click.Command) -> str:
    """The man page of one subcommand."""
    parent = click.Context(main, info_name="leakscope")
    ctx = click.Context(cmd, info_name=name, parent=parent)
    short = cmd.get_short_help_str(limit=80)
    description, examples = split_examples(cmd.help or "")
    lines = [
        f'.TH LEAKSCOPE-{name.upper()} 1 "{DATE}" "leakscope {__version__}" "leakscope manual"',
        ".SH NAME",
        f"leakscope\\-{_esc(name)} \\- {_esc(short)}",
        ".SH SYNOPSIS",
        f"\\fBleakscope {_esc(name)}\\fR {_esc(_usage(cmd, ctx))}",
        ".SH DESCRIPTION",
        _paragraphs(description),
        ".SH OPTIONS",
        *_option_lines(cmd, ctx),
    ]
    if examples:
        lines.append(".SH EXAMPLES")
        for example, what in examples:
            lines += [".TP", f"\\fB{_esc(example)}\\fR", _esc(what)]
    lines += [
        ".SH EXIT STATUS",
        "See \\fBleakscope\\fR(1); 0 on success.",
        ".SH SEE ALSO",
        "\\fBleakscope\\fR(1)",
    ]
    return "\n".join(lines) + "\n"


def main_page() -> str:
    """leakscope(1): overview, commands, exit codes, environment."""
    ctx = click.Context(main, info_name="leakscope")
    lines = [
        f'.TH LEAKSCOPE 1 "{DATE}" "leakscope {__version__}" "leakscope manual"',
        ".SH NAME",
        "leakscope \\- find memory leaks in running Python processes",
        ".SH SYNOPSIS",
        "\\fBleakscope\\fR [\\fIOPTIONS\\fR] \\fICOMMAND\\fR [\\fIARGS\\fR]...",
        ".SH DESCRIPTION",
        _paragraphs(main.help or ""),
        ".SH OPTIONS",
        *_option_lines(main, ctx),
        ".SH COMMANDS",
    ]
    for name in _visible():
        cmd = main.commands[name]
        lines += [
            ".TP",
            f"\\fBleakscope\\-{_esc(name)}\\fR(1)",
            _esc(cmd.get_short_help_str(limit=120)),
        ]
    lines.append(".SH EXIT STATUS")
    for code in ExitCode:
        lines += [".TP", f"\\fB{int(code)}\\fR", _esc(MEANINGS[code])]
    lines += [
        ".SH ENVIRONMENT",
        ".TP",
        "\\fBLEAKSCOPE_AGENT=1\\fR",
        "start the agent when the program imports leakscope",
        ".TP",
        "\\fBLEAKSCOPE_SOCKET_DIR\\fR",
        _esc(
            "socket directory (default $XDG_RUNTIME_DIR/leakscope or /tmp/leakscope-UID); "
            "it must be a 0700 directory owned by the user. Set for the CLI, it is the only "
            "directory that listing looks at."
        ),
        ".TP",
        "\\fBLEAKSCOPE_TRACK_REFS=0\\fR",
        "turn object tracking off at import time",
        ".TP",
        "\\fBLEAKSCOPE_TRACK_SITES=1\\fR",
        "record creation sites (file:line) of tracked objects",
        ".TP",
        "\\fBLEAKSCOPE_FORK_AGENT=0\\fR",
        "forked children get no agent of their own",
        ".TP",
        "\\fBLEAKSCOPE_HISTORY_INTERVAL\\fR, \\fBLEAKSCOPE_HISTORY_KEEP\\fR",
        "growth history: seconds between samples (0 turns it off) and seconds kept",
        ".TP",
        "\\fBLEAKSCOPE_REMOTE_COMMAND\\fR",
        _esc("with --remote: the leakscope command on the other side (default: leakscope)"),
        ".TP",
        "\\fBLEAKSCOPE_METRICS=127.0.0.1:9464\\fR",
        _esc(
            "the agent also serves Prometheus metrics there (loopback unless "
            "LEAKSCOPE_METRICS_ALLOW_REMOTE=1)"
        ),
        ".TP",
        "\\fBLEAKSCOPE_DEBUG=1\\fR",
        "print the traceback of an internal error",
        ".SH FILES",
        ".TP",
        "\\fI$XDG_RUNTIME_DIR/leakscope/PID.sock\\fR, \\fI/tmp/leakscope\\-UID/PID.sock\\fR",
        "the agent socket of process PID (mode 0600, in a 0700 directory)",
        ".SH SEE ALSO",
        ", ".join(f"\\fBleakscope\\-{_esc(n)}\\fR(1)" for n in _visible()),
    ]
    return "\n".join(lines) + "\n"


def _visible() -> list[str]:
    """The commands a user may type (hidden ones, such as ``_call``, have no page)."""
    return [name for name in sorted(main.commands) if not main.commands[name].hidden]


def pages() -> dict[str, str]:
    """Every page, by file name."""
    out = {"leakscope.1": main_page()}
    for name in _visible():
        out[f"leakscope-{name}.1"] = command_page(name, main.commands[name])
    return out


def run(check: bool) -> int:
    """Write (or check) the pages; return the exit code."""
    wanted = pages()
    stale = []
    for filename, text in wanted.items():
        path = HERE / filename
        current = path.read_text() if path.exists() else None
        if current != text:
            stale.append(filename)
            if not check:
                path.write_text(text)
    extra = sorted(p.name for p in HERE.glob("*.1") if p.name not in wanted)
    if check:
        for name in stale:
            print(f"man/{name} is out of date: run python man/build.py", file=sys.stderr)
        for name in extra:
            print(f"man/{name} has no command any more: remove it", file=sys.stderr)
        return 1 if stale or extra else 0
    for name in extra:
        (HERE / name).unlink()
    return 0


if __name__ == "__main__":
    sys.exit(run("--check" in sys.argv[1:]))
