"""Python 3.14's ``sys.remote_exec``: the way in that needs no debugger.

Usable when this interpreter and the target are both 3.14+ of the same minor
version. The target runs the script at its next safe point, so a main thread
blocked in a long call may not get to it: the caller gives it a few seconds
and then tries a debugger (the request's claim file makes sure only one runs).
"""

from __future__ import annotations

import sys

from leakscope.client.attach.process import (
    Target,
    Unavailable,
    ptrace_explanation,
    version_text,
)
from leakscope.client.attach.request import Request
from leakscope.client.errors import ExitCode, LeakscopeError


def remote_exec_inject(target: Target, request: Request) -> str:
    """Have the target run the request through ``sys.remote_exec``; the route taken."""
    here = sys.version_info[:2]
    if here < (3, 14):
        raise Unavailable(f"sys.remote_exec needs Python 3.14+ here (this is {here[0]}.{here[1]})")
    if target.python != here:
        theirs = version_text(target.python) or "unknown"
        raise Unavailable(f"sys.remote_exec needs the same Python on both sides ({theirs})")
    remote_exec = getattr(sys, "remote_exec", None)
    if remote_exec is None:
        raise Unavailable("this Python was built without sys.remote_exec")
    wrapper = request.directory / "remote.py"
    wrapper.write_text(request.statement, encoding="ascii")
    wrapper.chmod(0o644)
    try:
        remote_exec(target.pid, str(wrapper))
    except PermissionError:
        raise LeakscopeError(
            ExitCode.PERMISSION,
            f"sys.remote_exec may not attach to process {target.pid}: " + ptrace_explanation(),
        ) from None
    except (OSError, RuntimeError) as exc:
        raise Unavailable(f"sys.remote_exec failed: {exc}") from None
    return "remote-exec"
