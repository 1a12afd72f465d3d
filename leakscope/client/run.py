"""``leakscope run -- CMD ARGS...``: start a program with the agent on, code untouched.

How: the directory `BOOT_DIR` (it holds only a ``sitecustomize.py``) goes first on
the program's PYTHONPATH and ``LEAKSCOPE_RUN=1`` marks the run, so the first Python
process of the program starts an agent before its own code runs (see
``leakscope/target/hooks/run_boot/sitecustomize.py``). Without ``children`` that
process takes the hook out of its environment, so the processes it starts have no
agent.

The program runs as a child of this process, in the same process group, with the
same terminal. Signals sent to us with ``kill`` (INT, TERM, HUP, QUIT, USR1,
USR2) are passed on; signals the terminal sends to the whole group (Ctrl-C)
reach the program directly and are not sent twice. We return the program's exit
status (128 + N when signal N ended it).

Each hook appends one line to a private report file (``agent PID PATH`` or
``error PID REASON``), so we can tell the user where the agent listens, or why
there is none, without the hook ever writing to the program's output.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from leakscope.client.errors import ExitCode, LeakscopeError

# The start-up hook is target code: a directory holding only a sitecustomize.py,
# put on the program's PYTHONPATH (never imported here).
BOOT_DIR = Path(__file__).resolve().parents[1] / "target" / "hooks" / "run_boot"
# The directory holding the `leakscope` package, for a Python that lacks it.
IMPORT_PATH = Path(__file__).resolve().parents[2]

FORWARDED_SIGNALS = (
    signal.SIGINT,
    signal.SIGTERM,
    signal.SIGHUP,
    signal.SIGQUIT,
    signal.SIGUSR1,
    signal.SIGUSR2,
)
# si_code of a signal the kernel sent (a terminal's Ctrl-C, a hang-up), not kill().
_SI_KERNEL = 0x80
AGENT_WAIT_S = 5.0
#: Seconds a program must outlive its agent's start before we say the agent listens.
HOLD_S = 0.5
_NO_AGENT_HINT = "is it a Python program? (python -I, -E or -S skips the start-up hook)"


def run_environment(environ: Mapping[str, str], children: bool, report: str) -> dict[str, str]:
    """The program's environment: `environ` plus the start-up hook and its settings."""
    env = dict(environ)
    old = env.get("PYTHONPATH", "")
    env["PYTHONPATH"] = os.pathsep.join([str(BOOT_DIR), old]) if old else str(BOOT_DIR)
    env["LEAKSCOPE_RUN"] = "1"
    env["LEAKSCOPE_RUN_REPORT"] = report
    env["LEAKSCOPE_RUN_IMPORT_PATH"] = str(IMPORT_PATH)
    if children:
        env["LEAKSCOPE_RUN_CHILDREN"] = "1"
    else:
        env.pop("LEAKSCOPE_RUN_CHILDREN", None)
    return env


@dataclass(frozen=True)
class HookReport:
    """One line a start-up hook wrote: an agent started, or why it did not."""

    pid: int
    started: bool
    detail: str  # the socket path, or the reason


def parse_report_line(line: str) -> HookReport | None:
    """Read one report line (``agent PID PATH`` / ``error PID REASON``); None if garbled."""
    kind, _, rest = line.strip().partition(" ")
    pid_text, _, detail = rest.partition(" ")
    if kind not in ("agent", "error") or not pid_text.isdigit():
        return None
    return HookReport(int(pid_text), kind == "agent", detail)


class _ReportReader:
    """Reads the lines hooks append to the report file, as they arrive."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset = 0
        self._partial = b""

    def new_reports(self) -> list[HookReport]:
        try:
            with open(self.path, "rb") as fh:
                fh.seek(self._offset)
                data = fh.read()
        except OSError:
            return []
        self._offset += len(data)
        data = self._partial + data
        *lines, self._partial = data.split(b"\n")
        reports = (parse_report_line(raw.decode("utf-8", "replace")) for raw in lines)
        return [r for r in reports if r is not None]


def _executable(command: Sequence[str], environ: Mapping[str, str]) -> str:
    program = command[0]
    if os.sep in program:
        if os.access(program, os.X_OK) and not os.path.isdir(program):
            return program
    else:
        found = shutil.which(program, path=environ.get("PATH", os.defpath))
        if found is not None:
            return found
    raise LeakscopeError(ExitCode.USAGE, f"cannot run {program!r}: no such executable")


def _should_forward(info: signal.struct_siginfo, child: int) -> bool:
    if info.si_code != _SI_KERNEL:
        return True  # someone ran kill() on us: pass it on
    # The terminal signals the whole foreground group: the program already has it
    # unless it moved to a group of its own.
    try:
        return os.getpgid(child) != os.getpgrp()
    except OSError:
        return False


def _exit_code(status: int) -> int:
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code


def run_program(
    command: Sequence[str],
    *,
    children: bool = False,
    say: Callable[[str], None],
    environ: Mapping[str, str] | None = None,
    agent_wait_s: float = AGENT_WAIT_S,
) -> int:
    """Run `command` with the agent on until it exits; return its exit status.

    `say` receives one-line notes for the user (where the agent listens, or a
    warning when none appeared within `agent_wait_s` or before the program ended).
    """
    if not command:
        raise LeakscopeError(ExitCode.USAGE, "no command to run: leakscope run -- CMD ARGS...")
    base = os.environ if environ is None else environ
    executable = _executable(command, base)
    with tempfile.TemporaryDirectory(prefix="leakscope-run-") as private:
        report_path = Path(private) / "report"
        report_path.touch(mode=0o600)
        env = run_environment(base, children, str(report_path))
        return _supervise(executable, command, env, _ReportReader(report_path), say, agent_wait_s)


def _supervise(
    executable: str,
    command: Sequence[str],
    env: dict[str, str],
    reader: _ReportReader,
    say: Callable[[str], None],
    agent_wait_s: float,
) -> int:
    watched = {*FORWARDED_SIGNALS, signal.SIGCHLD}
    # Blocked signals wait in the queue for sigtimedwait, which tells a kill()
    # from a terminal's signal; the program starts with our original mask.
    old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, watched)
    try:
        try:
            child = os.posix_spawn(
                executable,
                list(command),
                env,
                setsigmask=old_mask,
                setsigdef=(*FORWARDED_SIGNALS, signal.SIGPIPE, signal.SIGXFSZ),
            )
        except OSError as exc:
            raise LeakscopeError(ExitCode.USAGE, f"cannot run {command[0]!r}: {exc}") from None
        return _wait(child, os.path.basename(command[0]), watched, reader, say, agent_wait_s)
    finally:
        while signal.sigtimedwait(watched, 0) is not None:
            pass  # drop what is left, so nothing fires once unblocked
        signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)


def _wait(
    child: int,
    name: str,
    watched: set[signal.Signals],
    reader: _ReportReader,
    say: Callable[[str], None],
    agent_wait_s: float,
) -> int:
    deadline = time.monotonic() + agent_wait_s
    heard = False  # a hook reported (agent or error)
    warned = False
    # Agents started, said only once the program has outlived HOLD_S: a program that
    # exits at once (python could not open its script) is not "listening".
    pending: list[tuple[float, HookReport]] = []

    began = time.monotonic()

    def tell(report: HookReport, exited: bool) -> None:
        if not exited or report.pid != child:
            say(f"leakscope: agent of pid {report.pid} listening on {report.detail}")
        elif time.monotonic() - began < 2 * HOLD_S:
            say(f"leakscope: {name} (pid {child}) exited at once; its agent is gone")
        else:  # a busy machine read the report late: it did listen, and is gone now
            say(f"leakscope: agent of pid {child} listened on {report.detail} until {name} exited")

    while True:
        info = signal.sigtimedwait(watched, 0.05 if pending or not heard else 1.0)
        if info is not None and info.si_signo != signal.SIGCHLD and _should_forward(info, child):
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, info.si_signo)
        done, status = os.waitpid(child, os.WNOHANG)
        now = time.monotonic()
        for report in reader.new_reports():
            heard = True
            if report.started:
                pending.append((now, report))
            else:
                say(f"leakscope: no agent in pid {report.pid}: {report.detail}")
        for seen, report in list(pending):
            if done == child or now - seen >= HOLD_S:
                tell(report, exited=done == child)
                pending.remove((seen, report))
        if done == child:
            if not heard:
                say(f"leakscope: {name} (pid {child}) exited with no agent; {_NO_AGENT_HINT}")
            return _exit_code(status)
        if not heard and not warned and now > deadline:
            warned = heard = True
            say(f"leakscope: no agent in pid {child} after {agent_wait_s:g} s; {_NO_AGENT_HINT}")
