"""The host never sees our exceptions (issue 3, point 8).

Every target of this suite is checked when its test ends: its stdout carries
only its own lines, its stderr nothing, and its excepthooks (which it turns
into ``HOOK`` lines on stderr) were never called. These tests add failures made
on purpose inside the agent: a tracked object whose ``__repr__`` raises, and
one whose ``__repr__`` raises SystemExit -- in the agent's thread.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest
import rpyc
from rpyc.core.channel import Channel
from rpyc.core.stream import SocketStream

from .conftest import run_cli


def test_failing_repr_is_described_not_raised(start_target: Any) -> None:
    t = start_target("--objects", "3", "--repr", "raise")
    done = run_cli("all", "Leaky", "--pid", str(t.pid), "--json")
    assert done.returncode == 0, done.stderr
    reprs = [o["repr"] for o in json.loads(done.stdout)["objects"]]
    assert len(reprs) == 3 and all("Leaky" in r for r in reprs)
    assert t.ask("ping")["pong"] is True


@pytest.mark.slow
def test_system_exit_inside_the_agent_stays_there(start_target: Any, tmp_path: Path) -> None:
    # The host's __repr__ raises SystemExit: the object is described as such, nothing
    # travels to the client, the connection and the target go on.
    log = tmp_path / "agent.log"
    t = start_target("--objects", "3", "--repr", "exit", "--log", str(log))
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(t.socket)
    conn = rpyc.core.protocol.Connection(
        rpyc.VoidService(), Channel(SocketStream(sock)), {"import_custom_exceptions": False}
    )
    try:
        try:
            answer = json.loads(conn.root.all("Leaky", (), 10))
            reprs = [obj["repr"] for obj in answer["ok"]["objects"]]
            assert len(reprs) == 3 and all("repr failed: SystemExit" in r for r in reprs), answer
        except SystemExit as exc:  # pragma: no cover - the failure this test is about
            raise AssertionError("a SystemExit travelled to the client") from exc
        except Exception as exc:
            raise AssertionError(f"an exception travelled to the client: {exc!r}") from exc
        assert json.loads(conn.root.ping()) == {"ok": "pong"}  # same connection, still served
    finally:
        conn.close()
    assert t.alive() and t.ask("ping")["pong"] is True
    # the real CLI: the objects, each said to have a failing repr; the target goes on
    done = run_cli("all", "Leaky", "--pid", str(t.pid), "--json")
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("repr failed: SystemExit") == 3, done.stdout
    assert t.alive()
