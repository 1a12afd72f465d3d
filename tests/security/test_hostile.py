"""A hostile client against a real agent: no code execution, no handles (issue 3, point 3).

The client is real RPyC with everything allowed on its own side, so that if the
agent ever asked it anything (to build a netref, to read an attribute, to call
or iterate an object) the request would be served and counted. Each probe must
fail; afterwards the agent still answers the real CLI.
"""

from __future__ import annotations

import contextlib
import gc
import json
import pickle
import shutil
import socket
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import rpyc
from rpyc.core import consts
from rpyc.core.channel import Channel
from rpyc.core.protocol import Connection
from rpyc.core.stream import SocketStream

from leakscope import wire
from leakscope.target.agent.protocol import MAX_HANDLES
from leakscope.target.agent.service import LeakscopeService

from .conftest import TARGET, Target, run_cli, target_env

PERMISSIVE = {
    "allow_all_attrs": True,
    "allow_pickle": True,
    "allow_setattr": True,
    "allow_delattr": True,
    "import_custom_exceptions": False,
    "sync_request_timeout": 30,
}


class CountingConnection(Connection):  # type: ignore[misc]
    """A client connection that records every request the agent sends it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.requests_from_agent: list[int] = []
        super().__init__(*args, **kwargs)

    def _dispatch_request(self, seq: int, raw_args: Any) -> None:
        self.requests_from_agent.append(raw_args[0])
        super()._dispatch_request(seq, raw_args)


class Recorder:
    """A client-side object that notes being called, iterated or described."""

    def __init__(self) -> None:
        self.touched: list[str] = []

    def __call__(self, *args: Any, **kwargs: Any) -> str:
        self.touched.append("call")
        return "called"

    def __iter__(self) -> Iterator[str]:
        self.touched.append("iter")
        return iter(["a"])

    def __len__(self) -> int:
        self.touched.append("len")
        return 1

    def __str__(self) -> str:
        self.touched.append("str")
        return "Leaky"

    def __repr__(self) -> str:
        self.touched.append("repr")
        return "Leaky"

    def __dir__(self) -> list[str]:
        self.touched.append("dir")
        return ["x"]

    def __eq__(self, other: object) -> bool:
        self.touched.append("eq")
        return False

    def __hash__(self) -> int:
        self.touched.append("hash")
        return 1

    def __reduce_ex__(self, proto: object) -> Any:
        self.touched.append("reduce")
        return (str, ("x",))


def connect(path: str) -> CountingConnection:
    """A permissive, counting RPyC client on the agent's socket."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(path)
    return CountingConnection(rpyc.VoidService(), Channel(SocketStream(sock)), PERMISSIVE)


@pytest.fixture(scope="module")
def target() -> Iterator[Target]:
    """One target for the whole suite, with 5 tracked objects."""
    base = Path(tempfile.mkdtemp(prefix="lss-"))
    t = Target([sys.executable, str(TARGET), "--objects", "5"], target_env(base / "s"))
    yield t
    t.finish()
    shutil.rmtree(base, ignore_errors=True)
    t.assert_quiet()


@pytest.fixture
def hostile(target: Target) -> Iterator[tuple[Target, CountingConnection]]:
    """A hostile client connected to the suite's target."""
    conn = connect(target.socket or "")
    yield target, conn
    assert conn.requests_from_agent == [], "the agent sent requests to the client"
    conn.close()


#: The agent's own refusal of a request (leakscope.target.agent.protocol.RefusedRequest),
#: as RPyC rebuilds it on this side: a class of that name, made here.
REFUSED_REQUEST = "leakscope.target.agent.protocol.RefusedRequest"


def refused(call: Any, kind: type[Exception] | str, words: str) -> BaseException:
    """Run *call*; the agent must refuse it with *kind* saying *words*.

    The refusal must come from the agent, over the wire: RPyC marks such an
    exception with the agent's traceback, which the agent withholds. An error
    raised on this side (a broken probe, a closed connection) does not count.
    """
    try:
        result = call()
    except Exception as exc:
        assert getattr(exc, "_remote_tb", None) == "<traceback denied>", (
            f"not the agent's answer: {type(exc).__name__}: {exc}"
        )
        if isinstance(kind, str):
            assert type(exc).__name__ == kind, f"{type(exc).__name__}: {exc}"
        else:
            assert isinstance(exc, kind), f"{type(exc).__name__}: {exc}"
        message = str(exc).split("\n", 1)[0]
        assert words in message, message
        return exc
    raise AssertionError(f"not refused; got {result!r}")


def hung_up(conn: CountingConnection, call: Any) -> EOFError:
    """Run *call*; the agent must close the connection (EOFError here, nothing from it)."""
    try:
        result = call()
    except EOFError as exc:
        assert not hasattr(exc, "_remote_tb"), f"the agent answered: {exc}"
        with pytest.raises(EOFError):
            conn.root.ping()  # the connection is gone for good
        return exc
    raise AssertionError(f"the agent did not hang up; got {result!r}")


def fails_in_json(text: object, code: str = "bad-argument") -> None:
    """An answer that is a JSON failure with *code* (not a crash, not a handle)."""
    assert type(text) is str, f"answer is {type(text)}, not str"
    data = json.loads(text)
    assert data["error"]["code"] == code, data


ROOT_DUNDERS = ["__class__", "__dict__", "__init__", "__module__", "__builtins__", "__globals__"]
METHOD_DUNDERS = ["__self__", "__func__", "__globals__", "__wrapped__", "__code__", "__closure__"]


def test_private_and_dunder_attributes_of_the_service(hostile: Any) -> None:
    _, conn = hostile
    root = conn.root
    for name in ["_conn", "_agent", "_rpyc_getattr", *ROOT_DUNDERS, "exposed___class__"]:
        refused(
            lambda name=name: conn.sync_request(consts.HANDLE_GETATTR, root, name),
            AttributeError,
            f"cannot access {name!r}",
        )
    # as bytes, and as something that is not a name at all
    refused(
        lambda: conn.sync_request(consts.HANDLE_GETATTR, root, b"__dict__"),
        AttributeError,
        "cannot access '__dict__'",
    )
    refused(
        lambda: conn.sync_request(consts.HANDLE_GETATTR, root, 42),
        TypeError,
        "name must be a string",
    )
    # the classic attribute chain, through the netref API
    refused(lambda: root._conn, AttributeError, "cannot access '_conn'")
    refused(lambda: root.__dict__, AttributeError, "cannot access '__dict__'")


def test_mro_walk_from_the_service(hostile: Any) -> None:
    _, conn = hostile
    refused(
        lambda: conn.sync_request(consts.HANDLE_GETATTR, conn.root, "__class__"),
        AttributeError,
        "cannot access '__class__'",
    )
    # What `root.__class__` shows the client is a class of the client's own (RPyC
    # builds it locally); walking its __mro__ only ever reaches client classes.
    seen = conn.root.__class__.__mro__[-1].__subclasses__()
    assert all(not isinstance(c, rpyc.BaseNetref) for c in seen)
    assert type(conn.root.__class__) is type


def test_attributes_of_an_exposed_method(hostile: Any) -> None:
    _, conn = hostile
    method = conn.root.prefs  # a handle the agent does give: its bound method
    for name in METHOD_DUNDERS:
        refused(
            lambda name=name: conn.sync_request(consts.HANDLE_GETATTR, method, name),
            AttributeError,
            f"cannot access {name!r}",
        )


def test_classic_service_is_not_there(hostile: Any) -> None:
    _, conn = hostile
    for name in ["eval", "execute", "getmodule", "modules", "namespace", "exposed_eval"]:
        refused(
            lambda name=name: getattr(conn.root, name), AttributeError, f"cannot access {name!r}"
        )
    refused(
        lambda: conn.root.eval("__import__('os').getpid()"), AttributeError, "cannot access 'eval'"
    )
    refused(
        lambda: conn.sync_request(consts.HANDLE_CALLATTR, conn.root, "execute", ("1",), ()),
        AttributeError,
        "cannot access 'execute'",
    )


def test_getattr_hook_cannot_be_called_through_callattr(hostile: Any) -> None:
    _, conn = hostile
    root = conn.root
    refused(
        lambda: conn.sync_request(consts.HANDLE_CALLATTR, root, "_rpyc_getattr", ("__dict__",), ()),
        AttributeError,
        "cannot access '_rpyc_getattr'",
    )


@pytest.mark.parametrize(
    "handler",
    [
        consts.HANDLE_PICKLE,
        consts.HANDLE_DIR,
        consts.HANDLE_HASH,
        consts.HANDLE_CMP,
        consts.HANDLE_SETATTR,
        consts.HANDLE_DELATTR,
        consts.HANDLE_INSTANCECHECK,
        consts.HANDLE_BUFFITER,
        consts.HANDLE_OLDSLICING,
        consts.HANDLE_CTXEXIT,
    ],
)
def test_unneeded_request_kinds_are_refused(hostile: Any, handler: int) -> None:
    _, conn = hostile
    args: dict[int, tuple[Any, ...]] = {
        consts.HANDLE_PICKLE: (conn.root, pickle.HIGHEST_PROTOCOL),
        consts.HANDLE_DIR: (conn.root,),
        consts.HANDLE_HASH: (conn.root,),
        consts.HANDLE_CMP: (conn.root, conn.root, "__eq__"),
        consts.HANDLE_SETATTR: (conn.root, "_agent", None),
        consts.HANDLE_DELATTR: (conn.root, "_agent"),
        consts.HANDLE_INSTANCECHECK: (conn.root, ("x", 1, 2)),
        consts.HANDLE_BUFFITER: (conn.root, 10),
        consts.HANDLE_OLDSLICING: (conn.root, "__getitem__", "__getslice__", 0, 1, ()),
        consts.HANDLE_CTXEXIT: (conn.root, None),
    }
    refused(
        lambda: conn.sync_request(handler, *args[handler]),
        REFUSED_REQUEST,
        "request refused by the leakscope agent",
    )


def test_pickling_a_handle_is_refused(hostile: Any) -> None:
    _, conn = hostile
    refused(
        lambda: pickle.dumps(conn.root), REFUSED_REQUEST, "request refused by the leakscope agent"
    )
    refused(
        lambda: rpyc.classic.obtain(conn.root.prefs),
        REFUSED_REQUEST,
        "request refused by the leakscope agent",
    )


def test_callables_and_netrefs_as_arguments_are_never_touched(hostile: Any) -> None:
    _, conn = hostile
    rec = Recorder()
    probes = [
        lambda: conn.root.all(rec),
        lambda: conn.root.oldest("Leaky", rec),
        lambda: conn.root.oldest("Leaky", ("n", rec)),
        lambda: conn.root.prefs(rec),
        lambda: conn.root.prefs((), rec),
        lambda: conn.root.all("Leaky", (), rec),
        lambda: conn.root.heap(rec),
        lambda: conn.root.all(len),  # a client-side builtin
        lambda: conn.root.all(["Leaky"]),  # a list travels as a reference too
        lambda: conn.root.all({"Leaky": 1}),
    ]
    for probe in probes:
        refused(probe, REFUSED_REQUEST, "object references are not accepted; send plain values")
    assert conn.requests_from_agent == []
    assert [
        t for t in rec.touched if t in ("call", "iter", "len", "str", "repr", "dir", "eq")
    ] == []


def test_the_recorder_would_notice_a_careless_server() -> None:
    """Control: stock RPyC serving the same service does call back into the client."""
    a, b = socket.socketpair()
    config = dict(wire.AGENT_RPYC_CONFIG, sync_request_timeout=2)
    server = Connection(LeakscopeService(), Channel(SocketStream(a)), config)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                server.serve(0.1)
            except Exception:
                return

    threading.Thread(target=serve, daemon=True).start()
    conn = CountingConnection(
        rpyc.VoidService(), Channel(SocketStream(b)), dict(PERMISSIVE, sync_request_timeout=5)
    )
    try:
        with contextlib.suppress(Exception):  # whatever the stock server makes of it
            conn.root.all(Recorder())
        assert conn.requests_from_agent != [], "the counting client cannot see callbacks"
    finally:
        conn.close()  # while the server still serves: closing waits for its answer
        stop.set()


def test_answers_are_strings_never_handles(hostile: Any) -> None:
    _, conn = hostile
    calls = {
        "ping": (),
        "hello": (),
        "prefs": ((), None),
        "oldest": ("Leaky", ("n",), False),
        "all": ("Leaky", ("n",), 10),
        "memory": (False,),
        "sites": (None,),
    }
    for name, args in calls.items():
        text = getattr(conn.root, name)(*args)
        assert type(text) is str, (name, type(text))
        assert "error" not in json.loads(text), (name, text)
    assert json.loads(conn.root.all("Leaky", (), 10))["ok"]["total"] == 5


def test_unknown_methods_and_request_kinds(hostile: Any) -> None:
    _, conn = hostile
    refused(lambda: conn.root.nope(), AttributeError, "cannot access 'nope'")
    refused(lambda: conn.root.exposed_nope(), AttributeError, "cannot access 'exposed_nope'")
    refused(lambda: conn.sync_request(99), KeyError, "99")  # no such request kind
    refused(
        lambda: conn.sync_request(consts.HANDLE_CALL, conn.root, (), ()),
        TypeError,
        "'LeakscopeService' object is not callable",
    )
    pong = conn.root.ping()
    assert json.loads(pong) == {"ok": "pong"}  # refusals leave the connection working


@pytest.mark.parametrize(
    ("method", "args"),
    [
        ("prefs", (5,)),
        ("prefs", (("a", 1),)),
        ("prefs", ("Leaky",)),  # a str where a tuple is wanted
        ("prefs", ((), "no-such-key")),
        ("prefs", (tuple("x" for _ in range(100)),)),
        ("all", (b"Leaky",)),
        ("all", (1.5,)),
        ("all", ("Leaky", (), True)),  # a bool is not an int
        ("all", ("Leaky", (), 10**9)),
        ("all", ("Leaky", ("__class__",))),  # dunder attributes are not described
        ("all", ("Leaky", ("n.__class__",))),
        ("oldest", ("Leaky; import os",)),
        ("oldest", ("Leaky", (), 1)),  # an int is not a bool
        ("oldest", ("x" * 10_000,)),
        ("heap", ("type", None, 0)),
        ("memory", (1,)),
        ("history", (None, float("nan"))),
        ("ping", (1, 2, 3)),  # too many arguments
    ],
)
def test_wrong_argument_types_are_refused(hostile: Any, method: str, args: tuple[Any, ...]) -> None:
    _, conn = hostile
    fails_in_json(getattr(conn.root, method)(*args))


def test_keyword_arguments_are_refused(hostile: Any) -> None:
    _, conn = hostile
    refused(
        lambda: conn.root.prefs(ignore=()), TypeError, "got an unexpected keyword argument 'ignore'"
    )
    refused(
        lambda: conn.root.all("Leaky", limit=1), TypeError, "got an unexpected keyword argument"
    )


@pytest.mark.slow
def test_oversized_arguments_close_the_connection(hostile: Any) -> None:
    t, _ = hostile
    before = t.status("VmRSS")
    for big in ("x" * (100 << 20), tuple(range(10**6))):
        conn = connect(t.socket)
        hung_up(conn, lambda big=big, conn=conn: conn.root.prefs(big))
        conn.close()
    fresh = connect(t.socket)
    pong = fresh.root.ping()
    assert json.loads(pong) == {"ok": "pong"}  # the agent carries on
    fresh.close()
    # An honest header for a 64 MB uncompressed frame: refused before it is read.
    raw = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    raw.connect(t.socket)
    try:
        with pytest.raises(OSError):  # the agent hangs up while we are still sending
            raw.sendall((64 << 20).to_bytes(4, "big") + b"\0" + b"x" * (64 << 20))
    finally:
        raw.close()
    grown_kb = t.status("VmRSS") - before
    assert grown_kb < 30_000, f"the agent grew by {grown_kb} kB: it unpacked the argument"


def test_hoarding_handles_is_bounded(hostile: Any) -> None:
    t, _ = hostile
    conn = connect(t.socket)
    held = []
    for _ in range(MAX_HANDLES - 1):  # the service itself is the first handle
        held.append(conn.sync_request(consts.HANDLE_GETATTR, conn.root, "ping"))
    refused(
        lambda: conn.sync_request(consts.HANDLE_GETATTR, conn.root, "ping"),
        REFUSED_REQUEST,
        "too many handles held by this client; release some",
    )
    # At the limit, a call that needs no new handle is still answered...
    pong = conn.sync_request(consts.HANDLE_CALLATTR, conn.root, "ping", (), ())
    assert json.loads(pong) == {"ok": "pong"}
    # ...and once the client lets its handles go, it may take new ones again.
    del held[:]
    gc.collect()
    assert json.loads(conn.root.ping()) == {"ok": "pong"}
    conn.close()


def test_the_agent_still_answers_after_the_suite(target: Target) -> None:
    """Runs last: after every probe above, the real CLI gets the real answer."""
    assert target.alive()
    done = run_cli("prefs", "--pid", str(target.pid), "--json")
    assert done.returncode == 0, done.stderr
    rows = {r["class"]: r["count"] for r in json.loads(done.stdout)["rows"]}
    assert rows["__main__.Leaky"] == 5
    assert target.ask("ping")["pong"] is True
