"""Descriptions of target objects: what may leave the process instead of the object.

An object never crosses the wire. What does is a description: its class, its
id, its age, a bounded repr and the attributes the user asked for, each as a
bounded repr. ``repr`` and ``getattr`` run the object's own code, so every step
is guarded: a failing ``__repr__`` or property yields a placeholder, not an
error in the agent.
"""

from __future__ import annotations

import difflib
import reprlib
import time
from collections.abc import Iterable
from typing import Any

MAX_REPR = 300

_repr = reprlib.Repr()
_repr.maxstring = MAX_REPR
_repr.maxother = MAX_REPR
_repr.maxlist = _repr.maxtuple = _repr.maxdict = _repr.maxset = 8
_repr.maxlevel = 3


def qualified_name(cls: type) -> str:
    """``module.QualName`` of a class (just the name for builtins)."""
    module = getattr(cls, "__module__", None) or "?"
    name = str(getattr(cls, "__qualname__", None) or getattr(cls, "__name__", "?"))
    return name if module == "builtins" else f"{module}.{name}"


def close_names(name: str, known: Iterable[str]) -> list[str]:
    """Up to three known class names (short or dotted) that look like *name*."""
    names = set(known)
    names |= {n.rsplit(".", 1)[-1] for n in names}
    return difflib.get_close_matches(name, sorted(names), n=3)


def safe_repr(obj: object) -> str:
    """A repr of *obj* no longer than MAX_REPR characters that never raises."""
    try:
        text = _repr.repr(obj)
    except BaseException as exc:  # a __repr__ raising SystemExit too: it is the host's code
        name = qualified_name(type(obj))
        text = f"<{name} object at {id(obj):#x}; repr failed: {type(exc).__name__}>"
    if len(text) > MAX_REPR:
        text = text[: MAX_REPR - 3] + "..."
    return text


_MISSING = object()


def describe(
    obj: object, created: float | None, attrs: tuple[str, ...] = (), now: float | None = None
) -> dict[str, Any]:
    """Plain-data description of one object: class, id, age, repr, chosen attributes."""
    now = time.time() if now is None else now
    values: dict[str, str] = {}
    for name in attrs:
        try:
            value = getattr(obj, name, _MISSING)
        except BaseException as exc:  # as in safe_repr
            values[name] = f"<error: {type(exc).__name__}>"
            continue
        values[name] = "<no such attribute>" if value is _MISSING else safe_repr(value)
    return {
        "class": qualified_name(type(obj)),
        "id": id(obj),
        "age_s": None if created is None else round(max(0.0, now - created), 3),
        "repr": safe_repr(obj),
        "attrs": values,
    }
