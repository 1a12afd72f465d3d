"""A real (non-editable) install: what the README's first command gets.

``pip install .`` into a new virtual environment must bring every file the
commands need at run time (the debugger command files of ``attach``, the
start-up hooks of ``run`` and ``attach``), and the man pages where ``man``
finds them for a venv on PATH. The dependencies are borrowed from the test
environment (a .pth file), so this needs no network.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sysconfig
import venv
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new venv with leakscope installed from this checkout, as a user would."""
    root = tmp_path_factory.mktemp("install") / "venv"
    venv.EnvBuilder(with_pip=True).create(root)
    python = root / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    # click, rich, psutil, rpyc from the test environment: no download.
    Path(site, "borrowed.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    build = tmp_path_factory.mktemp("build")
    source = build / "src"
    shutil.copytree(
        REPO,
        source,
        ignore=shutil.ignore_patterns(
            ".venv*", ".git", "__pycache__", "build", "dist", "*.egg-info"
        ),
    )
    done = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--no-deps", "."],
        cwd=source,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    return root


def test_package_data_is_installed(installed: Path) -> None:
    code = (
        "import importlib.util, pathlib\n"
        "base = pathlib.Path(importlib.util.find_spec('leakscope').origin).parent\n"
        "for f in ('client/attach/lldb.toml', 'client/attach/gdb.toml',\n"
        "          'target/hooks/attach_boot.py', 'target/hooks/run_boot/sitecustomize.py'):\n"
        "    assert (base / f).is_file(), f\n"
        "assert 'site-packages' in str(base), base\n"
        "print('ok')\n"
    )
    done = subprocess.run(
        [str(installed / "bin" / "python"), "-c", code],
        capture_output=True,
        text=True,
        cwd="/",
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
    )
    assert done.stdout.strip() == "ok", done.stderr


def test_man_finds_the_pages(installed: Path) -> None:
    pages = installed / "share" / "man" / "man1"
    assert (pages / "leakscope.1").is_file()
    assert (pages / "leakscope-prefs.1").is_file()
    if shutil.which("man") is None:
        pytest.skip("no `man` on this machine to look them up")
    env = dict(os.environ, PATH=f"{installed / 'bin'}{os.pathsep}{os.environ['PATH']}")
    env.pop("MANPATH", None)
    found = subprocess.run(["man", "-w", "leakscope"], capture_output=True, text=True, env=env)
    assert found.stdout.strip() == str(pages / "leakscope.1"), found.stderr


def test_the_installed_command_runs(installed: Path, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["LEAKSCOPE_SOCKET_DIR"] = str(tmp_path / "s")
    (tmp_path / "s").mkdir(mode=0o700)
    done = subprocess.run(
        [str(installed / "bin" / "leakscope"), "demo", "--pause", "0"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr
    assert "Found it" in done.stdout
    assert list((tmp_path / "s").iterdir()) == []  # nothing left behind
