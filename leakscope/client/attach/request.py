"""The request `leakscope attach` asks the target to run, and the one statement that runs it.

The target runs one fixed statement that executes a request file we wrote
into a fresh private directory: the agent's start-up code
(`leakscope/target/hooks/attach_boot.py`, read here as text: leakscope may
not even be importable in the target) plus one call. That file claims the
request, starts a thread that imports the agent and starts (or stops) it, and
writes ``report.json`` beside itself. The statement's only variable part is
the path of that file, checked against a strict pattern.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import tempfile
from pathlib import Path

from leakscope.client.attach.process import Target
from leakscope.client.errors import ExitCode, LeakscopeError

# In the target-side package; read as text, never imported here.
_BOOT_SOURCE = Path(__file__).resolve().parents[2] / "target" / "hooks" / "attach_boot.py"
# The only variable text that reaches a debugger command: a path we created.
_SAFE_PATH = re.compile(r"/[A-Za-z0-9_./-]{1,200}")
# Packages the agent imports, for --inject-path.
_AGENT_PACKAGES = ("leakscope", "rpyc", "plumbum", "psutil")


class Request:
    """A private directory holding the request file the target executes."""

    def __init__(self, target: Target, action: str, extra_paths: tuple[str, ...]) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="leakscope-attach-", dir=_temp_root()))
        if os.geteuid() == 0 and target.uid != 0:
            # The target's user must write its report here; nobody else may enter.
            os.chown(self.directory, target.uid, -1)
        self.boot = self.directory / "request.py"
        source = _BOOT_SOURCE.read_text(encoding="utf-8")
        call = f"\nrequest({ascii(action)}, {ascii(str(self.directory))}, {ascii(extra_paths)})\n"
        self.boot.write_text(source + call, encoding="ascii")
        self.boot.chmod(0o644)
        self.statement = statement(self.boot)

    @property
    def claimed(self) -> bool:
        """Whether the target took the request (by this route or another)."""
        return (self.directory / "claimed").exists()

    def report(self) -> dict[str, object] | None:
        """What the target reported, once it has."""
        path = self.directory / "report.json"
        try:
            with open(path, encoding="utf-8") as fh:
                data = json.load(fh)
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def remove(self) -> None:
        """Remove the request directory."""
        shutil.rmtree(self.directory, ignore_errors=True)


def _temp_root() -> str:
    root = tempfile.gettempdir()
    return root if _SAFE_PATH.fullmatch(root) and ".." not in root else "/tmp"


def statement(boot: Path) -> str:
    """The fixed Python statement the target runs: execute *boot* in a fresh namespace."""
    text = str(boot)
    if not _SAFE_PATH.fullmatch(text) or ".." in text:
        raise LeakscopeError(ExitCode.ATTACH_FAILED, f"unsafe request path {text!r}")
    return (
        f"try:\n exec(compile(open('{text}').read(),'{text}','exec'),"
        "{'__name__':'__leakscope_attach__'})\nexcept BaseException:\n pass\n"
    )


def c_string(text: str) -> str:
    """*text* as a C string literal (it holds only the characters `statement` allows)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def inject_paths() -> tuple[str, ...]:
    """Directories holding this leakscope and the packages its agent imports."""
    paths: list[str] = []
    for name in _AGENT_PACKAGES:
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            continue
        origin = Path(spec.origin).resolve()
        root = origin.parent.parent if origin.name == "__init__.py" else origin.parent
        if str(root) not in paths:
            paths.append(str(root))
    return tuple(paths)
