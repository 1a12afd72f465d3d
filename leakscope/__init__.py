"""leakscope: find memory leaks in running Python processes.

Importing this package starts nothing, unless ``LEAKSCOPE_AGENT=1`` is set in
the environment, in which case the in-process agent starts (see
`leakscope.agent`). ``leakscope.owner`` is `leakscope.trackref.owner`.
"""

from __future__ import annotations

import os
from typing import Any

__version__ = "0.1.0"


def quiet_logging() -> None:
    """Give the ``leakscope`` logger a NullHandler (once).

    Without a handler of its own, Python's last-resort handler would print our
    warnings on the host's stderr; the host decides where our log lines go.
    Called by the in-process modules (agent, history) rather than here, so the
    CLI does not pay for importing logging.
    """
    import logging

    root = logging.getLogger("leakscope")
    if not any(isinstance(h, logging.NullHandler) for h in root.handlers):
        root.addHandler(logging.NullHandler())


def __getattr__(name: str) -> Any:
    if name == "owner":
        from leakscope.trackref import owner

        return owner
    raise AttributeError(f"module 'leakscope' has no attribute {name!r}")


if os.environ.get("LEAKSCOPE_AGENT") == "1":
    from leakscope import agent as _agent

    _agent.start()
