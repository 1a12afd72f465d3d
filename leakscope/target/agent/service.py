"""The exposed methods: the only code a client can reach.

Every method checks its arguments with the exact-type checks of
`leakscope.wire`, calls a collector, and returns one JSON string — an answer
``{"ok": ...}`` or a failure ``{"error": {"code", "message"}}``. No method
returns a target object, a list or a dict, and none raises:

* a wrong number of arguments, or an argument `wire` refuses, is
  ``bad-argument``;
* a collector's `leakscope.target.Refused` carries its own code
  (``bad-argument``, ``unknown-class``, ``unavailable``, ``busy``);
* anything else is a bug or the target's own code failing (a ``__repr__``):
  it is logged on the ``leakscope`` logger and answered as ``agent-error``.

Argument names in messages are the options a user types (``--limit``), since
that is who reads them.

Attribute lookup on the service is limited to `EXPOSED` (see
``_rpyc_getattr``); RPyC's own ``get_service_name`` and friends are not
reachable.
"""

from __future__ import annotations

import functools
import gc
import inspect
import logging
import os
import platform
import sys
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

import rpyc

from leakscope import wire
from leakscope.target import Refused, describe, grouping
from leakscope.target import registry as trackref

log = logging.getLogger("leakscope.agent")

EXPOSED = frozenset(
    {
        "hello",
        "prefs",
        "oldest",
        "all",
        "heap",
        "memory",
        "history",
        "sites",
        "ping",
        "dump_start",
        "dump_next",
        "dump_stop",
        "trace_start",
        "trace_stop",
        "leak_sites",
        "track",
        "untrack",
    }
)

#: Seconds a heavy walk waits for another one to finish before answering "busy".
CENSUS_WAIT_S = 60.0

#: One heavy walk at a time: a second client waits for it rather than doubling the pause.
_census_lock = threading.Lock()


def _reset_after_fork() -> None:
    # A fork during a census would leave the child's lock held for good.
    global _census_lock
    _census_lock = threading.Lock()


os.register_at_fork(after_in_child=_reset_after_fork)


def _exposed(func: Callable[..., Any]) -> Callable[..., str]:
    signature = inspect.signature(func)
    name = func.__name__.removeprefix("exposed_")

    @functools.wraps(func)
    def wrapper(self: LeakscopeService, *args: Any) -> str:
        try:
            signature.bind(self, *args)
        except TypeError:
            wanted = len(signature.parameters) - 1
            return wire.failure(
                "bad-argument", f"{name} takes at most {wanted} arguments, not {len(args)}"
            )
        try:
            return wire.answer(func(self, *args))
        except wire.ArgumentRefused as exc:
            return wire.failure("bad-argument", str(exc))
        except Refused as exc:
            return wire.failure(exc.code, exc.message, **exc.extra)
        except BaseException as exc:  # SystemExit from a host __repr__ must not escape either
            log.exception("leakscope agent: %s failed", name)
            return wire.failure("agent-error", f"{type(exc).__name__}: {exc}")

    return wrapper


def _age(created: float | None, now: float) -> float | None:
    return None if created is None else round(max(0.0, now - created), 3)


def _matches(cls: type, names: frozenset[str]) -> bool:
    for klass in getattr(cls, "__mro__", (cls,)):
        if klass.__name__ in names or describe.qualified_name(klass) in names:
            return True
    return False


def _unknown_class(name: str, known: Iterable[str]) -> Refused:
    suggestions = describe.close_names(name, known)
    hint = f"; did you mean {', '.join(suggestions)}?" if suggestions else ""
    return Refused(
        "unknown-class", f"no live objects of class {name!r}{hint}", suggestions=suggestions
    )


def _objects_oldest_first(class_name: str) -> list[tuple[object, float]]:
    """Live objects of every tracked class of that name, both registries, oldest first."""
    found = trackref.find_classes(class_name)
    if not found:
        raise _unknown_class(class_name, trackref.all_class_names())
    merged: list[tuple[object, float]] = []
    for cls, source in found:
        merged.extend(trackref.iter_objects(cls, source))
    merged.sort(key=lambda pair: pair[1] if pair[1] is not None else float("inf"))
    return merged


def _objects_of(class_name: str, most: int) -> tuple[list[tuple[object, float | None]], dict]:
    """Live objects of a class: tracked ones oldest first, else (any class) through the GC.

    An untracked class has no ages: its objects come in the GC's own order, and the
    second value says so (``tracked``, ``note``, ``total``) for the answer."""
    try:
        tracked: list[tuple[object, float | None]] = list(_objects_oldest_first(class_name))
        return tracked, {}
    except Refused as refused:
        from leakscope.target.census.kinds import resolve_type

        try:
            cls = resolve_type(class_name)
        except Refused as exc:
            if exc.code == "unknown-class" and refused.extra.get("suggestions"):
                raise refused from None  # close names among the tracked classes first
            if exc.code == "unknown-class":
                close = exc.extra.get("suggestions")
                raise _unknown_class(class_name, close if isinstance(close, list) else []) from None
            raise
    found, total = _untracked_objects(cls, most)
    short = describe.qualified_name(cls)
    note = (
        f"{short} is not tracked: its objects have no ages (shown oldest GC generation "
        "first); "
        f"`leakscope track {short}` records the age (and with --sites the creation site) "
        "of those made from then on"
    )
    return [(obj, None) for obj in found], {"tracked": False, "note": note, "total": total}


def _untracked_objects(cls: type, most: int) -> tuple[list[object], int]:
    """Up to ``most`` live instances of exactly ``cls``, and how many there are."""
    found: list[object] = []
    total = 0
    if vars(type)["__flags__"].__get__(cls) & (1 << 14):
        # The oldest generation first: the objects that have lived longest come first.
        for generation in (2, 1, 0):
            for obj in gc.get_objects(generation):
                if type(obj) is cls:
                    total += 1
                    if len(found) < most:
                        found.append(obj)
        return found, total
    from leakscope.target.census.walk import HeapWalk

    walk = HeapWalk(gc.get_objects())
    for batch in walk.batches():
        objects = batch.get(cls)
        if objects:
            total += len(objects)
            found.extend(objects[: max(0, most - len(found))])
    return found, total


def _attr_names(attrs: object) -> tuple[str, ...]:
    return tuple(wire.want_identifier(a, "--attr") for a in wire.want_str_tuple(attrs, "--attr"))


class LeakscopeService(rpyc.Service):  # type: ignore[misc]
    """The agent's RPyC service. One instance per connection."""

    def __init__(self, agent: Any = None) -> None:
        self._agent = agent
        self._dump: _DumpSession | None = None
        self._trace_token = 0

    def on_disconnect(self, conn: Any) -> None:
        """The client is gone: a dump it left half-read is dropped (lock and memory), and
        the tracemalloc session it started stops."""
        self._end_dump()
        if self._trace_token:
            from leakscope.target import tracing

            tracing.stop(self._trace_token)
            self._trace_token = 0

    def _end_dump(self) -> None:
        session, self._dump = self._dump, None
        if session is not None:
            session.end()

    def _rpyc_getattr(self, name: str) -> Any:
        bare = name[len("exposed_") :] if name.startswith("exposed_") else name
        if bare not in EXPOSED:
            raise AttributeError(f"cannot access {name!r}")
        return getattr(self, "exposed_" + bare)

    def _rpyc_setattr(self, name: str, value: Any) -> None:
        raise AttributeError("access denied")

    def _rpyc_delattr(self, name: str) -> None:
        raise AttributeError("access denied")

    @property
    def _history(self) -> Any:
        return getattr(self._agent, "history", None)

    def _walk(self, what: str) -> _OneWalk:
        return _OneWalk(what, self._agent)

    # -- methods -------------------------------------------------------------

    @_exposed
    def exposed_ping(self) -> str:
        return "pong"

    @_exposed
    def exposed_hello(self) -> dict[str, Any]:
        agent = self._agent
        return {
            "protocol": wire.PROTOCOL_VERSION,
            "version": wire.VERSION,
            "pid": os.getpid(),
            "ppid": os.getppid(),
            "python": platform.python_version(),
            "implementation": sys.implementation.name,
            "executable": sys.executable,
            "argv": [str(a)[:200] for a in sys.argv[:20]],
            "started": getattr(agent, "started_at", None),
            "socket": str(agent.path) if agent is not None and agent.path else None,
            "scrapy": "scrapy.utils.trackref" in sys.modules,
            "sites": trackref.track_sites(),
        }

    @_exposed
    def exposed_prefs(
        self, ignore: object = (), group_by: object = None, collect: object = False
    ) -> dict[str, Any]:
        ignored = frozenset(wire.want_str_tuple(ignore, "--ignore"))
        group = wire.want_opt_str(group_by, "--group-by", max_len=32)
        collected = _collect(wire.want_bool(collect, "--collect"))
        if group == "site" and not trackref.track_sites():
            raise Refused(
                "unavailable",
                "creation sites are off in this process; turn them on with "
                "`leakscope sites on --pid PID` or LEAKSCOPE_TRACK_SITES=1 at start-up",
            )
        now = time.time()
        found = grouping.live_rows(group)
        hist = self._history
        out = []
        for row in found.rows:
            if ignored and _matches(row.cls, ignored):
                continue
            name = describe.qualified_name(row.cls)
            item: dict[str, Any] = {
                "class": name,
                "count": row.count,
                "oldest_age_s": _age(row.oldest, now),
                "source": row.source,
            }
            if group is not None:
                item["group"] = row.group
            if hist is not None and group is None:
                item.update(hist.growth(name))
            out.append(item)
        out.sort(key=lambda r: (-r["count"], r["class"]))
        return {
            "pid": os.getpid(),
            "time": now,
            "group_by": group,
            "history": hist is not None,
            "collected": collected,
            "partial": found.partial,
            "rows": out,
        }

    @_exposed
    def exposed_oldest(
        self, class_name: object, attrs: object = (), why: object = False, collect: object = False
    ) -> dict[str, Any]:
        name = wire.want_class_name(class_name, "CLASS")
        names = _attr_names(attrs)
        want_why = wire.want_bool(why, "--why")
        collected = _collect(wire.want_bool(collect, "--collect"))
        objects, untracked = _objects_of(name, most=1)
        now = time.time()
        if not objects:
            return {"class": name, "found": False, "collected": collected, **untracked}
        obj, created = objects[0]
        del objects
        result = describe.describe(obj, created, names, now)
        result["found"] = True
        result["collected"] = collected
        result.update(untracked)
        if want_why:
            from leakscope.target import census

            with self._walk("heap walk"):
                result["why"] = census.retention_path(obj)
        return result

    @_exposed
    def exposed_all(
        self, class_name: object, attrs: object = (), limit: object = 100, collect: object = False
    ) -> dict:
        name = wire.want_class_name(class_name, "CLASS")
        names = _attr_names(attrs)
        most = wire.want_int(limit, "--limit", low=1, high=100_000)
        collected = _collect(wire.want_bool(collect, "--collect"))
        objects, untracked = _objects_of(name, most=most)
        total = untracked.pop("total", len(objects))
        now = time.time()
        described = [describe.describe(o, c, names, now) for o, c in objects[:most]]
        del objects
        return {
            "class": name,
            "total": total,
            "collected": collected,
            "objects": described,
            **untracked,
        }

    @_exposed
    def exposed_heap(
        self,
        partition: object = "type",
        of: object = None,
        limit: object = 50,
        max_objects: object = None,
        backend: object = "builtin",
        collect: object = False,
    ) -> dict[str, Any]:
        part = wire.want_choice(partition, "partition", wire.PARTITIONS)
        of_type = wire.want_opt_str(of, "TYPE", max_len=256)
        most = wire.want_int(limit, "--limit", low=1, high=10_000)
        cap = wire.want_opt_int(max_objects, "--max-objects", low=1, high=10**10)
        engine = wire.want_choice(backend, "--backend", wire.BACKENDS)
        do_collect = wire.want_bool(collect, "--collect")
        if part in ("via", "referrer") and not of_type:
            raise wire.ArgumentRefused(f"--by-{part} needs a type name")
        from leakscope.target import census

        with self._walk("heap census"):
            collected = gc.collect() if do_collect else None
            result: dict[str, Any] = census.census(
                part, of=of_type, limit=most, max_objects=cap, backend=engine
            )
        result["pid"] = os.getpid()
        result["collected"] = do_collect
        result["collected_objects"] = collected
        return result

    @_exposed
    def exposed_memory(self, trim: object = False) -> dict[str, Any]:
        do_trim = wire.want_bool(trim, "--trim")
        from leakscope.target import memory

        figures = memory.memory_figures()
        trimmed = memory.trim() if do_trim else None
        hist = self._history
        samples = hist.samples() if hist is not None else []
        return {
            "pid": os.getpid(),
            "time": time.time(),
            "figures": figures,
            "trim": trimmed,
            "collected": False,  # the memory picture never runs the collector
            "samples": [_memory_sample(s) for s in samples[-120:]],
            "agent_loaded": getattr(self._agent, "loaded_at", None),
            "load_shift": getattr(self._agent, "load_shift", {}),
            "own_bytes": getattr(self._agent, "own_bytes", 0),
        }

    @_exposed
    def exposed_history(self, class_name: object = None, since_s: object = None) -> dict:
        name = wire.want_opt_str(class_name, "CLASS", max_len=256)
        since = None if since_s is None else wire.want_number(since_s, "--since", low=0, high=1e7)
        hist = self._history
        if hist is None:
            raise Refused(
                "unavailable", "history is off in this process (LEAKSCOPE_HISTORY_INTERVAL=0)"
            )
        out: dict[str, Any] = {
            "pid": os.getpid(),
            "interval_s": hist.interval_s,
            "collected": False,  # samples are read as they are
        }
        if name is None:
            out["samples"] = hist.samples(since)
            return out
        full = _history_name(hist, name)
        out["class"] = full
        out["samples"] = [{"t": t, "count": c} for t, c in hist.series(full, since)]
        return out

    @_exposed
    def exposed_dump_start(
        self, max_objects: object = 10_000_000, value_chars: object = 64
    ) -> dict:
        """Start streaming the object graph (see `leakscope.target.census.graph`)."""
        cap = wire.want_int(max_objects, "--max-objects", low=1, high=10**10)
        chars = wire.want_int(value_chars, "value_chars", low=0, high=1024)
        self._end_dump()
        from leakscope.target.census.graph import GraphDump

        walk = self._walk("heap dump")
        walk.__enter__()
        try:
            dump = GraphDump(cap, chars)
        except BaseException:
            walk.__exit__(None, None, None)
            raise
        self._dump = _DumpSession(dump, walk)
        return {"cursor": self._dump.cursor, "pid": os.getpid(), **dump.start()}

    @_exposed
    def exposed_dump_next(self, cursor: object) -> dict[str, Any]:
        """The next chunk of the dump started with ``dump_start`` on this connection."""
        token = wire.want_int(cursor, "cursor", low=0, high=2**62)
        session = self._dump
        if session is None or session.cursor != token:
            raise Refused("bad-argument", "no dump in progress with that cursor")
        if session.idle():
            self._end_dump()
            raise Refused("unavailable", "the dump waited too long for its client and was dropped")
        try:
            chunk = session.dump.next_chunk()
        except BaseException:
            self._end_dump()
            raise
        if chunk["done"]:
            self._end_dump()
        return chunk

    @_exposed
    def exposed_dump_stop(self, cursor: object = None) -> dict[str, Any]:
        """Drop the dump in progress (the client no longer wants it)."""
        if cursor is not None:
            wire.want_int(cursor, "cursor", low=0, high=2**62)
        self._end_dump()
        return {"stopped": True}

    @_exposed
    def exposed_trace_start(self, seconds: object = 60.0) -> dict[str, Any]:
        """Turn tracemalloc on until ``seconds`` from now at most (see `tracing`)."""
        deadline = wire.want_number(seconds, "--interval", low=0.1, high=86_400)
        from leakscope.target import tracing

        answer = tracing.start(deadline)
        if answer.get("token"):
            self._trace_token = int(answer["token"])
        return answer

    @_exposed
    def exposed_trace_stop(self) -> dict[str, Any]:
        """Turn off the tracemalloc session this connection started."""
        from leakscope.target import tracing

        stopped = tracing.stop(self._trace_token) if self._trace_token else False
        self._trace_token = 0
        return {"stopped": stopped}

    @_exposed
    def exposed_leak_sites(self, kinds: object, limit: object = 10) -> dict[str, Any]:
        """Creation sites of the live objects of these types (none: of every type with
        traced objects): tracemalloc's (objects made while it traced), else the registry's
        for tracked classes with sites on."""
        names = wire.want_str_tuple(kinds, "kinds", max_items=64, max_len=256)
        most = wire.want_int(limit, "--limit", low=1, high=1000)
        from leakscope.target import tracing
        from leakscope.target.census.kinds import resolve_type

        out: dict[str, Any] = {}
        classes: dict[str, type] = {}
        for kind in names:
            try:
                classes[kind] = resolve_type(kind)
            except Refused:
                continue
        with self._walk("site search"):
            found = tracing.sites(list(classes.values()), most)
        if not names:  # every type with traced objects
            from leakscope.target.census.kinds import type_kind

            classes = {type_kind(cls): cls for cls in found}
        for kind, cls in classes.items():
            rows, traced = found.get(cls, ([], 0))
            source = "tracemalloc" if rows else None
            if not rows:
                rows = _registry_sites(cls, most)
                source = "registry" if rows else None
            out[kind] = {"sites": rows, "traced": traced, "source": source}
        return {"pid": os.getpid(), "kinds": out}

    @_exposed
    def exposed_track(self, class_name: object, sites: object = False) -> dict[str, Any]:
        """Start tracking a class defined in Python (`leakscope track`)."""
        name = wire.want_class_name(class_name, "CLASS")
        with_sites = wire.want_bool(sites, "--sites")
        cls = _python_class(name)
        already = trackref.is_tracked_class(cls)
        if not already:
            try:
                trackref.track(cls)
            except TypeError as exc:
                raise Refused("bad-argument", str(exc)) from None
        if with_sites:
            trackref.set_track_sites(True)
        return {
            "pid": os.getpid(),
            "class": describe.qualified_name(cls),
            "tracked": trackref.is_tracked_class(cls),
            "already": already,
            "sites": trackref.track_sites(),
        }

    @_exposed
    def exposed_untrack(self, class_name: object) -> dict[str, Any]:
        """Stop tracking a class that `leakscope track` (or ``track()``) started tracking."""
        name = wire.want_class_name(class_name, "CLASS")
        cls = _python_class(name)
        if not trackref.untrack(cls):
            how = (
                "it subclasses object_ref (tracked by its source)"
                if trackref.is_tracked_class(cls)
                else "it is not tracked"
            )
            raise Refused("bad-argument", f"cannot untrack {describe.qualified_name(cls)}: {how}")
        return {"pid": os.getpid(), "class": describe.qualified_name(cls), "tracked": False}

    @_exposed
    def exposed_sites(self, on: object = None) -> dict[str, Any]:
        if on is not None:
            trackref.set_track_sites(wire.want_bool(on, "on"))
        return {"pid": os.getpid(), "sites": trackref.track_sites()}


# -- helpers over the collectors ----------------------------------------------


def _collect(asked: bool) -> bool:
    """Run the cyclic collector only when the client asked (--collect): it can hide a leak."""
    if asked:
        gc.collect()
    return asked


class _OneWalk:
    """One heavy walk at a time ("busy" after `CENSUS_WAIT_S`), and what it costs the process.

    A walk's lists and sets are freed when it ends, but the allocators keep
    most of that memory: the RSS it added is booked as the agent's own
    (``agent.own_bytes``), so the memory verdict does not call it the
    program's growth. (Growth of the program during the walk is booked too: a
    small error on the safe side.)
    """

    def __init__(self, what: str, agent: Any) -> None:
        self.what = what
        self.agent = agent
        self.lock = _census_lock
        self.rss_before: int | None = None

    def __enter__(self) -> None:
        from leakscope.target.memory import rss

        if not self.lock.acquire(timeout=CENSUS_WAIT_S):
            raise Refused(
                "busy", f"another {self.what} is running in this process; try again shortly"
            )
        self.rss_before = rss()

    def __exit__(self, *exc: object) -> None:
        from leakscope.target.memory import rss

        try:
            after = rss()
            if self.agent is not None and after is not None and self.rss_before is not None:
                self.agent.own_bytes += max(0, after - self.rss_before)
        finally:
            self.lock.release()


def _python_class(name: str) -> type:
    """The class of that name, if it is written in Python (a heap type, not a builtin)."""
    from leakscope.target.census.kinds import resolve_type

    cls = resolve_type(name)
    if not vars(type)["__flags__"].__get__(cls) & (1 << 9):  # Py_TPFLAGS_HEAPTYPE
        raise Refused(
            "bad-argument",
            f"{describe.qualified_name(cls)} is a builtin or C type; only classes written "
            "in Python can be tracked",
        )
    return cls


def _registry_sites(cls: type, most: int) -> list[dict[str, Any]]:
    """Creation sites the registry recorded for a tracked class (sites on)."""
    counts: dict[str, int] = {}
    for stat in trackref.class_stats(group_by="site"):
        if stat.cls is cls and stat.group:
            counts[stat.group] = counts.get(stat.group, 0) + stat.count
    ranked = sorted(counts.items(), key=lambda item: -item[1])[:most]
    return [{"site": site, "function": "", "count": count} for site, count in ranked]


class _DumpSession:
    """A dump suspended between calls: its walk, and the heavy-walk slot it holds.

    Dropped (`end`) when the dump is done, when the client stops it or disconnects (the
    agent closes idle connections after its idle timeout), or at the next call after
    `leakscope.target.census.graph.IDLE_S` seconds without one.
    """

    _next_cursor = 1

    def __init__(self, dump: Any, walk: _OneWalk) -> None:
        self.dump = dump
        self.walk = walk
        self.cursor = _DumpSession._next_cursor
        _DumpSession._next_cursor += 1
        self._ended = False

    def idle(self) -> bool:
        from leakscope.target.census.graph import IDLE_S

        return time.monotonic() - self.dump.touched > IDLE_S

    def end(self) -> None:
        if self._ended:
            return
        self._ended = True
        try:
            self.dump.close()
        finally:
            self.dump = None
            self.walk.__exit__(None, None, None)


def _history_name(hist: Any, name: str) -> str:
    known = set(hist.class_names())
    if name in known:
        return name
    matches = sorted(k for k in known if k.rsplit(".", 1)[-1] == name)
    if matches:
        return matches[0]
    raise _unknown_class(name, known)


def _memory_sample(sample: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in sample.items() if k != "counts"}
