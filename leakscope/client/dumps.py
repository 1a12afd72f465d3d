"""Heap dumps: the target's object graph, taken over the wire and kept in a file.

`take` streams the graph from the agent (`leakscope.target.census.graph`) chunk by chunk;
`to_bytes` (written by `files.write_output`) and `read` keep it in a dump file, so that
``retained FILE``, ``leaks A B`` and ``oldest --why --dump FILE`` work later, elsewhere,
after the process is gone. No analysis happens here (that is
`leakscope.client.analysis.heapgraph`, which needs numpy): the chunks are kept as the
target packed them.

File format (schema `SCHEMA`)::

    LEAKSCOPE-DUMP\\n                      the magic line (anything else: not a dump)
    <8 bytes, little-endian>             length of the header
    <header: UTF-8 JSON>                 {"leakscope_dump": 1, "leakscope_version", "pid",
                                          "time", "host", "argv", "python", "byteorder",
                                          "tracked", "max_objects", "value_chars",
                                          "label_shift", "roots", "types", "labels",
                                          "summary", "chunks": [{"nodes", "edges", "values",
                                          "value_bytes", "raw_bytes", "crc32", "bytes"}]}
    <chunk payloads, back to back>       each zlib-compressed, as the target sent it

A chunk's payload is described in `leakscope.target.census.graph`. A file that does not
start with the magic line, whose header is not JSON or of another schema, that ends early,
that goes on past its last chunk, or whose chunk fails its CRC-32 is refused with
`ExitCode.BAD_SNAPSHOT` and a line naming the file.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import math
import socket
import struct
import time
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from leakscope import wire
from leakscope.client.errors import ExitCode, LeakscopeError

SCHEMA = 1
MAGIC = b"LEAKSCOPE-DUMP\n"
MARKER = "leakscope_dump"
#: The default ``--max-objects`` of a dump: past it the agent refuses (nothing half-dumped).
DEFAULT_MAX_OBJECTS = 20_000_000
#: Characters (or bytes) of each string, bytes, int and float value kept in a dump.
VALUE_CHARS = 64
_LENGTH = struct.Struct("<Q")
_CHUNK_KEYS = ("nodes", "edges", "values", "value_bytes", "raw_bytes", "crc32")


class Client(Protocol):
    """What `take` needs of a `leakscope.client.api.Client` (not imported: the analysis
    reads dumps without the client's modules)."""

    @property
    def pid(self) -> int: ...

    @property
    def hello(self) -> Any: ...

    def call(self, method: str, *args: object, timeout: float | None = None) -> Any: ...


@dataclass(frozen=True)
class Chunk:
    """One packed chunk of the graph, compressed as the target sent it."""

    data: bytes
    nodes: int
    edges: int
    values: int
    value_bytes: int
    raw_bytes: int
    crc32: int

    def payload(self) -> bytes:
        """The uncompressed arrays."""
        return zlib.decompress(self.data)

    def describe(self) -> dict[str, int]:
        return {
            "nodes": self.nodes,
            "edges": self.edges,
            "values": self.values,
            "value_bytes": self.value_bytes,
            "raw_bytes": self.raw_bytes,
            "crc32": self.crc32,
            "bytes": len(self.data),
        }


@dataclass(frozen=True)
class Dump:
    """A heap dump: who and when, the roots, the type and label tables, and the chunks."""

    meta: Mapping[str, Any]
    types: tuple[str, ...]
    labels: tuple[str, ...]
    chunks: tuple[Chunk, ...] = field(repr=False)

    @property
    def pid(self) -> int:
        return int(self.meta.get("pid", 0))

    @property
    def count(self) -> int:
        """Objects in the dump."""
        return sum(c.nodes for c in self.chunks)

    @property
    def summary(self) -> Mapping[str, Any]:
        found = self.meta.get("summary")
        return found if isinstance(found, Mapping) else {}


def take(
    client: Client,
    max_objects: int = DEFAULT_MAX_OBJECTS,
    progress: Callable[[int], None] | None = None,
) -> Dump:
    """Stream the object graph of a live process from its agent."""
    start = client.call("dump_start", max_objects, VALUE_CHARS)
    cursor = start.get("cursor") if isinstance(start, dict) else None
    if type(cursor) is not int:
        raise _incompatible(client, "no cursor")
    hello = client.hello
    types: dict[int, str] = {}
    labels: dict[int, str] = {}
    chunks: list[Chunk] = []
    count = 0
    try:
        while True:
            answer = client.call("dump_next", cursor)
            if not isinstance(answer, dict) or not isinstance(answer.get("chunks"), list):
                raise _incompatible(client, "no chunks")
            for index, name in answer.get("types") or ():
                types[int(index)] = str(name)
            for index, text in answer.get("labels") or ():
                labels[int(index)] = str(text)
            for part in answer["chunks"]:
                chunk = _chunk(client, part)
                chunks.append(chunk)
                count += chunk.nodes
            if progress is not None:
                progress(count)
            if answer.get("done"):
                summary = answer.get("summary") or {}
                break
    except BaseException:
        # Tell the agent to let go at once (it would anyway, when the connection closes).
        with contextlib.suppress(Exception):
            client.call("dump_stop", cursor, timeout=5.0)
        raise
    meta = {
        MARKER: SCHEMA,
        "leakscope_version": wire.VERSION,
        "pid": client.pid,
        "time": time.time(),
        "host": socket.gethostname(),
        "argv": list(hello.argv),
        "python": hello.python,
        **{k: v for k, v in start.items() if k not in ("cursor", "pid")},
        "summary": summary,
    }
    return Dump(meta, _table(types, "type"), _table(labels, "label"), tuple(chunks))


def _incompatible(client: Client, what: str) -> LeakscopeError:
    return LeakscopeError(
        ExitCode.INCOMPATIBLE,
        f"the agent of process {client.pid} answered the dump in an unknown shape ({what})",
    )


def _chunk(client: Client, answer: Any) -> Chunk:
    if not isinstance(answer, dict) or not all(type(answer.get(k)) is int for k in _CHUNK_KEYS):
        raise _incompatible(client, "a chunk without its counts")
    try:
        data = base64.b64decode(answer.get("data") or "", validate=True)
    except (binascii.Error, ValueError, TypeError):
        raise _incompatible(client, "a chunk that is not base64") from None
    if zlib.crc32(data) != answer["crc32"]:
        raise _incompatible(client, "a chunk that fails its CRC-32")
    return Chunk(data, *(answer[k] for k in _CHUNK_KEYS))


def _table(entries: dict[int, str], what: str) -> tuple[str, ...]:
    if sorted(entries) != list(range(len(entries))):
        raise LeakscopeError(ExitCode.INCOMPATIBLE, f"the dump's {what} table has gaps")
    return tuple(entries[i] for i in range(len(entries)))


# -- files ---------------------------------------------------------------------------------


def to_bytes(dump: Dump) -> bytes:
    """The dump file's content."""
    header = {
        **dump.meta,
        MARKER: SCHEMA,
        "types": list(dump.types),
        "labels": list(dump.labels),
        "chunks": [c.describe() for c in dump.chunks],
    }
    text = json.dumps(header, separators=(",", ":")).encode()
    return b"".join([MAGIC, _LENGTH.pack(len(text)), text, *(c.data for c in dump.chunks)])


def read(path: str) -> Dump:
    """Read and check a dump file; every defect is one line naming the file (BAD_SNAPSHOT)."""

    def bad(defect: str) -> LeakscopeError:
        return LeakscopeError(ExitCode.BAD_SNAPSHOT, f"{path}: {defect}")

    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise bad("no such file") from None
    except IsADirectoryError:
        raise bad("is a directory, not a file") from None
    except OSError as exc:
        raise bad(f"cannot read it ({exc.strerror})") from None
    return read_bytes(data, path)


def read_bytes(data: bytes, path: str) -> Dump:
    """A dump from a file's content; defects are BAD_SNAPSHOT errors naming ``path``."""

    def bad(defect: str) -> LeakscopeError:
        return LeakscopeError(ExitCode.BAD_SNAPSHOT, f"{path}: {defect}")

    if not data:
        raise bad("empty file")
    if not data.startswith(MAGIC):
        if MAGIC.startswith(data):
            raise bad("truncated leakscope dump (the file ends early)")
        hint = " (a snapshot file? use `leakscope diff`)" if data.lstrip()[:1] == b"{" else ""
        raise bad(f"not a leakscope dump (no LEAKSCOPE-DUMP header){hint}")
    at = len(MAGIC)
    if len(data) < at + _LENGTH.size:
        raise bad("truncated leakscope dump (the file ends early)")
    (length,) = _LENGTH.unpack_from(data, at)
    at += _LENGTH.size
    if at + length > len(data):
        raise bad("truncated leakscope dump (the file ends in its header)")
    try:
        header = json.loads(data[at : at + length])
    except (ValueError, UnicodeDecodeError):
        raise bad("damaged leakscope dump (its header is not JSON)") from None
    at += length
    if not isinstance(header, dict) or type(header.get(MARKER)) is not int:
        raise bad(f"damaged leakscope dump (no {MARKER!r} schema number)")
    if header[MARKER] != SCHEMA:
        raise bad(
            f"dump schema {header[MARKER]} is not supported by leakscope {wire.VERSION} "
            f"(it reads schema {SCHEMA})"
        )
    try:
        types = tuple(str(t) for t in header["types"])
        labels = tuple(str(t) for t in header["labels"])
        described = [(c, int(c["bytes"])) for c in header["chunks"]]
        if not isinstance(header["roots"], dict) or header.get("byteorder") not in (
            "little",
            "big",
        ):
            raise ValueError("roots")
    except (KeyError, TypeError, ValueError):
        raise bad(
            "damaged leakscope dump (its header lacks types, labels, roots or chunks)"
        ) from None
    chunks = []
    for number, (info, size) in enumerate(described):
        if at + size > len(data):
            raise bad(f"truncated leakscope dump (the file ends in chunk {number + 1})")
        piece = data[at : at + size]
        at += size
        try:
            chunk = Chunk(piece, *(int(info[k]) for k in _CHUNK_KEYS))
        except (KeyError, TypeError, ValueError):
            raise bad(f"damaged leakscope dump (chunk {number + 1} has no counts)") from None
        if zlib.crc32(piece) != chunk.crc32:
            raise bad(f"damaged leakscope dump (chunk {number + 1} fails its CRC-32)")
        chunks.append(chunk)
    if at != len(data):
        raise bad("damaged leakscope dump (bytes after its last chunk)")
    defect = _header_defect(header, sum(c.nodes for c in chunks))
    if defect:
        raise bad(f"damaged leakscope dump ({defect})")
    meta = {k: v for k, v in header.items() if k not in ("types", "labels", "chunks")}
    return Dump(meta, types, labels, tuple(chunks))


def _is_int(value: object) -> bool:
    return type(value) is int


def _is_pair(value: object) -> bool:
    """``[name, id]``, as the roots list modules and locals."""
    return type(value) is list and len(value) == 2 and type(value[0]) is str and _is_int(value[1])


def _header_defect(header: dict[str, Any], nodes: int) -> str | None:
    """What is wrong with the facts of a dump's header, if anything (None: nothing)."""
    if not _is_int(header.get("pid")) or header["pid"] < 0:
        return "its pid is not a process number"
    when = header.get("time")
    if not isinstance(when, int | float) or isinstance(when, bool) or not math.isfinite(when):
        return "its time is not a number"
    roots = header["roots"]
    modules, threads = roots.get("modules", []), roots.get("threads", [])
    if type(modules) is not list or not all(map(_is_pair, modules)):
        return "its module roots are not [name, id] pairs"
    if type(threads) is not list or not all(
        type(t) is dict
        and type(t.get("root", "")) is str
        and type(t.get("locals", [])) is list
        and all(map(_is_pair, t.get("locals", [])))
        for t in threads
    ):
        return "its thread roots are not frames with [name, id] locals"
    summary = header.get("summary", {})
    if type(summary) is not dict:
        return "its summary is not an object"
    if "count" in summary and summary["count"] != nodes:
        return f"its summary counts {summary['count']!r} objects, its chunks hold {nodes:,}"
    return None
