"""RPyC, narrowed to what the agent needs.

Two weak spots of stock RPyC matter for an agent inside someone's process:

* ``Channel.recv`` trusts the length in a frame header and inflates compressed
  frames without a bound: one lying header or one small zlib bomb is enough to
  make the agent allocate gigabytes. `BoundedChannel` refuses both.
* ``Connection._unbox`` turns any object reference the client sends into a
  netref, and building a netref class asks the client to describe the object —
  a call back into the client, made before our own argument checks run.
  `StrictConnection` refuses remote references outright, and answers only the
  requests a client of ours needs.
"""

from __future__ import annotations

import zlib
from typing import Any

from rpyc.core import consts
from rpyc.core.channel import Channel
from rpyc.core.protocol import Connection

from leakscope.wire import MAX_FRAME_BYTES, MAX_INFLATED_BYTES


class BoundedChannel(Channel):
    """A channel that refuses oversized and over-inflating frames by closing."""

    __slots__ = ()

    def recv(self) -> bytes:
        header = self.stream.read(self.FRAME_HEADER.size)
        length, compressed = self.FRAME_HEADER.unpack(header)
        if length > MAX_FRAME_BYTES or compressed not in (0, 1):
            raise EOFError(f"frame of {length} bytes refused")
        data: bytes = self.stream.read(length + len(self.FLUSHER))[: -len(self.FLUSHER)]
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


class RefusedRequest(Exception):
    """A request the agent does not serve."""


class StrictConnection(Connection):  # type: ignore[misc]
    """An RPyC connection that never makes netrefs of client objects."""

    def _unbox(self, package: Any) -> Any:
        label, value = package
        if label == consts.LABEL_REMOTE_REF:
            raise RefusedRequest("object references are not accepted; send plain values")
        if label == consts.LABEL_TUPLE:
            return tuple(self._unbox(item) for item in value)
        if label == consts.LABEL_VALUE or label == consts.LABEL_LOCAL_REF:
            return super()._unbox(package)
        raise RefusedRequest(f"invalid label {label!r}")

    def _dispatch_request(self, seq: int, raw_args: Any) -> None:
        try:
            handler = raw_args[0]
        except Exception:
            handler = None
        if handler in _REFUSED_HANDLERS:
            self._send(consts.MSG_EXCEPTION, seq, self._box_exc(*_refusal()))
            return
        super()._dispatch_request(seq, raw_args)


def _refusal() -> tuple[type[BaseException], BaseException, None]:
    exc = RefusedRequest("request refused by the leakscope agent")
    return RefusedRequest, exc, None
