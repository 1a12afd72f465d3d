"""Creation sites: the ``file:line`` of the first frame outside leakscope and the stdlib.

Walking the stack on every creation makes creating a tracked object several
times slower, so sites are off unless asked for (``leakscope sites on``,
``LEAKSCOPE_TRACK_SITES=1``); `leakscope.target.registry.tracking` decides
when to call `creation_site`. Site strings are interned per (file, line), so
a million objects made on one line share one string.
"""

from __future__ import annotations

import os
import sys
import sysconfig


def _internal_prefixes() -> tuple[tuple[str, ...], tuple[str, ...]]:
    paths = sysconfig.get_paths()
    stdlib = {os.path.realpath(paths[k]) for k in ("stdlib", "platstdlib") if k in paths}
    third = {os.path.realpath(paths[k]) for k in ("purelib", "platlib") if k in paths}
    # leakscope's in-process code (the demo programs outside it are user code).
    here = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
    internal = tuple(p + os.sep for p in stdlib) + (here + os.sep,)
    return internal, tuple(p + os.sep for p in third)


_INTERNAL, _THIRD_PARTY = _internal_prefixes()
_file_is_internal: dict[str, bool] = {}
#: (file, line) -> "file:line", shared by every object made there.
site_names: dict[tuple[str, int], str] = {}


def _is_internal(filename: str) -> bool:
    if filename.startswith("<frozen"):
        return True
    path = os.path.realpath(filename) if filename.startswith(os.sep) else filename
    if path.startswith(_THIRD_PARTY) and not path.startswith(_INTERNAL[-1]):
        return False
    return path.startswith(_INTERNAL)


def creation_site(depth: int = 1) -> str:
    """``file:line`` of the first caller (from *depth* up) outside leakscope and the stdlib."""
    frame = sys._getframe(depth)
    while frame is not None:
        filename = frame.f_code.co_filename
        internal = _file_is_internal.get(filename)
        if internal is None:
            internal = _file_is_internal[filename] = _is_internal(filename)
        if not internal:
            key = (filename, frame.f_lineno)
            site = site_names.get(key)
            if site is None:
                site = site_names.setdefault(key, f"{filename}:{frame.f_lineno}")
            return site
        frame = frame.f_back  # type: ignore[assignment]
    return "?"
