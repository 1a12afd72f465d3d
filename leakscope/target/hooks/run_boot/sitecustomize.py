"""Start-up hook of ``leakscope run``: start the agent before the program's code runs.

``leakscope run`` puts this directory first on PYTHONPATH, so Python's `site`
imports this module at start-up instead of the first ``sitecustomize`` it would
otherwise find. That one is still run, first, so the user's start-up code keeps
working. Then, if ``LEAKSCOPE_RUN=1``, the agent starts.

Without ``--children`` the hook takes itself out of the environment (its PYTHONPATH
entry and the ``LEAKSCOPE_RUN*`` variables), so programs the program starts
(``exec``) get no agent. Forked children that do not ``exec`` are the same program
— a pre-fork server's workers — and follow the agent's fork rule: each gets its
own agent unless ``LEAKSCOPE_FORK_AGENT=0``. It never prints: how the start went is appended to the
file named by ``LEAKSCOPE_RUN_REPORT``, which ``leakscope run`` reads.
"""

from __future__ import annotations

import contextlib
import os
import sys

_BOOT_DIR = os.path.dirname(os.path.abspath(__file__))
_VARIABLES = (
    "LEAKSCOPE_RUN",
    "LEAKSCOPE_RUN_CHILDREN",
    "LEAKSCOPE_RUN_REPORT",
    "LEAKSCOPE_RUN_IMPORT_PATH",
)


def _is_boot_dir(entry: str) -> bool:
    return os.path.normcase(os.path.abspath(entry or os.curdir)) == os.path.normcase(_BOOT_DIR)


def _run_hidden_sitecustomize() -> None:
    """Run the sitecustomize this module hides, as `site` would have."""
    import importlib.machinery
    import importlib.util

    path = [entry for entry in sys.path if not _is_boot_dir(entry)]
    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", path)
    if spec is None or spec.loader is None:
        return
    module = importlib.util.module_from_spec(spec)
    # The import of "sitecustomize" in progress returns whatever sys.modules holds.
    sys.modules["sitecustomize"] = module
    spec.loader.exec_module(module)


def _leave_no_trace() -> None:
    """Remove the hook from this process's environment so children do not inherit it."""
    entries = os.environ.get("PYTHONPATH", "").split(os.pathsep)
    kept = [entry for entry in entries if entry and not _is_boot_dir(entry)]
    if kept:
        os.environ["PYTHONPATH"] = os.pathsep.join(kept)
    else:
        os.environ.pop("PYTHONPATH", None)
    for name in _VARIABLES:
        os.environ.pop(name, None)


def _report(path: str | None, line: str) -> None:
    if not path:
        return
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    except OSError:
        return
    try:
        os.write(fd, (line.replace("\n", " ") + "\n").encode("utf-8", "replace"))
    finally:
        os.close(fd)


def _start_agent() -> None:
    report = os.environ.get("LEAKSCOPE_RUN_REPORT")
    import_path = os.environ.get("LEAKSCOPE_RUN_IMPORT_PATH")
    if os.environ.get("LEAKSCOPE_RUN_CHILDREN") != "1":
        _leave_no_trace()
    sys.path[:] = [entry for entry in sys.path if not _is_boot_dir(entry)]
    pid = os.getpid()
    try:
        try:
            import leakscope.target.agent
        except ImportError:
            if not import_path or import_path in sys.path:
                raise
            # This Python lacks leakscope: borrow the install `leakscope run` came
            # from, last on the path so the program's own packages still win.
            sys.path.append(import_path)
            import leakscope.target.agent
        path = leakscope.target.agent.start()
    except Exception as exc:
        _report(report, f"error {pid} {type(exc).__name__}: {exc}")
        return
    if path is None:
        _report(report, f"error {pid} the agent refused to start (unsafe socket directory?)")
    else:
        _report(report, f"agent {pid} {path}")


def _boot() -> None:
    active = os.environ.get("LEAKSCOPE_RUN") == "1"
    try:
        _run_hidden_sitecustomize()
    finally:
        if active:
            with contextlib.suppress(Exception):  # the host must start whatever happens to us
                _start_agent()


_boot()
