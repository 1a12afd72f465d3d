"""Garbage on the wire (issue 3, point 4).

Well over a thousand broken frames -- random bytes, headers that lie about the
length, half frames, zlib bombs, corrupt compression, well-formed messages of
the wrong kind -- each on a connection of its own. The agent must survive,
keep serving, keep its thread count, and not grow without bound.
"""

from __future__ import annotations

import random
import socket
import struct
import time
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from rpyc.core import brine, consts

from leakscope.wire import MAX_FRAME_BYTES

from .conftest import raw_exchange, run_cli

HEADER = struct.Struct("!LB")
BOMB = zlib.compress(b"\0" * (64 << 20), 9)  # 64 KB that inflate to 64 MB


def frame(payload: bytes, compressed: int = 0, length: int | None = None) -> bytes:
    """An RPyC frame: header, payload, the newline RPyC adds."""
    n = len(payload) if length is None else length
    return HEADER.pack(n, compressed) + payload + b"\n"


def message(msg: int, body: Any) -> bytes:
    """A well-formed RPyC message (brine) inside a frame."""
    return frame(brine.I1.pack(msg) + brine.dump(body))


def nested(depth: int) -> bytes:
    """Brine for a tuple nested *depth* deep (built by hand: brine.dump would recurse)."""
    return brine.TAG_TUP1 * depth + brine.TAG_NONE


def kinds(rng: random.Random) -> list[Callable[[], bytes]]:
    """Makers of broken input, one per kind."""
    return [
        lambda: rng.randbytes(rng.randrange(0, 4096)),
        lambda: HEADER.pack(rng.randrange(MAX_FRAME_BYTES + 1, 1 << 32), 0) + rng.randbytes(64),
        lambda: HEADER.pack(rng.randrange(100, MAX_FRAME_BYTES), 0) + rng.randbytes(50),  # lies
        lambda: frame(rng.randbytes(4000))[: rng.randrange(1, 2000)],  # half a frame
        lambda: frame(BOMB, compressed=1),
        lambda: frame(rng.randbytes(3000), compressed=1),  # corrupt zlib
        lambda: frame(b"x", compressed=rng.randrange(2, 256)),
        lambda: frame(bytes([consts.MSG_REQUEST]) + rng.randbytes(rng.randrange(0, 500))),
        lambda: message(consts.MSG_REQUEST, (1, (rng.randrange(21, 255), ()))),
        lambda: message(consts.MSG_REQUEST, (1, (consts.HANDLE_GETATTR, (rng.randbytes(8),)))),
        lambda: message(consts.MSG_REPLY, (rng.randrange(1 << 30), (consts.LABEL_VALUE, 1))),
        # an exception whose class name is new every time: stock RPyC would make
        # (and keep) a class per name
        lambda: message(
            consts.MSG_EXCEPTION,
            (1, ((f"mod{rng.random()}", f"Exc{rng.random()}"), ("x",), (), "")),
        ),
        lambda: frame(bytes([consts.MSG_REQUEST]) + brine.TAG_TUP2 + brine.dump(1) + nested(10**5)),
        lambda: frame(b""),
        lambda: message(consts.MSG_REQUEST, (1, (consts.HANDLE_CALL, ((9, 9), (), ())))),
    ]


def garbage(count: int, seed: int) -> Iterator[bytes]:
    """*count* broken inputs, cycling through every kind."""
    rng = random.Random(seed)
    makers = kinds(rng)
    for i in range(count):
        yield makers[i % len(makers)]()


def send(path: str, data: bytes) -> None:
    """Send on a connection of its own; wait for the first answer or the agent's close."""
    # A frame that claims more than it carries would wait for the frame timeout;
    # close it ourselves ("half a frame, then close").
    short = len(data) >= HEADER.size and HEADER.unpack(data[: HEADER.size])[0] + 6 > len(data)
    raw_exchange(path, data, wait=0.05 if short else 5, first=True)


def blast(path: str, count: int, seed: int) -> None:
    """Send each broken input on a connection of its own, four at a time."""
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda data: send(path, data), garbage(count, seed)))


@pytest.mark.slow
def test_garbage_on_the_wire(start_target: Any, tmp_path: Path) -> None:
    t = start_target("--objects", "3", "--frame-timeout", "1", "--log", str(tmp_path / "log"))
    t.ask("ping")
    base_threads = t.status("Threads")
    blast(t.socket, 300, seed=1)  # warm up: imports, allocator arenas of the serving threads
    rss = [t.status("VmRSS")]
    for seed in (2, 3):
        blast(t.socket, 600, seed=seed)
        rss.append(t.status("VmRSS"))
    print(f"\ngarbage: RSS after warm-up and after each 600 more frames: {rss} kB")
    assert t.alive()
    assert rss[2] - rss[1] < 8_000, rss  # a leak grows every round
    assert rss[2] - rss[0] < 24_000, rss
    # No class made per exception name a client sent (stock RPyC keeps one each).
    assert t.ask("exc-cache")["classes"] == 0
    # Every serving thread ends (each garbage connection was closed).
    deadline = time.monotonic() + 5
    while t.status("Threads") > base_threads and time.monotonic() < deadline:
        time.sleep(0.05)
    assert t.status("Threads") <= base_threads
    done = run_cli("prefs", "--pid", str(t.pid), "--json")
    assert done.returncode == 0, done.stderr
    assert '"count":3' in done.stdout.replace(" ", "")


def test_one_connection_survives_its_own_refused_request(start_target: Any) -> None:
    """A refused request is answered with an error, not by dropping the connection."""
    t = start_target()
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(t.socket)
    try:
        for seq in range(1, 4):
            s.sendall(message(consts.MSG_REQUEST, (seq, (consts.HANDLE_PICKLE, ((0, 0), 2)))))
            header = s.recv(HEADER.size, socket.MSG_WAITALL)
            length, _ = HEADER.unpack(header)
            body = s.recv(length + 1, socket.MSG_WAITALL)
            assert body[:1] == bytes([consts.MSG_EXCEPTION])
    finally:
        s.close()


@pytest.mark.slow
def test_half_a_frame_held_open_is_cut_off(start_target: Any) -> None:
    """A client that starts a frame and stalls loses its slot after the frame timeout."""
    t = start_target("--frame-timeout", "1")
    stalled = []
    for start in (HEADER.pack(1000, 0)[:2], HEADER.pack(1000, 0) + b"x" * 10):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(10)
        s.connect(t.socket)
        s.sendall(start)  # half a header, or a header and part of its frame
        stalled.append(s)
    began = time.monotonic()
    for s in stalled:
        assert s.recv(100) == b""  # the agent hung up on us
        s.close()
    assert time.monotonic() - began < 8
    assert run_cli("prefs", "--pid", str(t.pid)).returncode == 0
