"""Processes and handshakes: an agent's hello, ``ps``, ``attach``, ``track``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from leakscope.client.reports.fields import as_int, as_str, need, opt_float, opt_int, opt_str


@dataclass(frozen=True)
class Hello:
    """An agent's handshake: who it is and what it runs."""

    protocol: int
    version: str
    pid: int
    ppid: int | None = None
    python: str = "?"
    executable: str = ""
    argv: tuple[str, ...] = ()
    started: float | None = None
    socket: str | None = None
    scrapy: bool = False
    sites: bool = False

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Hello:
        return cls(
            protocol=as_int(need(data, "protocol"), "protocol"),
            version=str(data.get("version", "?")),
            pid=as_int(need(data, "pid"), "pid"),
            ppid=opt_int(data.get("ppid"), "ppid"),
            python=str(data.get("python", "?")),
            executable=str(data.get("executable", "")),
            argv=tuple(str(a) for a in data.get("argv") or ()),
            started=opt_float(data.get("started"), "started"),
            socket=opt_str(data.get("socket"), "socket"),
            scrapy=bool(data.get("scrapy", False)),
            sites=bool(data.get("sites", False)),
        )


@dataclass(frozen=True)
class AgentInfo:
    """One agent-bearing process, as `leakscope ps` lists it."""

    pid: int
    name: str
    python: str
    socket: str
    ppid: int | None = None
    argv: tuple[str, ...] = ()
    role: str = ""

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AgentInfo:
        ppid = data.get("ppid")
        return cls(
            pid=as_int(need(data, "pid"), "pid"),
            name=str(data.get("name", "?")),
            python=str(data.get("python", "?")),
            socket=str(data.get("socket", "")),
            ppid=ppid if type(ppid) is int else None,
            argv=tuple(str(a) for a in data.get("argv") or ()),
            role=str(data.get("role", "")),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "pid": self.pid,
            "name": self.name,
            "python": self.python,
            "socket": self.socket,
            "ppid": self.ppid,
            "role": self.role,
            "argv": list(self.argv),
        }


@dataclass(frozen=True)
class AttachResult:
    """The outcome of `attach` or `detach`, as shown to the user."""

    pid: int
    action: str  # "start" or "stop"
    via: str  # mechanism used, or "none" when nothing had to be done
    route: str  # "direct", "pending", "remote-exec" or "none"
    socket: str | None
    python: str | None
    seconds: float
    already: bool = False  # the agent was already running (attach) or absent (detach)
    warnings: tuple[str, ...] = ()
    tried: tuple[str, ...] = field(default=())  # mechanisms skipped, with the reason

    def to_json(self) -> dict[str, object]:
        return {
            "pid": self.pid,
            "action": self.action,
            "via": self.via,
            "route": self.route,
            "socket": self.socket,
            "python": self.python,
            "seconds": round(self.seconds, 3),
            "already": self.already,
            "warnings": list(self.warnings),
            "tried": list(self.tried),
        }


@dataclass(frozen=True)
class AgentList:
    """``leakscope ps``: the agents found, and socket directories refused as unsafe."""

    agents: tuple[AgentInfo, ...]
    refused: tuple[str, ...] = ()

    def to_json(self) -> list[dict[str, Any]]:
        return [a.to_json() for a in self.agents]


@dataclass(frozen=True)
class TrackAnswer:
    """`leakscope track` / `untrack`: the class and whether it is tracked now."""

    pid: int
    cls: str
    tracked: bool
    already: bool = False
    sites: bool = False

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TrackAnswer:
        return cls(
            pid=as_int(data.get("pid", 0), "pid"),
            cls=as_str(need(data, "class"), "class"),
            tracked=bool(data.get("tracked", False)),
            already=bool(data.get("already", False)),
            sites=bool(data.get("sites", False)),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "pid": self.pid,
            "class": self.cls,
            "tracked": self.tracked,
            "already": self.already,
            "sites": self.sites,
        }
