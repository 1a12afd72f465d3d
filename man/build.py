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
from leakscope.errors import ExitCode

HERE = Path(__file__).parent
DATE = "2026-11"

EXIT_MEANINGS = {
    ExitCode.OK: "success",
    ExitCode.INTERNAL: "internal error of leakscope (a bug: please report it)",
    ExitCode.USAGE: "invalid option, argument or value",
    ExitCode.NO_SUCH_PROCESS: "no process has that PID",
    ExitCode.NOT_PYTHON: "the process is not a Python process",
    ExitCode.NO_AGENT: "a Python process without a leakscope agent",
    ExitCode.SEVERAL_AGENTS: "several processes run an agent and no --pid was given",
    ExitCode.NONE_FOUND: "no process runs a leakscope agent",
    ExitCode.PERMISSION: "permission denied (another user's process, or unsafe socket directory)",
    ExitCode.STALE_SOCKET: "the process is gone; its stale socket was removed",
    ExitCode.TARGET_EXITED: "the target exited or closed the connection during the query",
    ExitCode.UNKNOWN_CLASS: "no live objects of that class (close names are suggested)",
    ExitCode.INCOMPATIBLE: "the agent speaks another protocol version",
    ExitCode.TIMEOUT: "the agent did not answer in time",
    ExitCode.BAD_SNAPSHOT: "a snapshot file is unreadable, truncated or of an unknown schema",
    ExitCode.ATTACH_FAILED: "the agent could not be started in the process (attach)",
    ExitCode.AGENT_ERROR: "the agent reported an error of its own",
    ExitCode.PARTIAL: "several processes were asked and some could not answer (the rest is shown)",
}

EXAMPLES: dict[str, list[tuple[str, str]]] = {
    "prefs": [
        ("leakscope prefs --pid 4242", "live tracked objects per class"),
        ("leakscope prefs --ignore Spider --sort growth", "hide spiders, fastest growth first"),
        ("leakscope prefs --group-by spider", "which Scrapy spider owns them"),
        ("leakscope prefs --watch 5", "redraw every 5 seconds until Ctrl-C"),
    ],
    "oldest": [
        ("leakscope oldest HtmlResponse --attr url", "the URL of the oldest response"),
        ("leakscope oldest HtmlResponse --why --graph path.dot", "why it is still alive"),
    ],
    "all": [("leakscope all HtmlResponse --attr url --limit 50", "the 50 oldest responses")],
    "ps": [("leakscope ps --json", "agent-bearing processes as JSON")],
    "demo": [("leakscope demo", "find the leak of a built-in leaky program")],
}


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
    lines = [
        f'.TH LEAKSCOPE-{name.upper()} 1 "{DATE}" "leakscope {__version__}" "leakscope manual"',
        ".SH NAME",
        f"leakscope\\-{_esc(name)} \\- {_esc(short)}",
        ".SH SYNOPSIS",
        f"\\fBleakscope {_esc(name)}\\fR {_esc(_usage(cmd, ctx))}",
        ".SH DESCRIPTION",
        _paragraphs(cmd.help or ""),
        ".SH OPTIONS",
        *_option_lines(cmd, ctx),
    ]
    if name in EXAMPLES:
        lines.append(".SH EXAMPLES")
        for example, what in EXAMPLES[name]:
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
    for name in sorted(main.commands):
        cmd = main.commands[name]
        lines += [
            ".TP",
            f"\\fBleakscope\\-{_esc(name)}\\fR(1)",
            _esc(cmd.get_short_help_str(limit=120)),
        ]
    lines.append(".SH EXIT STATUS")
    for code in ExitCode:
        lines += [".TP", f"\\fB{int(code)}\\fR", _esc(EXIT_MEANINGS[code])]
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
        ", ".join(f"\\fBleakscope\\-{_esc(n)}\\fR(1)" for n in sorted(main.commands)),
    ]
    return "\n".join(lines) + "\n"


def pages() -> dict[str, str]:
    """Every page, by file name."""
    out = {"leakscope.1": main_page()}
    for name, cmd in sorted(main.commands.items()):
        out[f"leakscope-{name}.1"] = command_page(name, cmd)
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
