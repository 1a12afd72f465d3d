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


class LeakscopeError(Exception):
    """A failure to show the user as one line, with a documented exit code."""

    def __init__(self, code: ExitCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return self.message
