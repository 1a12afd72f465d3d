"""RPyC, narrowed to what the agent needs.

Stock RPyC has weak spots that matter for an agent inside someone's process:

* ``SocketStream.read`` retries on socket timeouts forever, so a client that
  sends half a frame and waits pins a serving thread for good.
  `BoundedStream` gives every frame a deadline (`FRAME_TIMEOUT_S`) and never
  raises SIGPIPE, even in a host that restored its default action.
* ``Channel.recv`` trusts the length in a frame header and inflates compressed
  frames without a bound: one lying header or one small zlib bomb is enough to
  make the agent allocate gigabytes. `BoundedChannel` refuses both.
* ``Connection._unbox`` turns any object reference the client sends into a
  netref, and building a netref class asks the client to describe the object:
  a call back into the client, made before our own argument checks run.
  `StrictConnection` refuses remote references outright, answers only the
  requests a client of ours needs, refuses replies and exceptions (the agent
  never asks the client anything, and unpacking a client's exception would
  create a new class per name, forever), bounds the handles a client may hold,
  and closes without waiting on the client.
"""

from __future__ import annotations

import contextlib
import socket
import time
import zlib
from typing import Any

from rpyc.core import brine, consts
from rpyc.core.channel import Channel
from rpyc.core.protocol import Connection
from rpyc.core.stream import SocketStream

from leakscope.wire import MAX_FRAME_BYTES, MAX_INFLATED_BYTES, failure

#: Seconds a client has to deliver the rest of a frame once its first byte arrived,
#: and to take an answer off the socket.
FRAME_TIMEOUT_S = 10.0
#: Most agent objects (the service and its bound methods) one client may hold a
#: handle to at once; a client of ours holds a handful.
MAX_HANDLES = 256

_NOSIGNAL = getattr(socket, "MSG_NOSIGNAL", 0)


class RefusedRequest(Exception):
    """A request the agent does not serve."""


class AgentFault(Exception):
    """What a client sees instead of a non-Exception error raised inside the agent."""


class BoundedStream(SocketStream):  # type: ignore[misc]
    """A socket stream whose reads end at a deadline and whose writes never signal."""

    __slots__ = ()

    def read_by(self, count: int, deadline: float) -> bytes:
        """Read exactly *count* bytes before *deadline* (monotonic), or raise EOFError."""
        chunks = []
        sock = self.sock
        while count > 0:
            left = deadline - time.monotonic()
            if left <= 0:
                self.close()
                raise EOFError("frame not completed in time")
            try:
                sock.settimeout(left)
                buf = sock.recv(min(self.MAX_IO_CHUNK, count))
            except OSError as exc:  # includes the timeout
                self.close()
                raise EOFError(str(exc)) from None
            if not buf:
                self.close()
                raise EOFError("connection closed by peer")
            chunks.append(buf)
            count -= len(buf)
        return b"".join(chunks)

    def read(self, count: int) -> bytes:
        """Read exactly *count* bytes within `FRAME_TIMEOUT_S`, or raise EOFError."""
        return self.read_by(count, time.monotonic() + FRAME_TIMEOUT_S)

    def write(self, data: bytes) -> None:
        """Write all of *data* within `FRAME_TIMEOUT_S`, or close and raise EOFError."""
        view = memoryview(data)
        deadline = time.monotonic() + FRAME_TIMEOUT_S
        try:
            while view:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("client does not read its answer")
                self.sock.settimeout(left)
                sent = self.sock.send(view[: self.MAX_IO_CHUNK], _NOSIGNAL)
                view = view[sent:]
        except OSError as exc:
            self.close()
            raise EOFError(str(exc)) from None


class BoundedChannel(Channel):  # type: ignore[misc]
    """A channel that refuses oversized and over-inflating frames by closing."""

    __slots__ = ()

    def recv(self) -> bytes:
        """One frame's payload; EOFError for anything out of bounds."""
        deadline = time.monotonic() + FRAME_TIMEOUT_S
        read = self.stream.read_by
        header = read(self.FRAME_HEADER.size, deadline)
        length, compressed = self.FRAME_HEADER.unpack(header)
        if length > MAX_FRAME_BYTES or compressed not in (0, 1):
            raise EOFError(f"frame of {length} bytes refused")
        data: bytes = read(length + len(self.FLUSHER), deadline)[: -len(self.FLUSHER)]
        if compressed:
            inflater = zlib.decompressobj()
            try:
                data = inflater.decompress(data, MAX_INFLATED_BYTES)
            except zlib.error as exc:
                raise EOFError("corrupt compressed frame") from exc
            if inflater.unconsumed_tail:
                raise EOFError("compressed frame inflates too far")
        return data


# Requests a client of ours never needs; refused before any handler runs.
_REFUSED_HANDLERS = frozenset(
    {
        consts.HANDLE_SETATTR,
        consts.HANDLE_DELATTR,
        consts.HANDLE_PICKLE,
        consts.HANDLE_BUFFITER,
        consts.HANDLE_OLDSLICING,
        consts.HANDLE_CTXEXIT,
        consts.HANDLE_INSTANCECHECK,
        consts.HANDLE_CMP,
        consts.HANDLE_HASH,
        consts.HANDLE_DIR,
    }
)


class StrictConnection(Connection):  # type: ignore[misc]
    """An RPyC connection that never makes netrefs of client objects."""

    def _dispatch(self, data: bytes) -> None:
        # The agent sends no requests, so a reply or an exception from the client
        # is hostile or broken: close rather than unpack it.
        if data[:1] != brine.I1.pack(consts.MSG_REQUEST):
            raise EOFError("only requests are accepted from a client")
        super()._dispatch(data)

    def _unbox(self, package: Any) -> Any:
        label, value = package
        if label == consts.LABEL_REMOTE_REF:
            raise RefusedRequest("object references are not accepted; send plain values")
        if label == consts.LABEL_TUPLE:
            return tuple(self._unbox(item) for item in value)
        if label == consts.LABEL_VALUE or label == consts.LABEL_LOCAL_REF:
            return super()._unbox(package)
        raise RefusedRequest(f"invalid label {label!r}")

    def _box(self, obj: Any) -> Any:
        if not brine.dumpable(obj) and len(self._local_objects._dict) >= MAX_HANDLES:
            raise RefusedRequest("too many handles held by this client; release some")
        return super()._box(obj)

    def _box_exc(self, typ: Any, val: Any, tb: Any) -> Any:
        # The traceback would keep the failed call's frames (and the target objects
        # they hold) alive until the next failure.
        self._last_traceback = None
        if not (isinstance(typ, type) and issubclass(typ, Exception)):
            # SystemExit and friends must not travel: the client would re-raise them.
            typ, val = AgentFault, AgentFault(f"agent error: {getattr(typ, '__name__', typ)}")
        return super()._box_exc(typ, val, None)

    def _handle_call(self, obj: Any, args: Any, kwargs: Any = ()) -> Any:
        # The service turns every Exception into a JSON failure; what escapes it
        # (SystemExit, KeyboardInterrupt, GeneratorExit raised by the target's own
        # code, e.g. a __repr__) is logged here and answered the same way.
        try:
            return super()._handle_call(obj, args, kwargs)
        except Exception:
            raise
        except BaseException as exc:
            logger = self._config.get("logger")
            if logger is not None:
                logger.error(
                    "leakscope agent: %s escaped a call", type(exc).__name__, exc_info=True
                )
            return failure("agent-error", f"agent error: {type(exc).__name__} in the target's code")

    def _dispatch_request(self, seq: int, raw_args: Any) -> None:
        try:
            handler = raw_args[0]
        except Exception:
            handler = None
        if handler in _REFUSED_HANDLERS:
            exc = RefusedRequest("request refused by the leakscope agent")
            self._send(consts.MSG_EXCEPTION, seq, self._box_exc(RefusedRequest, exc, None))
            return
        try:
            super()._dispatch_request(seq, raw_args)
        except RefusedRequest as refused:
            # Stock RPyC boxes a reply outside its try: a handle refused by `_box` would
            # end the connection instead of reaching the client as a refusal.
            self._send(consts.MSG_EXCEPTION, seq, self._box_exc(RefusedRequest, refused, None))

    def close(self) -> None:
        """Close at once: stock RPyC would send a request and wait for the client."""
        if self.closed:
            return
        with contextlib.suppress(Exception):
            self._cleanup(_anyway=True)
