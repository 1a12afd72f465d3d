"""The code `leakscope attach` runs inside a process that did not opt in.

This file is not imported by the target (leakscope may not even be importable
there): `leakscope attach` copies its source into a private request directory,
appends one call to `request(...)`, and has the target run that file in a fresh
namespace. `request` only claims the request (so that two routes cannot both
run it) and starts a thread; the thread imports the agent, starts or stops it,
and writes ``report.json`` into the request directory.

Rules for everything here: never raise into the host, never print, leave no
names behind in ``__main__``, and return at once (the thread that runs
`request` was interrupted by a debugger or is the host's main thread).
"""

# No `from __future__` import and no module-level imports: this text is executed
# with exec() in a fresh dict, on whatever Python the target runs.

CLAIM_NAME = "claimed"
REPORT_NAME = "report.json"


def request(action, directory, extra_paths):
    """Claim the request in *directory* and run *action* ("start"/"stop") in a new thread."""
    try:
        import os

        fd = os.open(os.path.join(directory, CLAIM_NAME), os.O_WRONLY | os.O_CREAT | os.O_EXCL)
        os.close(fd)
    except BaseException:
        return  # withdrawn (directory gone) or already run by another route
    try:
        import _thread

        _thread.start_new_thread(_work, (action, directory, tuple(extra_paths)))
    except BaseException as exc:
        _report(directory, {"status": "error", "error": _describe(exc)})


def _work(action, directory, extra_paths):
    import sys

    result: dict = {
        "python": "{}.{}".format(*sys.version_info[:2]),
        "executable": sys.executable,
        "implementation": sys.implementation.name,
    }
    try:
        for path in extra_paths:
            if path not in sys.path:
                # Last, so the target's own packages win over ours.
                sys.path.append(path)
        import leakscope.target.agent as agent

        result["leakscope_file"] = getattr(sys.modules.get("leakscope"), "__file__", None)
        if action == "start":
            socket_path = agent.start()
            if socket_path is None:
                result["status"] = "error"
                result["error"] = "leakscope.agent.start() could not start the agent"
            else:
                result["status"] = "ok"
                result["socket"] = str(socket_path)
        else:
            agent.stop()
            result["status"] = "ok"
    except BaseException as exc:
        result["status"] = "error"
        result["error"] = _describe(exc)
        if isinstance(exc, ImportError):
            result["missing"] = getattr(exc, "name", None) or ""
    _report(directory, result)


def _describe(exc):
    try:
        return f"{type(exc).__name__}: {exc}"
    except BaseException:
        return type(exc).__name__


def _report(directory, result):
    try:
        import json
        import os

        final = os.path.join(directory, REPORT_NAME)
        partial = final + ".part"
        with open(partial, "w") as fh:
            json.dump(result, fh)
        os.replace(partial, final)
    except BaseException:
        pass
