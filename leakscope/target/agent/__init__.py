"""The in-process agent: `start` and `stop` (public as ``leakscope.agent.start()``/``stop()``).

Start it from the program you want to watch::

    import leakscope.agent
    leakscope.agent.start()      # returns the socket path (idempotent)

or run the program with ``LEAKSCOPE_AGENT=1`` and ``import leakscope``, or with
``leakscope run -- python app.py``. The agent is one daemon thread blocked on a
private Unix socket; it uses no CPU while nobody asks it anything.

Environment:

* ``LEAKSCOPE_SOCKET_DIR`` — socket directory (default ``$XDG_RUNTIME_DIR/leakscope``
  or ``/tmp/leakscope-<uid>``); it must be a 0700 directory owned by the user.
* ``LEAKSCOPE_FORK_AGENT=0`` — a forked child gets no agent of its own. By
  default a child made by ``os.fork()`` (or ``multiprocessing``'s fork start
  method) starts its own agent `FORK_GRACE_S` after the fork, under its own PID;
  a child made by ``subprocess`` (which execs at once) gets none.
* ``LEAKSCOPE_METRICS=127.0.0.1:9464`` — also serve Prometheus metrics there.
* ``LEAKSCOPE_HISTORY_INTERVAL`` / ``LEAKSCOPE_HISTORY_KEEP`` — growth history
  sampling (seconds; interval 0 turns it off).
"""

from __future__ import annotations

import atexit
import logging
import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from leakscope.target import quiet_logging
from leakscope.target.agent.server import Agent

quiet_logging()
log = logging.getLogger("leakscope.agent")

_agent = Agent()
_start_lock = threading.Lock()


def start(
    directory: str | os.PathLike[str] | None = None, metrics: str | None = None
) -> str | None:
    """Start the agent in this process (idempotent) and return its socket path.

    Returns None, after logging why on the ``leakscope`` logger, when the socket
    directory is unsafe or the socket cannot be created; the host carries on.
    With *metrics* (or ``LEAKSCOPE_METRICS``), e.g. ``"127.0.0.1:9464"``, it also
    serves Prometheus metrics there (needs ``leakscope[metrics]``; loopback only
    unless ``LEAKSCOPE_METRICS_ALLOW_REMOTE=1``).
    """
    try:
        with _start_lock:
            path = _agent.start(Path(directory) if directory is not None else None)
            if path is None:
                return None
            # The socket listens: a failing extra is logged, and the path still returned.
            _start_extra("history", _start_history)
            _start_extra("metrics", lambda: _start_metrics(metrics))
            return str(path)
    except Exception:  # the host must never see our failures
        log.exception("leakscope agent could not start")
        return None


def _start_extra(name: str, begin: Callable[[], None]) -> None:
    try:
        begin()
    except Exception:
        log.exception("leakscope agent: listening, but its %s did not start", name)


def stop() -> None:
    """Stop the agent (if running), close its connections and remove its socket."""
    try:
        with _start_lock:
            _stop_history()
            _stop_metrics()
            _agent.stop()
    except Exception:
        log.exception("leakscope agent did not stop cleanly")


def is_running() -> bool:
    """True when this process's agent is serving."""
    return _agent.running


def socket_path() -> str | None:
    """The socket path of this process's agent, or None."""
    path = _agent.path
    return str(path) if path is not None else None


def _start_metrics(address: str | None) -> None:
    address = address or os.environ.get("LEAKSCOPE_METRICS", "").strip()
    if address:
        from leakscope.target.metrics import start_metrics

        start_metrics(address)  # logs why and returns None when it cannot serve


def _stop_metrics() -> None:
    if "leakscope.target.metrics" in sys.modules:
        from leakscope.target.metrics import stop_metrics

        stop_metrics()


def _start_history() -> None:
    if _agent.history is not None:
        return
    from leakscope.target.history import History

    history = History.from_env()  # None when LEAKSCOPE_HISTORY_INTERVAL=0
    if history is not None:
        history.start()
        _agent.history = history


def _stop_history() -> None:
    history, _agent.history = _agent.history, None
    if history is not None:
        history.stop()


#: Seconds a forked child waits before binding its own socket: a child that
#: execs at once (``fork`` + ``exec``) leaves no socket file behind.
FORK_GRACE_S = 0.1

_exiting = False
_fork_timer: threading.Timer | None = None


def _forked_by_subprocess() -> bool:
    """True when this fork is ``subprocess``'s (preexec_fn): the child execs at once."""
    frame: Any = sys._getframe(1)  # the fork hook; above it, the code that forked
    while frame is not None:
        if frame.f_globals.get("__name__") in ("subprocess", "_posixsubprocess"):
            return True
        frame = frame.f_back
    return False


def _start_in_child(directory: Path | None) -> None:
    if not _exiting:
        start(directory)


def _after_fork_in_child() -> None:
    global _start_lock, _fork_timer
    try:
        _start_lock = threading.Lock()
        _fork_timer = None
        was_running = _agent.listening_in_parent
        directory = _agent.parent_directory  # the parent's socket directory
        _agent.after_fork_in_child()  # drops the history too: its thread did not survive
        if not was_running or os.environ.get("LEAKSCOPE_FORK_AGENT", "1") == "0":
            return
        if _forked_by_subprocess():
            return  # a thread in a child that is about to exec is only risk
        # Not from inside the fork hook: a child that execs or exits at once
        # should not leave a socket behind.
        timer = threading.Timer(FORK_GRACE_S, _start_in_child, args=(directory,))
        timer.name = "leakscope-agent-fork"
        timer.daemon = True
        timer.start()
        _fork_timer = timer
    except Exception:
        log.exception("leakscope agent: fork handling failed in the child")


def _at_exit() -> None:
    global _exiting
    _exiting = True  # a pending child start must not create a socket after this
    timer = _fork_timer
    if timer is not None:
        timer.cancel()
    stop()


os.register_at_fork(after_in_child=_after_fork_in_child)
atexit.register(_at_exit)
