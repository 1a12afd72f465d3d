"""A target process for the security tests: starts the agent and obeys stdin.

Runs on any Python 3.11+ with only the standard library, leakscope and rpyc
importable (the other-user tests run it with Debian's /usr/bin/python3).

It prints one JSON line on stdout when ready, then one JSON line per command
read from stdin. Nothing else may appear on its stdout or stderr: the tests
check that, so any output of leakscope (or a call of an excepthook, which this
script turns into a ``HOOK`` line on stderr) is caught.

Commands: ping, rss, exc-cache, busy, start [DIR], stop, loosen DIRMODE SOCKMODE,
fork STOPFILE [exit|_exit|exec], mp STOPFILE, subprocess, exit.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time


def _hook_line(kind: str, detail: object) -> None:
    sys.stderr.write(f"HOOK {kind}: {detail}\n")
    sys.stderr.flush()


sys.excepthook = lambda t, v, tb: _hook_line("excepthook", v)
threading.excepthook = lambda args: _hook_line("threading.excepthook", args.exc_value)
sys.unraisablehook = lambda u: _hook_line("unraisablehook", u.exc_value)

parser = argparse.ArgumentParser()
parser.add_argument("--objects", type=int, default=0, help="tracked Leaky objects to keep")
parser.add_argument("--repr", choices=("plain", "slow", "raise", "exit"), default="plain")
parser.add_argument("--repr-seconds", type=float, default=0.5)
parser.add_argument("--busy", action="store_true", help="run a busy loop in the main thread")
parser.add_argument("--log", help="write the leakscope logger (DEBUG) to this file")
parser.add_argument("--no-start", action="store_true", help="do not start the agent")
parser.add_argument("--idle-timeout", type=float)
parser.add_argument("--frame-timeout", type=float)
parser.add_argument("--sigpipe-default", action="store_true")
opts = parser.parse_args()

if opts.log:
    handler = logging.FileHandler(opts.log)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    logging.getLogger("leakscope").addHandler(handler)
    logging.getLogger("leakscope").setLevel(logging.DEBUG)
if opts.sigpipe_default:
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)

import leakscope.agent  # noqa: E402
from leakscope.target.agent import protocol, server  # noqa: E402
from leakscope.trackref import object_ref  # noqa: E402

if opts.idle_timeout is not None:
    server.IDLE_TIMEOUT_S = opts.idle_timeout
if opts.frame_timeout is not None:
    protocol.FRAME_TIMEOUT_S = opts.frame_timeout


class Leaky(object_ref):
    """The tracked class the tests ask about."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __repr__(self) -> str:
        if opts.repr == "slow":
            time.sleep(opts.repr_seconds)
        elif opts.repr == "raise":
            raise RuntimeError("repr failed on purpose")
        elif opts.repr == "exit":
            raise SystemExit(3)
        return f"Leaky({self.n})"


KEEP = [Leaky(i) for i in range(opts.objects)]
done = threading.Event()
busy = {"iterations": 0, "max_s": 0.0}
out_lock = threading.Lock()


def say(**data: object) -> None:
    """One JSON line on stdout."""
    with out_lock:
        sys.stdout.write(json.dumps(data) + "\n")
        sys.stdout.flush()


def busy_loop() -> None:
    """Fixed chunks of pure-Python work; records the slowest chunk."""
    while not done.is_set():
        t0 = time.perf_counter()
        total = 0
        for i in range(20_000):
            total += i * i
        took = time.perf_counter() - t0
        busy["iterations"] += 1
        if took > busy["max_s"]:
            busy["max_s"] = took


def status_field(name: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(name + ":"):
                return int(line.split()[1])
    return -1


def wait_for_file(path: str) -> None:
    while not os.path.exists(path):
        time.sleep(0.05)


def mp_child(stopfile: str, queue: object) -> None:
    deadline = time.monotonic() + 10
    while leakscope.agent.socket_path() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    queue.put((os.getpid(), leakscope.agent.socket_path()))  # type: ignore[attr-defined]
    wait_for_file(stopfile)


def command(line: str) -> None:
    words = line.split()
    if not words:
        return
    cmd, args = words[0], words[1:]
    if cmd == "ping":
        say(pong=True, pid=os.getpid())
    elif cmd == "rss":
        say(rss_kb=status_field("VmRSS"), threads=status_field("Threads"))
    elif cmd == "exc-cache":
        from rpyc.core import vinegar

        say(classes=len(vinegar._generic_exceptions_cache))
    elif cmd == "busy":
        say(**busy)
    elif cmd == "start":
        say(socket=leakscope.agent.start(args[0] if args else None))
    elif cmd == "stop":
        t0 = time.monotonic()
        leakscope.agent.stop()
        say(stopped_s=time.monotonic() - t0, running=leakscope.agent.is_running())
    elif cmd == "loosen":
        path = leakscope.agent.socket_path()
        assert path is not None
        os.chmod(os.path.dirname(path), int(args[0], 8))
        os.chmod(path, int(args[1], 8))
        say(loosened=path)
    elif cmd == "fork":
        stopfile, how = args[0], (args[1] if len(args) > 1 else "exit")
        child = os.fork()
        if child == 0:
            if how == "exec":
                os.execv("/bin/sleep", ["sleep", "30"])
            wait_for_file(stopfile)
            if how == "exit":
                # A normal exit; this thread is all the child has (sys.exit here
                # would only end the thread), so run the exit handlers by hand.
                import atexit

                atexit._run_exitfuncs()
            os._exit(0)
        say(child=child)
    elif cmd == "mp":
        import multiprocessing

        ctx = multiprocessing.get_context("fork")
        queue = ctx.Queue()
        proc = ctx.Process(target=mp_child, args=(args[0], queue))
        proc.start()
        pid, path = queue.get(timeout=20)
        say(child=pid, socket=path)
        threading.Thread(target=proc.join, daemon=True).start()
    elif cmd == "subprocess":
        code = "import os; print(os.getpid())"
        plain = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        pre = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, preexec_fn=lambda: None
        )
        say(
            codes=[plain.returncode, pre.returncode],
            pids=[int(plain.stdout), int(pre.stdout)],
            stderr=plain.stderr + pre.stderr,
        )
    elif cmd == "exit":
        done.set()
    else:
        say(error=f"unknown command {cmd!r}")


def read_commands() -> None:
    for line in sys.stdin:
        command(line)
    done.set()  # stdin closed: exit normally


socket_path = None if opts.no_start else leakscope.agent.start()
say(pid=os.getpid(), socket=socket_path, threads=status_field("Threads"))
threading.Thread(target=read_commands, name="target-commands", daemon=True).start()
if opts.busy:
    busy_loop()
done.wait()
sys.exit(0)
