"""--remote / --host: real targets inspected through a real OpenSSH server on 127.0.0.1,
and through a plain argv-passing prefix (``env``, as kubectl/docker exec pass argv).

The local side of every test sees an EMPTY socket directory; only the remote
command (``LEAKSCOPE_REMOTE_COMMAND``) is pointed at the directory of the
target's agent. A command that silently ran locally would find no agent.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from leakscope import wire
from leakscope.client import remote
from leakscope.client.connector import Connector
from leakscope.client.errors import ExitCode, LeakscopeError
from tests.conftest import REPO, run_cli, terminate

SSHD = "/usr/sbin/sshd"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ssh_options(key: Path, port: int) -> list[str]:
    return [
        "ssh",
        "-F",
        "/dev/null",
        "-o",
        "StrictHostKeyChecking=no",
        "-o",
        "UserKnownHostsFile=/dev/null",
        "-o",
        "BatchMode=yes",
        "-o",
        "LogLevel=ERROR",
        "-o",
        "ConnectTimeout=5",
        "-i",
        str(key),
        "-p",
        str(port),
    ]


@pytest.fixture(scope="module")
def sshd() -> Iterator[str]:
    """A throwaway sshd on 127.0.0.1 that lets root in with a throwaway key.

    Yields the --remote prefix (a string) that logs in through it.
    """
    if not os.path.exists(SSHD):
        pytest.skip(f"{SSHD} not installed (apt-get install openssh-server)")
    if not shutil.which("ssh") or not shutil.which("ssh-keygen"):
        pytest.skip("ssh client or ssh-keygen not installed")
    if os.getuid() != 0:
        pytest.skip("the sshd test logs in as root and must run as root")
    os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # sshd's privilege separation dir
    with tempfile.TemporaryDirectory(prefix="leakscope-sshd-") as tmp:
        d = Path(tmp)
        for name in ("host_key", "user_key"):
            subprocess.run(
                ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(d / name)], check=True
            )
        shutil.copy(d / "user_key.pub", d / "authorized_keys")
        port = _free_port()
        (d / "sshd_config").write_text(
            f"Port {port}\nListenAddress 127.0.0.1\nHostKey {d / 'host_key'}\n"
            f"PidFile {d / 'sshd.pid'}\nAuthorizedKeysFile {d / 'authorized_keys'}\n"
            "PermitRootLogin prohibit-password\nPasswordAuthentication no\n"
            "KbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\nLogLevel ERROR\n"
        )
        proc = subprocess.Popen(
            [SSHD, "-D", "-e", "-f", str(d / "sshd_config")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            deadline = time.monotonic() + 10
            while True:
                if proc.poll() is not None:
                    pytest.skip(f"sshd did not start: {proc.stderr.read() if proc.stderr else ''}")
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        pytest.skip("sshd did not listen within 10 s")
                    time.sleep(0.05)
            yield shlex.join([*_ssh_options(d / "user_key", port), "root@127.0.0.1"])
        finally:
            terminate(proc, 5)


@pytest.fixture
def target(target_factory):
    return target_factory("basic", "10", "5")


@pytest.fixture
def sides(socket_dir: Path) -> Iterator[dict[str, str]]:
    """Environment for the local CLI: an empty socket dir here, the real one over there."""
    with tempfile.TemporaryDirectory(prefix="leakscope-empty-") as empty:
        here = Path(empty) / "sockets"
        here.mkdir(mode=0o700)
        there = shlex.join(
            [
                "env",
                f"PYTHONPATH={REPO}",
                f"LEAKSCOPE_SOCKET_DIR={socket_dir}",
                sys.executable,
                "-m",
                "leakscope",
            ]
        )
        yield {"LEAKSCOPE_SOCKET_DIR": str(here), "LEAKSCOPE_REMOTE_COMMAND": there}


def _counts(data: dict) -> dict[str, int]:
    return {r["class"]: r["count"] for r in data["rows"]}


def _json(result: subprocess.CompletedProcess[str]) -> object:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _one_line_error(result: subprocess.CompletedProcess[str], code: int) -> str:
    assert result.returncode == code, (result.returncode, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("leakscope: ")
    assert "Traceback" not in result.stderr
    return lines[0]


# -- through a real sshd --------------------------------------------------------


@pytest.mark.slow
def test_prefs_through_ssh_equals_local(sshd, target, sides, socket_dir):
    pid = str(target.pid)
    local = _json(run_cli("prefs", "--pid", pid, "--json"))
    through = _json(run_cli("--remote", sshd, "prefs", "--pid", pid, "--json", env=sides))
    assert through["pid"] == target.pid
    assert (
        _counts(through)
        == _counts(local)
        == {
            "__main__.Widget": 10,
            "__main__.Gadget": 5,
            "__main__.Plain": 1,
        }
    )
    # Without --pid, the local side alone finds nothing: answers really come through ssh
    # (a lookup by PID searches the target's own socket directory, wherever it is).
    alone = run_cli("prefs", "--json", env={"LEAKSCOPE_SOCKET_DIR": sides["LEAKSCOPE_SOCKET_DIR"]})
    assert alone.returncode == ExitCode.NONE_FOUND
    through = _json(run_cli("--remote", sshd, "prefs", "--json", env=sides))
    assert through["pid"] == target.pid


@pytest.mark.slow
def test_table_through_ssh_without_pid(sshd, target, sides):
    result = run_cli("--remote", sshd, "prefs", env=sides)
    assert result.returncode == 0, result.stderr
    assert f"pid {target.pid}" in result.stdout
    assert "__main__.Widget" in result.stdout


@pytest.mark.slow
def test_oldest_attr_through_ssh(sshd, target, sides):
    data = _json(
        run_cli(
            "--remote",
            sshd,
            "oldest",
            "Widget",
            "--pid",
            str(target.pid),
            "--attr",
            "url",
            "--json",
            env=sides,
        )
    )
    assert data["class"] == "__main__.Widget"
    assert data["attrs"] == {"url": "'https://example.test/widget/0'"}


@pytest.mark.slow
def test_arguments_reach_the_agent_unexpanded(sshd, target, sides):
    """ssh hands its arguments to a shell: they must arrive literally, not expanded or split."""
    pid = str(target.pid)
    tricky = "No pe'$HOME;echo hacked"
    result = run_cli("--remote", sshd, "oldest", tricky, "--pid", pid, env=sides)
    line = _one_line_error(result, ExitCode.USAGE)  # the agent refuses it as a class name
    assert tricky in line
    data = _json(
        run_cli("--remote", sshd, "prefs", "--pid", pid, "-i", tricky, "--json", env=sides)
    )
    assert _counts(data)["__main__.Widget"] == 10


@pytest.mark.slow
def test_agent_errors_keep_their_codes_through_ssh(sshd, target, sides):
    result = run_cli("--remote", sshd, "oldest", "Nope", "--pid", str(target.pid), env=sides)
    assert "Nope" in _one_line_error(result, ExitCode.UNKNOWN_CLASS)
    result = run_cli("--remote", sshd, "prefs", "--pid", "999999", env=sides)
    _one_line_error(result, ExitCode.NO_SUCH_PROCESS)


@pytest.mark.slow
def test_watch_through_ssh_until_ctrl_c(sshd, target, sides):
    path = os.pathsep.join([str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])])
    env = dict(os.environ, PYTHONPATH=path, **sides)
    proc = subprocess.Popen(
        [sys.executable, "-m", "leakscope", "--remote", sshd, "prefs", "--pid", str(target.pid)]
        + ["--watch", "0.3", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    try:
        time.sleep(4)  # each cycle is one ssh login (about 0.5 s here)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert out.count('"__main__.Widget"') >= 2, out
    assert "retrying" not in out


@pytest.mark.slow
def test_ps_lists_the_remote_agents(sshd, target, sides):
    agents = _json(run_cli("--remote", sshd, "ps", "--json", env=sides))
    assert [a["pid"] for a in agents] == [target.pid]
    assert agents[0]["python"] == ".".join(map(str, sys.version_info[:3]))


@pytest.mark.slow
def test_list_agents_through_ssh(sshd, target, sides, monkeypatch):
    monkeypatch.setenv("LEAKSCOPE_REMOTE_COMMAND", sides["LEAKSCOPE_REMOTE_COMMAND"])
    listing = Connector(remote=tuple(shlex.split(sshd))).agents(timeout=10)
    assert [(a.pid, a.role) for a in listing.agents] == [(target.pid, "")]
    assert "basic.py" in " ".join(listing.agents[0].argv)
    assert listing.refused == ()


def test_host_unreachable(sides):
    port = _free_port()  # nothing listens there
    prefix = f"ssh -F /dev/null -o BatchMode=yes -o ConnectTimeout=5 -p {port} root@127.0.0.1"
    result = run_cli("--remote", prefix, "prefs", env=sides)
    line = _one_line_error(result, ExitCode.TRANSPORT)
    assert "cannot reach the remote host" in line and "exit status 255" in line
    assert "Connection refused" in line


@pytest.mark.slow
def test_leakscope_not_installed_there(sshd, sides):
    env = dict(sides, LEAKSCOPE_REMOTE_COMMAND="/nonexistent/leakscope")
    result = run_cli("--remote", sshd, "prefs", env=env)
    line = _one_line_error(result, ExitCode.TRANSPORT)
    assert "not installed" in line and "LEAKSCOPE_REMOTE_COMMAND" in line


@pytest.mark.slow
def test_remote_prints_garbage(sshd, sides):
    env = dict(sides, LEAKSCOPE_REMOTE_COMMAND="echo")
    result = run_cli("--remote", sshd, "prefs", env=env)
    line = _one_line_error(result, ExitCode.TRANSPORT)
    assert "did not answer with JSON: '_call prefs" in line


@pytest.mark.slow
def test_version_mismatch(sshd, sides, tmp_path):
    fake = tmp_path / "old-leakscope"
    reply = {"protocol": 999, "version": "9.9", "hello": {"protocol": 999}, "answer": None}
    fake.write_text(f"#!/bin/sh\necho '{json.dumps(reply)}'\n")
    fake.chmod(0o755)
    result = run_cli("--remote", sshd, "prefs", env=dict(sides, LEAKSCOPE_REMOTE_COMMAND=str(fake)))
    line = _one_line_error(result, ExitCode.INCOMPATIBLE)
    assert "protocol 999" in line and f"speaks {wire.PROTOCOL_VERSION}" in line


# -- argv-passing transports (kubectl exec / docker exec style), no sshd needed ---


@pytest.mark.slow
def test_prefs_through_argv_passing_prefix(target, sides):
    data = _json(run_cli("--remote", "env", "prefs", "--pid", str(target.pid), "--json", env=sides))
    assert _counts(data)["__main__.Gadget"] == 5
    # Arguments are passed as argv: nothing is split or expanded on the way.
    tricky = "No pe'$HOME;echo hacked"
    result = run_cli("--remote", "env", "oldest", tricky, "--pid", str(target.pid), env=sides)
    assert tricky in _one_line_error(result, ExitCode.USAGE)


def test_remote_leakscope_too_old_or_failing(sides, tmp_path):
    old = tmp_path / "old-leakscope"
    old.write_text("#!/bin/sh\necho \"leakscope: No such command '_call'.\" >&2\nexit 2\n")
    old.chmod(0o755)
    result = run_cli("--remote", "env", "prefs", env=dict(sides, LEAKSCOPE_REMOTE_COMMAND=str(old)))
    assert "too old" in _one_line_error(result, ExitCode.TRANSPORT)
    # kubectl's "pod not found" is an unreachable target, not a missing leakscope.
    pod = tmp_path / "kubectl"
    pod.write_text(
        "#!/bin/sh\necho 'Error from server (NotFound): pods \"web-1\" not found' >&2\nexit 1\n"
    )
    pod.chmod(0o755)
    result = run_cli("--remote", f"{pod} exec -i web-1 --", "prefs", env=sides)
    line = _one_line_error(result, ExitCode.TRANSPORT)
    assert "failed with exit status 1" in line and 'pods "web-1" not found' in line


@pytest.mark.slow
def test_bad_remote_options():
    for args, words in [
        (["--remote", "", "prefs"], "empty"),
        (["--remote", "   ", "prefs"], "empty"),
        (["--remote", "ssh 'box", "prefs"], "cannot parse"),
        (["--remote", "ssh a", "--host", "b", "prefs"], "not both"),
        (["--host", "-oProxyCommand=x", "prefs"], "--host wants"),
        (["--remote", "/nonexistent/kubectl exec -i pod --", "prefs"], "no such program here"),
    ]:
        line = _one_line_error(run_cli(*args), ExitCode.USAGE)
        assert words in line, (args, line)


def test_parse_prefix():
    assert remote.parse_prefix(None, "me@box") == ("ssh", "me@box")
    assert remote.parse_prefix("kubectl exec -i 'my pod' --", None) == (
        "kubectl",
        "exec",
        "-i",
        "my pod",
        "--",
    )
    with pytest.raises(LeakscopeError) as err:
        remote.parse_prefix("", None)
    assert err.value.code == ExitCode.USAGE
    assert remote.joins_into_shell_line(("/usr/bin/ssh", "box"))
    assert not remote.joins_into_shell_line(("docker", "exec", "-i", "ctr"))
    assert remote.command_line(("ssh", "box"), ["leakscope", "a b"]) == [
        "ssh",
        "box",
        "leakscope 'a b'",
    ]


@pytest.mark.slow
def test_call_command_answers_one_json_line(target, socket_dir):
    pid = str(target.pid)
    ok = run_cli("_call", "prefs", "--pid", pid, "--args", '[["Gadget"], null]')
    assert ok.returncode == 0, ok.stderr
    data = json.loads(ok.stdout)
    assert len(ok.stdout.strip().splitlines()) == 1
    assert data["protocol"] == wire.PROTOCOL_VERSION
    assert data["hello"]["pid"] == target.pid
    assert {r["class"] for r in data["answer"]["rows"]} == {"__main__.Widget", "__main__.Plain"}
    for bad in ('{"a": 1}', "[{}]", "not json"):
        refused = run_cli("_call", "prefs", "--pid", pid, "--args", bad)
        assert refused.returncode == 0
        assert json.loads(refused.stdout)["error"]["code"] == ExitCode.USAGE
    gone = json.loads(run_cli("_call", "prefs", "--pid", "999999").stdout)
    assert gone["error"]["code"] == ExitCode.NO_SUCH_PROCESS
    assert "_call" not in run_cli("--help").stdout
