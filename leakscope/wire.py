"""What may cross the socket between the agent and a client.

The rules (DESIGN.md, "Wire rules"):

* Arguments are plain values only: str, int, float, bool, None, and tuples of
  them. They are checked with exact ``type(x) is ...`` tests, never
  ``isinstance``: on an RPyC netref, ``isinstance`` would ask the client for its
  ``__class__`` — already a call back into the client.
* Every answer is one JSON string. RPyC passes lists and dicts by reference
  (one round trip per element, and a handle into the target); a string is one
  frame and holds no reference to anything.
* Frames are bounded, so a hostile peer cannot make the agent buffer or
  decompress without limit.

It also holds the other facts both sides must agree on: where an agent puts
its socket (`socket_dir`, `check_directory`), the protocol and leakscope
versions of the handshake, and the names of partitions, census engines and
``--group-by`` keys a client may ask for.

This module is imported on both sides (it is the only one) and imports
nothing heavy.
"""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path
from typing import Any

#: This leakscope's version (``leakscope.__version__``); the handshake reports it.
VERSION = "0.1.0"

#: Bumped whenever a method, an argument or an answer changes incompatibly.
PROTOCOL_VERSION = 1

#: Ways a census partitions the heap, and the engines that can do it.
PARTITIONS = ("type", "via", "referrer", "module", "size")
BACKENDS = ("builtin", "guppy", "muppy")

#: ``--group-by`` keys: name -> what it groups by. ``owner`` and ``site`` are
#: recorded when an object is made; ``spider`` and ``domain`` are read from it.
GROUP_KEYS: dict[str, str] = {
    "owner": "the leakscope.owner(...) current when the object was made",
    "site": "file:line that created the object (sites must be on)",
    "spider": "the Scrapy spider that owns the request/response",
    "domain": "the host of the request/response URL",
}
RECORDED_GROUP_KEYS = ("owner", "site")

#: Largest frame the agent reads; requests are tiny, so 1 MiB is generous.
MAX_FRAME_BYTES = 1 << 20
#: Largest size a compressed frame may inflate to.
MAX_INFLATED_BYTES = 4 << 20
#: Longest string argument (class names, attribute names, group keys).
MAX_STR = 512
#: Most items in a tuple argument (--ignore, --attr).
MAX_ITEMS = 64

_SPECIAL_PART = re.compile(r"<\w+>\Z")  # "<locals>" in a qualified name

#: RPyC configuration of the agent: nothing but exposed_ methods is reachable,
#: no pickling, no attribute writes, no remote exception classes, and no
#: local tracebacks or version strings sent to the client.
AGENT_RPYC_CONFIG: dict[str, Any] = {
    "allow_safe_attrs": False,
    "allow_exposed_attrs": True,
    "allow_public_attrs": False,
    "allow_all_attrs": False,
    "allow_getattr": True,
    "allow_setattr": False,
    "allow_delattr": False,
    "allow_pickle": False,
    "import_custom_exceptions": False,
    "instantiate_custom_exceptions": False,
    "instantiate_oldstyle_exceptions": False,
    "propagate_SystemExit_locally": False,
    "propagate_KeyboardInterrupt_locally": False,
    "include_local_traceback": False,
    "include_local_version": False,
    "log_exceptions": False,
    "sync_request_timeout": 30,
}

#: RPyC configuration of the client: it exposes nothing to the agent either.
CLIENT_RPYC_CONFIG: dict[str, Any] = {
    **AGENT_RPYC_CONFIG,
    "allow_exposed_attrs": False,
    "allow_getattr": False,
}


class ArgumentRefused(ValueError):
    """An argument that is not a plain value of the expected shape."""


def want_str(value: object, name: str, *, max_len: int = MAX_STR) -> str:
    """Return *value* if it is a str of at most *max_len* characters."""
    if type(value) is not str:
        raise ArgumentRefused(f"{name} must be a string")
    if len(value) > max_len:
        raise ArgumentRefused(f"{name} is longer than {max_len} characters")
    return value


def want_opt_str(value: object, name: str, *, max_len: int = MAX_STR) -> str | None:
    """Return *value* if it is None or a short str."""
    if value is None:
        return None
    return want_str(value, name, max_len=max_len)


def want_int(value: object, name: str, *, low: int, high: int) -> int:
    """Return *value* if it is an int (not a bool) within [low, high]."""
    if type(value) is not int:
        raise ArgumentRefused(f"{name} must be an integer")
    if not low <= value <= high:
        raise ArgumentRefused(f"{name} must be between {low} and {high}")
    return value


def want_opt_int(value: object, name: str, *, low: int, high: int) -> int | None:
    """Return *value* if it is None or an int within [low, high]."""
    if value is None:
        return None
    return want_int(value, name, low=low, high=high)


def want_number(value: object, name: str, *, low: float, high: float) -> float:
    """Return *value* as a float if it is an int or float within [low, high]."""
    if type(value) is not int and type(value) is not float:
        raise ArgumentRefused(f"{name} must be a number")
    if not low <= value <= high:  # also refuses NaN
        raise ArgumentRefused(f"{name} must be between {low} and {high}")
    return float(value)


def want_choice(value: object, name: str, choices: tuple[str, ...]) -> str:
    """Return *value* if it is one of the strings in *choices*."""
    text = want_str(value, name, max_len=64)
    if text not in choices:
        raise ArgumentRefused(f"{name} must be one of {', '.join(choices)}, not {text!r}")
    return text


def want_bool(value: object, name: str) -> bool:
    """Return *value* if it is exactly True or False."""
    if type(value) is not bool:
        raise ArgumentRefused(f"{name} must be true or false")
    return value


def want_str_tuple(
    value: object, name: str, *, max_items: int = MAX_ITEMS, max_len: int = MAX_STR
) -> tuple[str, ...]:
    """Return *value* if it is a short tuple of short strings."""
    if type(value) is not tuple:
        raise ArgumentRefused(f"{name} must be a tuple of strings")
    if len(value) > max_items:
        raise ArgumentRefused(f"{name} has more than {max_items} items")
    return tuple(want_str(item, name, max_len=max_len) for item in value)


def want_identifier(value: object, name: str) -> str:
    """Return *value* if it is a plain attribute name (any script), not a dunder."""
    text = want_str(value, name, max_len=128)
    if not text.isidentifier() or text.startswith("__"):
        raise ArgumentRefused(f"{name} {text!r} is not a plain attribute name")
    return text


def want_class_name(value: object, name: str) -> str:
    """Return *value* if it looks like a (possibly dotted) class name, in any script."""
    text = want_str(value, name, max_len=256)
    parts = text.split(".")
    if not all(p.isidentifier() or _SPECIAL_PART.match(p) for p in parts):
        raise ArgumentRefused(f"{name} {text!r} is not a class name")
    return text


def answer(data: object) -> str:
    """Encode a successful answer as the one JSON string that crosses the wire."""
    return json.dumps({"ok": data}, separators=(",", ":"), default=str)


def failure(code: str, message: str, **extra: object) -> str:
    """Encode a refusal or failure; *code* is a short stable slug."""
    return json.dumps({"error": {"code": code, "message": message, **extra}}, default=str)


def decode(text: object) -> dict[str, Any]:
    """Parse an answer on the client side; anything but a JSON object string is refused."""
    if type(text) is not str:
        raise ArgumentRefused("the agent answered with something other than a string")
    data = json.loads(text)
    if type(data) is not dict:
        raise ArgumentRefused("the agent answered with something other than a JSON object")
    return data


# -- where agents put their sockets ------------------------------------------------

SOCKET_SUFFIX = ".sock"


class UnsafeDirectory(Exception):
    """A socket directory that someone else owns or others can enter."""


def socket_dir(uid: int | None = None, environ: dict[str, str] | None = None) -> Path:
    """The directory an agent of *uid* with environment *environ* uses.

    ``LEAKSCOPE_SOCKET_DIR`` if set, else ``$XDG_RUNTIME_DIR/leakscope`` when that
    directory exists, else ``/tmp/leakscope-<uid>``.
    """
    env = os.environ if environ is None else environ
    uid = os.getuid() if uid is None else uid
    override = env.get("LEAKSCOPE_SOCKET_DIR")
    if override:
        return Path(override)
    runtime = env.get("XDG_RUNTIME_DIR")
    if runtime and os.path.isdir(runtime):
        return Path(runtime) / "leakscope"
    return Path(f"/tmp/leakscope-{uid}")


def check_directory(path: Path, uid: int) -> None:
    """Raise UnsafeDirectory unless *path* is a private directory owned by *uid*."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        raise UnsafeDirectory(f"{path} does not exist") from None
    if not stat.S_ISDIR(info.st_mode):
        raise UnsafeDirectory(f"{path} is not a directory (a link or a file is in its place)")
    if info.st_uid != uid:
        raise UnsafeDirectory(f"{path} belongs to uid {info.st_uid}, not {uid}")
    if info.st_mode & 0o077:
        raise UnsafeDirectory(
            f"{path} has mode {stat.S_IMODE(info.st_mode):04o}; "
            "it must be 0700 (no group/other access)"
        )
