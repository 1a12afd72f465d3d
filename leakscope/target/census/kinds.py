"""How a census names a type: the way guppy3 does, so the two read alike.

Builtins reachable from the ``builtins`` module keep their bare name (``dict``,
``str``); other types of the interpreter core take their public alias in the
``types`` module (``types.CodeType``) or else ``builtins.<name>``; every other
type is ``<module>.<qualname>`` (``myapp.models.Cache``). Reading ``__module__``
and ``__qualname__`` of a type never runs user code: both are stored in the
type itself.
"""

from __future__ import annotations

import builtins
import types

from leakscope.target import Refused
from leakscope.target.describe import close_names

_BUILTIN_ALIASES: dict[type, str] | None = None


def _aliases() -> dict[type, str]:
    global _BUILTIN_ALIASES
    if _BUILTIN_ALIASES is None:
        found: dict[type, str] = {}
        for name, value in vars(types).items():
            if isinstance(value, type) and not name.startswith("_"):
                found.setdefault(value, "types." + name)
        for name, value in vars(builtins).items():
            if isinstance(value, type):
                found[value] = name
        _BUILTIN_ALIASES = found
    return _BUILTIN_ALIASES


def type_kind(cls: type) -> str:
    """Name of a type as census rows show it (``dict``, ``types.CodeType``, ``myapp.Cache``)."""
    try:
        module = type.__dict__["__module__"].__get__(cls)
        qualname = type.__dict__["__qualname__"].__get__(cls)
    except Exception:
        return "<unnamed type>"
    if module == "builtins":
        alias = _aliases().get(cls)
        return alias if alias is not None else f"builtins.{qualname}"
    return f"{module}.{qualname}"


def type_module(cls: type) -> str:
    """Name of the module that defines a type (``builtins`` for the core ones)."""
    try:
        module = type.__dict__["__module__"].__get__(cls)
    except Exception:
        return "<unknown>"
    return module if isinstance(module, str) else "<unknown>"


def kind_matches(cls: type, wanted: str) -> bool:
    """True if ``wanted`` names ``cls``: its full kind, its qualname or its bare name."""
    if wanted == type_kind(cls):
        return True
    try:
        qualname = type.__dict__["__qualname__"].__get__(cls)
        name = type.__dict__["__name__"].__get__(cls)
    except Exception:
        return False
    return wanted in (qualname, name)


def all_types() -> list[type]:
    """Every type that exists, walked down ``type.__subclasses__`` from ``object``."""
    found: dict[int, type] = {id(object): object}
    todo: list[type] = [object]
    subclasses = type.__dict__["__subclasses__"]
    while todo:
        cls = todo.pop()
        try:
            children = subclasses(cls)
        except Exception:
            continue
        for child in children:
            if id(child) not in found:
                found[id(child)] = child
                todo.append(child)
    return list(found.values())


def resolve_type(wanted: str) -> type:
    """The type named ``wanted`` (full kind, qualname or bare name).

    Refuses (`leakscope.target.Refused`) a name no type or several types have.
    """
    candidates = all_types()
    exact = [cls for cls in candidates if type_kind(cls) == wanted]
    if len(exact) == 1:
        return exact[0]
    loose = exact or [cls for cls in candidates if kind_matches(cls, wanted)]
    if len(loose) == 1:
        return loose[0]
    if not loose:
        close = close_names(wanted, map(type_kind, candidates))
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise Refused(
            "unknown-class", f"no type named {wanted!r} in this process{hint}", suggestions=close
        )
    names = ", ".join(sorted({type_kind(cls) for cls in loose})[:5])
    raise Refused(
        "bad-argument", f"type name {wanted!r} is ambiguous ({len(loose)} types): {names}"
    )
