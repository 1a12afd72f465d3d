"""Owners: ``with leakscope.owner("tenant-42"):`` attributes the tracked objects made inside.

An owner is a small int in a context variable, so it follows each thread's
own context and each asyncio task, and creating an object inside an owner
costs the same as outside (the creation path indexes a list by that int).
"""

from __future__ import annotations

import contextvars
import functools
import inspect
from collections.abc import Callable
from typing import Any

from leakscope.target.registry.records import LOCKS

#: Owner index -> name; index 0 is "no owner".
owner_names: list[str | None] = [None]
_owner_ids: dict[str, int] = {}
owner_var: contextvars.ContextVar[int] = contextvars.ContextVar("leakscope_owner", default=0)


def owner_id(name: str) -> int:
    """The index of owner *name*, made on first use."""
    index = _owner_ids.get(name)
    if index is None:
        with LOCKS.names:
            index = _owner_ids.get(name)
            if index is None:
                owner_names.append(name)
                index = _owner_ids[name] = len(owner_names) - 1
    return index


class owner:
    """Attribute objects created inside to an owner: ``with owner("spider1"):``,
    ``async with owner(...)``, or ``@owner("name")`` on a sync or async function.

    Built on contextvars, so it follows each thread's own context and each
    asyncio task. Objects created outside any owner have owner None. One
    ``owner`` object used with ``with`` belongs to one thread or task at a
    time; the decorator form is safe everywhere.
    """

    __slots__ = ("name", "_index", "_tokens")

    def __init__(self, name: str) -> None:
        if type(name) is not str or not name:
            raise TypeError("owner name must be a non-empty str")
        self.name = name
        self._index = owner_id(name)
        self._tokens: list[contextvars.Token[int]] = []

    def __enter__(self) -> owner:
        self._tokens.append(owner_var.set(self._index))
        return self

    def __exit__(self, *exc: object) -> None:
        owner_var.reset(self._tokens.pop())

    async def __aenter__(self) -> owner:
        return self.__enter__()

    async def __aexit__(self, *exc: object) -> None:
        self.__exit__()

    def __call__(self, func: Callable[..., Any]) -> Callable[..., Any]:
        if inspect.isgeneratorfunction(func) or inspect.isasyncgenfunction(func):
            # A generator shares its caller's context: setting the owner
            # there would leak it to the caller between yields.
            raise TypeError("owner() cannot decorate a generator function")
        index = self._index
        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def run_async(*args: Any, **kwargs: Any) -> Any:
                token = owner_var.set(index)
                try:
                    return await func(*args, **kwargs)
                finally:
                    owner_var.reset(token)

            return run_async

        @functools.wraps(func)
        def run(*args: Any, **kwargs: Any) -> Any:
            token = owner_var.set(index)
            try:
                return func(*args, **kwargs)
            finally:
                owner_var.reset(token)

        return run

    def __repr__(self) -> str:
        return f"owner({self.name!r})"
