"""The CLI of one Python version against a target running another (3.11 <-> 3.13).

The other interpreter comes from LEAKSCOPE_OTHER_PYTHON (set by .ci/run to the
other CI venv) or pyenv's 3.13 / 3.11. When it has no rpyc of its own, the
target borrows the pure-Python rpyc and the abi3 psutil of this environment.
"""

from __future__ import annotations

import glob
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import psutil
import pytest
import rpyc

from tests.conftest import REPO, TARGETS, cli_json, start_target


def _other_python() -> str | None:
    env = os.environ.get("LEAKSCOPE_OTHER_PYTHON")
    if env and os.path.exists(env):
        return env
    want = "3.11" if sys.version_info[:2] == (3, 13) else "3.13"
    root = os.path.expanduser("~/.pyenv/versions")
    found = sorted(glob.glob(f"{root}/{want}.*/bin/python3"))
    return found[-1] if found else None


def _version(python: str) -> str:
    return subprocess.run(
        [python, "-c", "import platform; print(platform.python_version())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


@pytest.mark.slow
def test_cli_against_a_target_of_another_python(socket_dir):
    other = _other_python()
    if other is None:
        pytest.skip("no second Python (3.11/3.13) found: set LEAKSCOPE_OTHER_PYTHON")
    version = _version(other)
    mine = f"{sys.version_info.major}.{sys.version_info.minor}"
    if version.startswith(mine):
        pytest.skip(f"the other Python ({other}) is the same version as this one")
    with tempfile.TemporaryDirectory() as borrowed:
        for module in (rpyc, psutil):
            src = Path(module.__file__).parent  # type: ignore[arg-type]
            os.symlink(src, Path(borrowed) / src.name)
        target = start_target(
            TARGETS / "basic.py",
            "7",
            "3",
            python=other,
            env={"PYTHONPATH": os.pathsep.join([str(REPO), borrowed]), "PYTHONNOUSERSITE": "1"},
        )
        try:
            info = cli_json("ps")
            assert [a["python"] for a in info] == [version]
            data = cli_json("prefs", "--pid", str(target.pid))
            rows = {r["class"].rsplit(".", 1)[-1]: r["count"] for r in data["rows"]}
            assert rows == {"Widget": 7, "Gadget": 3, "Plain": 1}
            oldest = cli_json("oldest", "Widget", "--pid", str(target.pid), "--attr", "n")
            assert oldest["attrs"]["n"] == "0"
        finally:
            target.stop()
