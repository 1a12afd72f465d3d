"""Every failure a user can meet, with its exit code.

One exception type crosses the client/CLI boundary: `LeakscopeError`, carrying an
`ExitCode`. The CLI prints its message as one line on stderr and exits with the
code; nothing else should ever reach the user as a traceback.
"""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    """Documented exit codes of the `leakscope` command (see README and leakscope(1))."""

    OK = 0
    INTERNAL = 1  # a bug in leakscope: please report it
    USAGE = 2  # invalid option or argument (Click's own code for usage errors)
    NO_SUCH_PROCESS = 3
    NOT_PYTHON = 4
    NO_AGENT = 5  # a Python process without a leakscope agent
    SEVERAL_AGENTS = 6  # several agents and no --pid
    NONE_FOUND = 7  # no agent-bearing process at all
    PERMISSION = 8
    STALE_SOCKET = 9  # socket left by a process that is gone (swept)
    TARGET_EXITED = 10  # the target exited or closed the connection during a query
    UNKNOWN_CLASS = 11
    INCOMPATIBLE = 12  # agent speaks another protocol version
    TIMEOUT = 13
    BAD_SNAPSHOT = 14
    ATTACH_FAILED = 15
    AGENT_ERROR = 16  # the agent answered with an error of its own
    PARTIAL = 17  # several processes asked, some could not answer (the rest is shown)
    TRANSPORT = 18  # --remote: the command prefix (ssh, kubectl, docker) failed
    CANNOT_WRITE = 19  # an output file (-o) cannot be written
    NEEDS_EXTRA = 20  # the command needs an optional package (pip install 'leakscope[...]')
    INTERRUPTED = 130  # Ctrl-C (128 + SIGINT, as shells report it)


#: What each exit code means, in the words of the README and leakscope(1).
MEANINGS: dict[ExitCode, str] = {
    ExitCode.OK: "success",
    ExitCode.INTERNAL: "internal error of leakscope (a bug: set LEAKSCOPE_DEBUG=1 for the "
    "traceback and report it)",
    ExitCode.USAGE: "invalid option, argument or value",
    ExitCode.NO_SUCH_PROCESS: "no process has that PID",
    ExitCode.NOT_PYTHON: "the process is not a Python process",
    ExitCode.NO_AGENT: "a Python process without a leakscope agent",
    ExitCode.SEVERAL_AGENTS: "several processes run an agent and no --pid was given",
    ExitCode.NONE_FOUND: "no process runs a leakscope agent",
    ExitCode.PERMISSION: "permission denied (another user's process, or an unsafe socket "
    "directory)",
    ExitCode.STALE_SOCKET: "the process is gone (or a zombie); its stale socket was removed",
    ExitCode.TARGET_EXITED: "the target exited or closed the connection during the query",
    ExitCode.UNKNOWN_CLASS: "no live objects of that class or type (close names are suggested)",
    ExitCode.INCOMPATIBLE: "the agent speaks another protocol version",
    ExitCode.TIMEOUT: "the agent did not answer in time",
    ExitCode.BAD_SNAPSHOT: "a snapshot or dump file is unreadable, truncated or of an unknown "
    "schema",
    ExitCode.ATTACH_FAILED: "the agent could not be started in the process (attach)",
    ExitCode.AGENT_ERROR: "the agent reported an error of its own",
    ExitCode.PARTIAL: "several processes were asked and some could not answer (the rest is shown)",
    ExitCode.TRANSPORT: "--remote/--host: the command prefix failed (host unreachable, no "
    "leakscope there, or not its answer)",
    ExitCode.CANNOT_WRITE: "an output file cannot be written (no such directory, permission "
    "denied, disk full)",
    ExitCode.NEEDS_EXTRA: "the command needs an optional package that is not installed (the "
    "line names it, e.g. pip install 'leakscope[analysis]')",
    ExitCode.INTERRUPTED: "interrupted (Ctrl-C)",
}


class LeakscopeError(Exception):
    """A failure to show the user as one line, with a documented exit code."""

    def __init__(self, code: ExitCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return self.message
