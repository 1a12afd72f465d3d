"""The object graph, streamed out in packed chunks: what a heap dump, retained sizes and leak
suspects are computed from (in the client, never here).

Every object the census counts becomes a node: its id, its type, its shallow size (as
`sizes.Sizer` gives it) and its edges, one per reference it holds, each with a compact label.
Strings, bytes, ints and floats also carry a bounded value (their first ``value_chars``
characters), so that a dict value's label can show its key and a row can show a short repr.
The walk is the census's (`walk`): a snapshot of ``gc.get_objects()`` taken before anything
else, then the untracked objects reached through referents, deduplicated with the census's
reference-count trick. Dict keys are followed too (``gc.get_referents`` of a dict with string
keys shows only its values), so a dump also holds the unique keys a census may not count.

Edge labels are 32-bit numbers, ``kind << 29 | argument``:

========  =============================================================================
kind      meaning (argument)
========  =============================================================================
NAME 0    a label string from the dump's label table (``.attr``, ``.__dict__``, ``.?``...)
INDEX 1   an item of a list, tuple or deque (its position)
KEY 2     a dict key
VALUE 3   a dict value: its key is the target of the edge just before (a KEY edge)
MEMBER 4  a member of a set or frozenset
========  =============================================================================

Roots (the one definition `retained`, `leaks` and offline ``--why`` use; see also
`leakscope.target.census.path` for the live path search, which tries them in the same order):

1. module namespaces: the ``__dict__`` of every module in ``sys.modules`` (``module NAME``);
2. the stacks of the other threads (not leakscope's own): one pseudo-node per frame
   (``thread stack T frame f() line N``) whose edges are its local variables (``local x``).
   On 3.11/3.12 reading a frame's locals refreshes its ``f_locals`` dict, as debuggers do;
3. what no object of the graph refers to, and cycles that nothing outside them refers to:
   objects held by C code (an extension's static, the interpreter's own state) or garbage
   waiting for the cyclic collector. The client finds these once the graph is complete.

A chunk is one ``bytes`` payload (zlib level 1, which runs without the GIL), in the target's
byte order, of these arrays back to back (counts are in the chunk's answer)::

    node ids      int64  x nodes      node types   int32 x nodes
    node sizes    int64  x nodes      edge counts  int32 x nodes
    edge targets  int64  x edges      (ids: the client maps them to nodes)
    edge labels   uint32 x edges
    value groups  int32 x 2 x groups  (first node of the group in this chunk, count)
    value bytes   each value ended by NUL (UTF-8, surrogates passed through; a NUL
                  inside a string is written \\x00; bytes are kept as their repr)

The walk runs in a helper thread ("leakscope-dump", started by the first `next_chunk`) that
packs and compresses the next chunks while the agent's thread sends the last ones, with the
census's pause rules (the GIL given away every ~5 ms; its waits for the agent are no
pauses). It stops when the client says so, when the connection closes, or at the next call
after `IDLE_S` without one (the agent closes idle connections before that).

Memory: the target never keeps a Python object per edge; what is packed leaves as bytes.
What the dump adds while it runs is the census's own (8 bytes per GC-tracked object for the
snapshot list, ~60 bytes per untracked object met more than once, the queue of untracked
containers: 8 bytes each), up to `QUEUED` + 1 chunks (`CHUNK_BYTES` packed, 512 KiB, plus their
compressed and base64 forms while they are sent) and, while a group of containers is packed,
~16 bytes per item of the group (at most `BIG_CONTAINER` items, or one longer list copied in
slices). No container is copied per object: thousands of lists alive at once would drive the
host's collector into full collections.

The program goes on while the walk runs. What it makes meanwhile is not in the snapshot;
so that it stays findable, the collector's older generations are not collected until the
walk has listed what is young (their threshold is raised, then put back; the youngest
generation is collected as usual), and the objects made meanwhile are walked last (less
the dump's own). Without them a structure replaced as fast as it grows (a linked list's
head) would look held by C code.
"""

from __future__ import annotations

import base64
import contextlib
import gc
import queue
import sys
import threading
import time
import types
import zlib
from array import array
from collections import deque
from collections.abc import Generator, Iterator
from itertools import chain, compress, repeat, takewhile
from operator import getitem, is_, mul, not_
from typing import Any

from leakscope.target import Refused
from leakscope.target.census.kinds import type_kind
from leakscope.target.census.labels import Labeller
from leakscope.target.census.sizes import Sizer
from leakscope.target.census.walk import (
    _HIDDEN_DICT_OFFSET,
    _LOCALS_OFFSETS,
    CHUNK,
    CODE_FIELDS,
    Pacer,
    _hidden_dicts,
    _sort_found,
    module_spaces,
    stack_locals,
)

NAME, INDEX, KEY, VALUE, MEMBER = 0, 1, 2, 3, 4
SHIFT = 29
ARG_MASK = (1 << SHIFT) - 1
#: The collector's second threshold while a dump walks: no collection of the older
#: generations, so that what the program makes meanwhile stays young (see `GraphDump._late`).
HOLD_OLDER = 1 << 30
#: Packed bytes (before compression) a chunk aims at.
CHUNK_BYTES = 1 << 19
#: Seconds a suspended dump waits for its next call before the service drops it.
IDLE_S = 120.0
#: Packed chunks the helper thread keeps ready at most (and one answer carries at most).
QUEUED = 1
#: Seconds a call waits for a chunk before answering with none (the client asks again).
WAIT_S = 10.0
#: Most distinct label strings; attribute names beyond it are labelled ``.?``.
MAX_LABELS = 1 << 18
#: Most frames per thread, and locals per frame, taken as roots.
MAX_FRAMES = 256
MAX_LOCALS = 512
#: Containers longer than this are copied in slices (bounds the transient memory).
BIG_CONTAINER = 1 << 16

_HAVE_GC = 1 << 14
_FLAGS = type.__dict__["__flags__"]
_MANAGED_DICT = 1 << 4
_LEAF, _SEQUENCE, _DICT, _SET, _CODE, _INSTANCE, _OTHER = range(7)
_GETATTR = object.__getattribute__
#: One instance in this many is checked against its class's plan on the fast path.
_CHECK_EVERY = 16
_HEAPTYPE = 1 << 9
_CONTAINER_BASES = (dict, list, tuple, set, frozenset, deque, type, BaseException)
_VALUE_TYPES = (str, bytes, int, float)
_CODE_LABELS = tuple("." + name for name in CODE_FIELDS)
_BIG_INT = 1 << 256
_TEMPLATE_ITEMS = 4096
_INDEX_TEMPLATE = array("I", range(INDEX << SHIFT, (INDEX << SHIFT) + _TEMPLATE_ITEMS)).tobytes()
_SEQUENCE_BASES = (list, tuple, deque)
_SEQUENCE_ITER: dict[type, Any] = {
    list: list.__iter__,
    tuple: tuple.__iter__,
    deque: deque.__iter__,
}


def _keep_all(_obj: object) -> bool:
    return True


class _Out:
    """The arrays of the chunk being packed."""

    def __init__(self) -> None:
        self.ids = array("q")
        self.types = array("i")
        self.sizes = array("q")
        self.counts = array("i")
        self.targets = array("q")
        self.labels = array("I")
        self.valued = array("i")  # (first node, count) per group of values
        self.blob = bytearray()

    def packed_size(self) -> int:
        return 24 * len(self.ids) + 12 * len(self.targets) + 4 * len(self.valued) + len(self.blob)

    def payload(self) -> bytes:
        parts = (
            self.ids,
            self.types,
            self.sizes,
            self.counts,
            self.targets,
            self.labels,
            self.valued,
        )
        return b"".join([*(part.tobytes() for part in parts), bytes(self.blob)])


class GraphDump:
    """One streamed dump: `start` facts, then `next_chunk` until ``done``."""

    def __init__(self, max_objects: int, value_chars: int = 64) -> None:
        started = time.perf_counter()
        # The snapshot comes before anything the dump creates: its own objects stay out.
        tracked = gc.get_objects()
        if len(tracked) > max_objects:
            count = len(tracked)
            del tracked
            raise Refused(
                "unavailable",
                f"the heap has more than {max_objects:,} objects (the GC alone tracks "
                f"{count:,}); give a larger --max-objects to dump it",
            )
        # The young generations now: what is young at the end of the walk and was not
        # here now was made while the walk ran (see `_late`).
        self._young_ids = {id(obj) for gen in (0, 1) for obj in gc.get_objects(gen)}
        # ... and they stay there while the walk runs: the collector's older generations
        # wait (the program's own collections of the youngest go on), until `_late`.
        self._threshold: tuple[int, ...] | None = gc.get_threshold()
        gc.set_threshold(self._threshold[0], HOLD_OLDER, *self._threshold[2:])
        # The snapshot lists the youngest generation first; the walk takes the oldest first,
        # so that a dump lists the objects of a class oldest first, as far as the GC knows.
        self._young_first = sum(
            1 for _ in takewhile(self._young_ids.__contains__, map(id, tracked))
        )
        self.max_objects = max_objects
        self.value_chars = value_chars
        self._slice = slice(0, value_chars)
        self.pacer = Pacer(started=started)
        self.sizer = Sizer()
        self.labeller = Labeller(tick=self.pacer.tick)
        self.tracked_count = len(tracked)
        self.count = 0
        self.edges = 0
        self.seq = 0
        self.done = False
        self.touched = time.monotonic()
        self._type_ids: dict[type, int] = {}
        self._new_types: list[list[Any]] = []
        self._label_ids: dict[str, int] = {}
        self._new_labels: list[list[Any]] = []
        self._roles: dict[type, int] = {}
        self._plans: dict[tuple[type, int], tuple[tuple[str, ...], tuple[int, ...], array]] = {}
        self._doubted: set[tuple[type, int]] = set()
        self._out = _Out()
        self._seen_ids: set[int] = set()
        self._containers: list = []
        self._queue: queue.Queue[object] = queue.Queue(maxsize=QUEUED)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._finished = False
        self.roots, extra = _roots()
        self._gen: Generator[None, None, None] | None = self._walk(tracked, extra)
        del tracked, extra

    # -- the answers -------------------------------------------------------------------

    def start(self) -> dict[str, Any]:
        """What the client needs before the chunks: roots, byte order, limits."""
        return {
            "byteorder": sys.byteorder,
            "tracked": self.tracked_count,
            "max_objects": self.max_objects,
            "value_chars": self.value_chars,
            "label_shift": SHIFT,
            "roots": self.roots,
        }

    def next_chunk(self) -> dict[str, Any]:
        """The chunks packed since the last call (waiting for one if none is ready).

        The walk runs in a helper thread ("leakscope-dump"), started at the first call: it
        packs and compresses (zlib drops the GIL) the next chunks while this thread sends
        the last ones, and waits when `QUEUED` chunks are ready and not taken. It keeps the
        census's pause rules; its waits are not pauses."""
        self.touched = time.monotonic()
        if self._finished:
            raise Refused("bad-argument", "the dump is over")
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._produce, name="leakscope-dump", daemon=True
            )
            try:
                self._thread.start()
            except RuntimeError:
                self._finished = True
                raise Refused("unavailable", "cannot start a thread for the dump") from None
        answer: dict[str, Any] = {"chunks": [], "types": [], "labels": [], "done": False}
        try:
            item: Any = self._queue.get(timeout=WAIT_S)
        except queue.Empty:  # nothing ready yet: the client asks again
            item = None
        while item is not None:
            if isinstance(item, BaseException):
                self._finished = True
                raise item
            for key in ("chunks", "types", "labels"):
                answer[key].extend(item[key])
            if item["done"]:
                answer["done"] = True
                answer["summary"] = item["summary"]
                self._finished = True
                break
            if len(answer["chunks"]) >= QUEUED:
                break
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                item = None
        answer["seq"] = self.seq
        self.seq += 1
        return answer

    def _restore_threshold(self) -> None:
        """The collector's thresholds as they were, unless the program set its own since."""
        saved, self._threshold = self._threshold, None
        if saved is not None and gc.get_threshold()[1] == HOLD_OLDER:
            gc.set_threshold(*saved)

    def close(self) -> None:
        """Stop the walk and drop everything it holds."""
        self._restore_threshold()
        self._stop.set()
        self._finished = True
        thread = self._thread
        while thread is not None and thread.is_alive():
            with contextlib.suppress(queue.Empty):
                while True:
                    self._queue.get_nowait()
            thread.join(timeout=0.1)
        with contextlib.suppress(queue.Empty):
            while True:
                self._queue.get_nowait()
        if thread is None and self._gen is not None:
            self._gen.close()
        self._gen = None
        self._out = _Out()
        self._type_ids.clear()
        self._containers = []
        self._seen_ids = set()

    # -- the helper thread --------------------------------------------------------------

    def _produce(self) -> None:
        gen = self._gen
        try:
            assert gen is not None
            for _ in gen:
                if self._stop.is_set():
                    return
                if self._out.packed_size() >= CHUNK_BYTES:
                    self._enqueue(self._package(done=False))
            if not self._stop.is_set():
                self.done = True
                self._enqueue(self._package(done=True))
        except BaseException as exc:  # never into the host: the agent thread answers with it
            with contextlib.suppress(BaseException):
                failure = exc if isinstance(exc, Exception) else Refused("unavailable", str(exc))
                self._enqueue(failure)
        finally:
            self._gen = None
            if gen is not None:
                gen.close()

    def _package(self, done: bool) -> dict[str, Any]:
        self.pacer.tick()
        fresh, self._out = self._out, _Out()
        chunks = [_Packing(fresh).result()] if fresh.ids else []
        del fresh
        item: dict[str, Any] = {
            "chunks": chunks,
            "types": self._new_types,
            "labels": self._new_labels,
            "done": done,
        }
        self._new_types, self._new_labels = [], []
        if done:
            elapsed, pause = self.pacer.finish()
            item["summary"] = {
                "count": self.count,
                "edges": self.edges,
                "elapsed_s": round(elapsed, 6),
                "max_pause_s": round(pause, 6),
            }
        return item

    def _enqueue(self, item: object) -> None:
        """Queue an item, waiting (without the GIL) while the queue is full."""
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.25)
                break
            except queue.Full:
                continue
        # Compressing and waiting let the host run: no pause of ours.
        self.pacer.last_break = time.perf_counter()

    # -- tables --------------------------------------------------------------------------

    def _type_id(self, cls: type) -> int:
        found = self._type_ids.get(cls)
        if found is None:
            found = self._type_ids[cls] = len(self._type_ids)
            self._new_types.append([found, type_kind(cls)])
        return found

    def _label(self, text: str) -> int:
        found = self._label_ids.get(text)
        if found is None:
            if len(self._label_ids) >= MAX_LABELS:
                text = ".?"
                found = self._label_ids.get(text)
                if found is not None:
                    return found
            found = self._label_ids[text] = len(self._label_ids)
            self._new_labels.append([found, text])
        return found

    def _role(self, cls: type) -> int:
        role = self._roles.get(cls)
        if role is None:
            if cls is list or cls is tuple:
                role = _SEQUENCE
            elif cls is dict:
                role = _DICT
            elif cls is set or cls is frozenset:
                role = _SET
            elif cls is types.CodeType:
                role = _CODE
            elif _FLAGS.__get__(cls) & _HAVE_GC:
                role = _INSTANCE if _plain_class(cls) else _OTHER
            else:
                role = _LEAF
            self._roles[cls] = role
        return role

    # -- the walk ------------------------------------------------------------------------

    def _walk(self, tracked: list, extra: list) -> Generator[None, None, None]:
        """Pack every object once; yields between batches (the caller flushes full chunks)."""
        pacer = self.pacer
        # The locals of other threads' frames: roots, and maybe reached from nowhere else.
        found = _sort_found(extra, self._seen_ids, pacer)
        del extra
        self._emit_found(found)
        del found
        young = self._young_first
        for low, high in ((young, len(tracked)), (0, young)):
            for start in range(low, high, CHUNK):
                self._batch(tracked[start : min(start + CHUNK, high)])
                pacer.tick()
                yield
        del tracked[:]
        yield from self._walk_containers()
        # The program went on meanwhile: objects it made since the snapshot are not in it,
        # and what only they reach would look held by C (a linked list whose head is
        # replaced faster than the walk reaches it). Those still young are walked too.
        late = self._late()
        for start in range(0, len(late), CHUNK):
            self._batch(late[start : start + CHUNK])
            pacer.tick()
            yield
        del late
        yield from self._walk_containers()

    def _walk_containers(self) -> Generator[None, None, None]:
        containers = self._containers
        while containers:
            chunk = containers[-CHUNK:]
            del containers[-CHUNK:]
            self._batch(chunk)
            del chunk
            self.pacer.tick()
            yield

    def _late(self) -> list:
        """The GC-tracked objects made since the snapshot, which are still in the young
        generations (the older ones were not collected meanwhile), less the dump's own:
        this walk, the agent's objects, and what only they lead to.

        No comprehension here: on 3.11 one that reads a local makes it a cell, a young
        object that would join the list and hold it in a cycle."""
        young = self._young_ids
        late: list = []
        for gen in (0, 1):
            objects = gc.get_objects(gen)
            late += compress(objects, map(not_, map(young.__contains__, map(id, objects))))
            del objects
        self._restore_threshold()
        self._young_ids = set()
        by_id = dict(zip(map(id, late), late, strict=True))
        ours = {id(late), id(by_id)}
        todo: list = [self]
        todo += compress(late, map(_is_leakscope, map(type, late)))
        while todo:
            obj = todo.pop()
            ours.add(id(obj))
            for referent in gc.get_referents(obj):
                if id(referent) in by_id and id(referent) not in ours:
                    todo.append(referent)
        del by_id, todo
        found = list(compress(late, map(not_, map(ours.__contains__, map(id, late)))))
        late.clear()  # it lists itself (it was young): a cycle that would hold them all
        return found

    def _batch(self, objects: list) -> None:
        batch: dict[type, list] = {}
        for obj in objects:
            cls = type(obj)
            group = batch.get(cls)
            if group is None:
                batch[cls] = [obj]
            else:
                group.append(obj)
        flat: list = []
        self._pack(batch, flat)
        del batch
        self._drain(flat)

    def _drain(self, flat: list) -> None:
        """The untracked objects among these referents, met for the first time: packed (leaves)
        or queued (containers)."""
        found = _sort_found(flat, self._seen_ids, self.pacer)
        del flat[:]
        self._emit_found(found)

    def _emit_found(self, found: dict[type, list]) -> None:
        """Leaves are packed now; containers (and code) wait in the queue for their edges."""
        leaves: dict[type, list] = {}
        for cls, objects in found.items():
            if self._role(cls) == _LEAF:
                leaves[cls] = objects
            else:
                self._containers.extend(objects)
        if leaves:
            self._pack(leaves, [])

    def _count(self, added: int) -> None:
        self.count += added
        if self.count > self.max_objects:
            raise Refused(
                "unavailable",
                f"the heap has more than {self.max_objects:,} objects; give a larger "
                "--max-objects to dump it (nothing was kept of this one)",
            )

    def _pack(self, batch: dict[type, list], flat: list) -> None:
        """Nodes and edges of these objects. Between groups (a group's nodes and edges are
        whole) a long ``flat`` is drained and a full chunk is handed over, so that neither
        grows with the batch."""
        tick = self.pacer.tick
        for cls, objects in batch.items():
            role = self._role(cls)
            groups = _by_items(objects) if role in (_SEQUENCE, _DICT, _SET) else [objects]
            for part in groups:
                self._nodes(cls, part, role)
                if role == _SEQUENCE:
                    self._sequences(cls, part, flat)
                elif role == _DICT:
                    self._dicts(part, flat)
                elif role == _SET:
                    self._sets(part, flat)
                elif role == _CODE:
                    for code in part:
                        self._code(code, flat)
                elif role == _INSTANCE:
                    self._instances(part, cls, flat)
                elif role == _OTHER:
                    for at, obj in enumerate(part):
                        self._other(obj, cls, flat)
                        if at & 255 == 255:
                            tick()
                tick()
                if len(flat) > BIG_CONTAINER:
                    self._drain(flat)
                self._hand_over()

    def _nodes(self, cls: type, objects: list, role: int) -> None:
        out = self._out
        n = len(objects)
        self._count(n)
        out.ids.extend(map(id, objects))
        out.types.extend(array("i", [self._type_id(cls)]) * n)
        sizes = self.sizer.each(cls, objects)
        if sizes.count(sizes[0]) == n:  # one size for all (a C loop): no conversion each
            out.sizes.extend(array("q", sizes[:1]) * n)
        else:
            out.sizes.extend(sizes)
        del sizes
        if role == _LEAF:
            out.counts.extend(array("i", [0]) * n)
            if cls in _VALUE_TYPES and self.value_chars:
                self._values(cls, objects, len(out.ids) - n)

    def _hand_over(self) -> None:
        """Give a full chunk to the agent's thread (only from the helper thread)."""
        if self._thread is threading.current_thread() and self._out.packed_size() >= CHUNK_BYTES:
            self._enqueue(self._package(done=False))

    def _values(self, cls: type, objects: list, first: int) -> None:
        """One group of values: its first node and count, and the values, each ended by NUL."""
        out = self._out
        if cls is str:
            text = "\0".join(map(getitem, objects, repeat(self._slice)))
            if text.count("\0") != len(objects) - 1:  # a NUL inside a value: spell it out
                sliced = map(getitem, objects, repeat(self._slice))
                spelled = map(str.replace, sliced, repeat("\0"), repeat("\\x00"))  # type: ignore[arg-type]
                text = "\0".join(spelled)
            blob = text.encode("utf-8", "surrogatepass")
        elif cls is bytes:
            blob = "\0".join(map(repr, map(getitem, objects, repeat(self._slice)))).encode()
        elif cls is int and max(map(int.bit_length, objects)) < 256:
            blob = "\0".join(map(repr, objects)).encode()
        elif cls is int:
            blob = "\0".join(
                repr(i) if i.bit_length() < 256 else f"<{i.bit_length()}-bit int>" for i in objects
            ).encode()
        else:
            blob = "\0".join(map(repr, objects)).encode()
        out.valued.extend((first, len(objects)))
        out.blob += blob
        out.blob += b"\0"

    def _contents(self, objects: list, items: Any, per_object: int, flat: list) -> list[int]:
        """Append the items of these containers to ``flat``; their item counts.

        No per-container copies (thousands of lists alive at once would drive the host's
        collector into full collections): counts first, items next, each one C call, and
        if another thread changed a container in between, the batch is taken again with
        copies, which one C call makes consistent."""
        lengths = list(map(mul, map(len, objects), repeat(per_object)))
        start = len(flat)
        flat.extend(items(objects))
        if len(flat) - start == sum(lengths):
            return lengths
        del flat[start:]
        copies = list(map(list, map(items, map(_one, objects))))
        lengths = list(map(len, copies))
        flat.extend(chain.from_iterable(copies))
        return lengths

    def _sequences(self, cls: type, objects: list, flat: list) -> None:
        out = self._out
        start = len(flat)
        if cls is list and max(map(len, objects)) > BIG_CONTAINER:
            copies = [o[:] if len(o) <= BIG_CONTAINER else _big_list(o) for o in objects]
            lengths = list(map(len, copies))
            flat.extend(chain.from_iterable(copies))
            del copies
        else:
            lengths = self._contents(objects, chain.from_iterable, 1, flat)
        out.counts.extend(lengths)
        labels = out.labels
        if max(lengths, default=0) <= _TEMPLATE_ITEMS:
            # Slices of one template: C loops only.
            cuts = map(slice, map(mul, lengths, repeat(4)))
            labels.frombytes(b"".join(map(getitem, repeat(_INDEX_TEMPLATE), cuts)))  # type: ignore[arg-type]
        else:
            base = INDEX << SHIFT
            for length in lengths:
                labels.extend(range(base, base + min(length, ARG_MASK)))
                if length > ARG_MASK:  # past 2**29 items the position is not kept
                    labels.extend(repeat(base | ARG_MASK, length - ARG_MASK))
        out.targets.extend(map(id, flat[start:]))
        self.edges += len(flat) - start

    def _dicts(self, objects: list, flat: list) -> None:
        out = self._out
        start = len(flat)
        # key, value, key, value... per dict.
        lengths = self._contents(objects, _dict_items, 2, flat)
        out.counts.extend(lengths)
        out.labels.extend(array("I", [KEY << SHIFT, VALUE << SHIFT]) * (sum(lengths) // 2))
        out.targets.extend(map(id, flat[start:]))
        self.edges += len(flat) - start

    def _sets(self, objects: list, flat: list) -> None:
        out = self._out
        start = len(flat)
        lengths = self._contents(objects, chain.from_iterable, 1, flat)
        out.counts.extend(lengths)
        out.labels.extend(array("I", [MEMBER << SHIFT]) * sum(lengths))
        out.targets.extend(map(id, flat[start:]))
        self.edges += len(flat) - start

    def _code(self, code: Any, flat: list) -> None:
        edges: list[tuple[int, object]] = []
        for label, name in zip(_CODE_LABELS, CODE_FIELDS, strict=True):
            value = getattr(code, name, None)
            if value is not None:
                edges.append((self._label(label), value))
        if _LOCALS_OFFSETS is not None:
            import ctypes

            slot = ctypes.py_object.from_address
            names = (".co_localsplusnames", ".co_localspluskinds")
            for label, offset in zip(names, _LOCALS_OFFSETS, strict=True):
                with contextlib.suppress(ValueError):  # a NULL slot
                    edges.append((self._label(label), slot(id(code) + 8 * offset).value))
        self._put(edges, flat)
        del edges

    def _instances(self, objects: list, cls: type, flat: list) -> None:
        """Instances of a plain class: labelled by a plan learnt once per shape (fast path).

        When every instance has as many referents as a known plan, the whole group is
        packed with C loops; the plan is checked on one instance in `_CHECK_EVERY` (and on
        all of them once a check failed for it)."""
        hidden = _HIDDEN_DICT_OFFSET is not None and _FLAGS.__get__(cls) & _MANAGED_DICT
        if not hidden and self._bulk(objects, cls, flat):
            return
        out = self._out
        get_referents = gc.get_referents
        plans = self._plans
        tick = self.pacer.tick
        for at, obj in enumerate(objects):
            if at & 255 == 255:
                tick()
            refs = get_referents(obj)
            if hidden:
                refs.extend(_hidden_dicts({cls: [obj]}))
            plan = plans.get((cls, len(refs)))
            if plan is not None:
                names, positions, codes = plan
                try:
                    # object.__getattribute__: inline values in place, no __getattr__, and
                    # only names that are not on the class (`labels` chose them).
                    values = list(map(_GETATTR, repeat(obj, len(names)), names))
                except Exception:
                    values = None
                if values is not None and all(map(is_, values, map(refs.__getitem__, positions))):
                    out.counts.append(len(refs))
                    out.labels.extend(codes)
                    out.targets.extend(map(id, refs))
                    flat.extend(refs)
                    self.edges += len(refs)
                    continue
            self._learn(obj, cls, refs, flat)

    def _bulk(self, objects: list, cls: type, flat: list) -> bool:
        get_referents = gc.get_referents
        lengths = list(map(len, map(get_referents, objects)))
        key = (cls, lengths[0])
        plan = self._plans.get(key)
        if plan is None or key in self._doubted or lengths.count(lengths[0]) != len(lengths):
            return False
        names, positions, codes = plan
        for obj in objects[::_CHECK_EVERY]:
            refs = get_referents(obj)
            try:
                values = list(map(_GETATTR, repeat(obj, len(names)), names))
            except Exception:
                values = None
            if values is None or not all(map(is_, values, map(refs.__getitem__, positions))):
                self._doubted.add(key)
                return False
        start = len(flat)
        flat.extend(get_referents(*objects))
        if len(flat) - start != lengths[0] * len(lengths):  # changed meanwhile: one by one
            del flat[start:]
            return False
        out = self._out
        out.counts.extend(array("i", lengths[:1]) * len(lengths))
        out.labels.extend(codes * len(lengths))
        out.targets.extend(map(id, flat[start:]))
        self.edges += len(flat) - start
        return True

    def _learn(self, obj: Any, cls: type, refs: list, flat: list) -> None:
        try:
            named = self.labeller.edges(obj, _keep_all, exact=True)
        except Exception:
            named = []
        label_of: dict[int, str] = {}
        for text, referent in named:
            label_of.setdefault(id(referent), text)
        if _HIDDEN_DICT_OFFSET is not None:
            # The one dict no name gives is the instance's own __dict__; of several (a C
            # type's, such as an lru_cache's cache and its __dict__), none can be told.
            unnamed = [r for r in refs if id(r) not in label_of and type(r) is dict]
            if len(unnamed) == 1:
                label_of[id(unnamed[0])] = ".__dict__"
        texts = [label_of.get(id(r), ".?") for r in refs]
        del named, label_of
        names: list[str] = []
        positions: list[int] = []
        for position, text in enumerate(texts):
            if text.startswith(".") and text[1:].isidentifier() and not text.startswith(".__"):
                names.append(text[1:])
                positions.append(position)
        codes = array("I", map(self._label, texts))
        if len(self._plans) < 4096:
            self._plans[(cls, len(refs))] = (tuple(names), tuple(positions), codes)
        out = self._out
        out.counts.append(len(refs))
        out.labels.extend(codes)
        out.targets.extend(map(id, refs))
        flat.extend(refs)
        self.edges += len(refs)

    def _other(self, obj: Any, cls: type, flat: list) -> None:
        """Any other GC object: content of container subclasses, then labelled referents."""
        edges: list[tuple[int, object]] = []
        content: list = []
        try:
            # The builtin base's own iteration: a subclass's __iter__ (user code) never runs.
            if issubclass(cls, dict):
                content = list(chain.from_iterable(dict.items(obj)))
                pairs = array("I", [KEY << SHIFT, VALUE << SHIFT]) * (len(content) // 2)
                edges.extend(zip(pairs, content, strict=True))
            elif issubclass(cls, (list, tuple, deque)):
                base_iter = _SEQUENCE_ITER[next(b for b in _SEQUENCE_BASES if issubclass(cls, b))]
                content = list(base_iter(obj))
                start = INDEX << SHIFT
                positions = range(start, start + min(len(content), ARG_MASK))
                edges.extend(zip(positions, content, strict=False))
            elif issubclass(cls, (set, frozenset)):
                members = set.__iter__(obj) if issubclass(cls, set) else frozenset.__iter__(obj)
                content = list(members)
                edges.extend(zip(repeat(MEMBER << SHIFT), content))
        except Exception:  # changed under us (another thread): label what is left by name
            edges, content = [], []
        if content:
            ids = set(map(id, content))
            keep = lambda r: id(r) not in ids  # noqa: E731
        else:
            keep = _keep_all
        try:
            named = self.labeller.edges(obj, keep, exact=True)
        except Exception:
            named = [(".?", r) for r in gc.get_referents(obj) if keep(r)]
        label = self._label
        edges.extend((label(text), referent) for text, referent in named)
        if _HIDDEN_DICT_OFFSET is not None and _FLAGS.__get__(cls) & _MANAGED_DICT:
            edges.extend((label(".__dict__"), d) for d in _hidden_dicts({cls: [obj]}))
        del named, content
        self._put(edges, flat)

    def _put(self, edges: list[tuple[int, object]], flat: list) -> None:
        out = self._out
        out.counts.append(len(edges))
        if edges:
            codes, referents = zip(*edges, strict=True)
            out.labels.extend(codes)
            out.targets.extend(map(id, referents))
            flat.extend(referents)
        self.edges += len(edges)


class _Packing:
    """One chunk's arrays compressed (zlib level 1, which drops the GIL), as an answer
    carries it."""

    def __init__(self, out: _Out) -> None:
        self.counts = (len(out.ids), len(out.targets), len(out.valued) // 2, len(out.blob))
        self.payload = out.payload()

    def result(self) -> dict[str, Any]:
        packed = zlib.compress(self.payload, 1)
        nodes, edges, groups, value_bytes = self.counts
        return {
            "nodes": nodes,
            "edges": edges,
            "values": groups,
            "value_bytes": value_bytes,
            "raw_bytes": len(self.payload),
            "crc32": zlib.crc32(packed),
            "data": base64.b64encode(packed).decode("ascii"),
        }


def _is_leakscope(cls: type) -> bool:
    module = type.__dict__["__module__"].__get__(cls)
    return isinstance(module, str) and module.startswith("leakscope.")


def _plain_class(cls: type) -> bool:
    """A class written in Python whose instances hold attributes only (no container base)."""
    return bool(_FLAGS.__get__(cls) & _HEAPTYPE) and not issubclass(cls, _CONTAINER_BASES)


def _dict_items(dicts: Any) -> Any:
    """key, value, key, value... of these dicts, as one iterator (C loops)."""
    return chain.from_iterable(chain.from_iterable(map(dict.items, dicts)))


def _one(container: Any) -> list:
    return [container]


def _by_items(containers: list, most: int = BIG_CONTAINER) -> Iterator[list]:
    """The containers in runs of about ``most`` items in all (a long one alone)."""
    lengths = list(map(len, containers))
    if sum(lengths) <= most:
        yield containers
        return
    start = total = 0
    for end, length in enumerate(lengths):
        if total and total + length > most:
            yield containers[start:end]
            start, total = end, 0
        total += length
    yield containers[start:]


def _big_list(items: list) -> list:
    """A copy of a long list, in slices, so no one step holds the GIL for long."""
    copy: list = []
    for start in range(0, len(items), BIG_CONTAINER):
        copy.extend(items[start : start + BIG_CONTAINER])
        time.sleep(0)
    return copy


def _roots() -> tuple[dict[str, Any], list]:
    """Module namespaces and other threads' frames, as plain data; and the local values."""
    spaces = module_spaces()
    modules: list[list[Any]] = [[name, id(space)] for name, space in spaces]
    module_ids = {id(space) for _, space in spaces}
    del spaces
    threads: list[dict[str, Any]] = []
    values: list = []
    for where, local_items in stack_locals(module_ids, skip_leakscope=True, max_frames=MAX_FRAMES):
        del local_items[MAX_LOCALS:]
        threads.append({"root": where, "locals": [[str(k), id(v)] for k, v in local_items]})
        values.extend(v for _, v in local_items)
    return {"modules": modules, "threads": threads}, values
