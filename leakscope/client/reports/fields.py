"""Reading the fields of an answer: each reader refuses a wrong shape with
`MalformedReport`, naming the field."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class MalformedReport(ValueError):
    """A document that does not have the shape of the report it should be."""


def need(data: Mapping[str, Any], key: str) -> Any:
    """data[key], or `MalformedReport` when it is missing."""
    try:
        return data[key]
    except (KeyError, TypeError):
        raise MalformedReport(f"missing {key!r}") from None


def as_int(value: Any, what: str) -> int:
    """An int (not a bool)."""
    if type(value) is bool or not isinstance(value, int):
        raise MalformedReport(f"{what} is not an integer: {value!r:.40}")
    return value


def opt_int(value: Any, what: str) -> int | None:
    """An int, or None."""
    return None if value is None else as_int(value, what)


def as_float(value: Any, what: str) -> float:
    """A number (int or float, not a bool), as a float."""
    if type(value) is bool or not isinstance(value, (int, float)):
        raise MalformedReport(f"{what} is not a number: {value!r:.40}")
    return float(value)


def opt_float(value: Any, what: str) -> float | None:
    """A number as a float, or None."""
    return None if value is None else as_float(value, what)


def as_str(value: Any, what: str) -> str:
    """A str."""
    if not isinstance(value, str):
        raise MalformedReport(f"{what} is not a string: {value!r:.40}")
    return value


def opt_str(value: Any, what: str) -> str | None:
    """A str, or None."""
    return None if value is None else as_str(value, what)


def as_mapping(value: Any, what: str) -> Mapping[str, Any]:
    """A JSON object."""
    if not isinstance(value, Mapping):
        raise MalformedReport(f"{what} is not an object")
    return value


def as_list(value: Any, what: str) -> list[Any]:
    """A JSON array."""
    if not isinstance(value, list):
        raise MalformedReport(f"{what} is not a list")
    return value
