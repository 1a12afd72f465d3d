"""`Client`: one agent, asked in typed calls, whatever the transport.

A transport (`leakscope.client.local.LocalTransport`, on this host;
`leakscope.client.remote.RemoteTransport`, through ssh/kubectl/docker) moves
one call and its JSON answer. `Client` names the calls and their arguments
once, and turns every answer into the typed report of
`leakscope.client.reports`, so commands never build argument lists or read
the target's key names. Use it as a context manager.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from leakscope.client import reports
from leakscope.client.errors import ExitCode, LeakscopeError

if TYPE_CHECKING:  # the report modules load on first use (see leakscope.client.reports)
    from leakscope.client.reports import (
        HeapReport,
        Hello,
        HistoryReport,
        HistoryTable,
        MemoryAnswer,
        MemoryReport,
        ObjectInfo,
        ObjectsReport,
        PrefsReport,
        SitesReport,
        TrackAnswer,
    )


class Transport(Protocol):
    """How a call reaches an agent and its answer comes back."""

    @property
    def pid(self) -> int: ...

    @property
    def hello(self) -> dict[str, Any]: ...

    def call(self, method: str, args: tuple[object, ...], timeout: float) -> Any: ...

    def close(self) -> None: ...


class Client:
    """Typed calls to one agent."""

    def __init__(self, transport: Transport, timeout: float) -> None:
        self.transport = transport
        self.timeout = timeout

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the transport (never raises)."""
        self.transport.close()

    @property
    def pid(self) -> int:
        """The target's PID."""
        return self.transport.pid

    @property
    def hello(self) -> Hello:
        """The agent's handshake."""
        return self._typed(reports.Hello.from_json, self.transport.hello)

    def call(self, method: str, *args: object, timeout: float | None = None) -> Any:
        """A raw call: the answer's JSON payload (for `leakscope _call` and tests)."""
        return self.transport.call(method, args, timeout or self.timeout)

    def _typed(self, make: Any, data: Any) -> Any:
        try:
            return make(data)
        except reports.MalformedReport as exc:
            raise LeakscopeError(
                ExitCode.INCOMPATIBLE,
                f"the agent of process {self.transport.pid} answered in an unknown shape: {exc}",
            ) from None

    # -- the calls ------------------------------------------------------------------

    def prefs(
        self, ignore: tuple[str, ...] = (), group_by: str | None = None, collect: bool = False
    ) -> PrefsReport:
        """Live tracked objects per class (and group)."""
        report: PrefsReport = self._typed(
            reports.PrefsReport.from_json, self.call("prefs", tuple(ignore), group_by, collect)
        )
        return report

    def oldest(
        self, cls: str, attrs: tuple[str, ...] = (), why: bool = False, collect: bool = False
    ) -> ObjectInfo | None:
        """The oldest live object of a tracked class (None when it has none alive)."""
        data = self.call("oldest", cls, tuple(attrs), why, collect)
        if not data.get("found"):
            return None
        found: ObjectInfo = self._typed(reports.ObjectInfo.from_json, data)
        return found

    def all(
        self, cls: str, attrs: tuple[str, ...] = (), limit: int = 100, collect: bool = False
    ) -> ObjectsReport:
        """The live objects of a tracked class, oldest first."""
        report: ObjectsReport = self._typed(
            reports.ObjectsReport.from_json, self.call("all", cls, tuple(attrs), limit, collect)
        )
        return report

    def heap(
        self,
        partition: str = "type",
        of: str | None = None,
        limit: int = 50,
        max_objects: int | None = None,
        backend: str = "builtin",
        collect: bool = False,
    ) -> HeapReport:
        """A census of the heap, partitioned one way."""
        data = self.call("heap", partition, of, limit, max_objects, backend, collect)
        report: HeapReport = self._typed(reports.HeapReport.from_json, data)
        return report

    def memory(self, trim: bool = False) -> MemoryReport:
        """The memory picture, with the verdict judged here from the agent's figures."""
        from leakscope.client.analysis.verdict import judge

        answer: MemoryAnswer = self._typed(
            reports.MemoryAnswer.from_json, self.call("memory", trim)
        )
        return reports.MemoryReport(
            pid=answer.pid,
            figures=answer.figures,
            verdict=judge(answer),
            trim=answer.trim,
            samples=answer.samples,
        )

    def history(self, cls: str, since_s: float | None = None) -> HistoryReport:
        """The agent's samples of one class's count."""
        report: HistoryReport = self._typed(
            reports.HistoryReport.from_json, self.call("history", cls, since_s)
        )
        return report

    def history_table(self, since_s: float | None = None) -> HistoryTable:
        """The agent's whole history: memory figures and every class's count, per sample."""
        table: HistoryTable = self._typed(
            reports.HistoryTable.from_json, self.call("history", None, since_s)
        )
        return table

    def sites(self, on: bool | None = None) -> SitesReport:
        """Turn creation sites on or off (None: leave them), and say which they are."""
        report: SitesReport = self._typed(reports.SitesReport.from_json, self.call("sites", on))
        return report

    # -- tracking a class, creation sites (leakscope track / untrack / leaks --sites) -----

    def track(self, cls: str, sites: bool = False) -> TrackAnswer:
        """Start tracking a class written in Python (ages and, with sites, creation sites)."""
        answer: TrackAnswer = self._typed(
            reports.TrackAnswer.from_json, self.call("track", cls, sites)
        )
        return answer

    def untrack(self, cls: str) -> TrackAnswer:
        """Stop tracking a class that `track` started tracking."""
        answer: TrackAnswer = self._typed(reports.TrackAnswer.from_json, self.call("untrack", cls))
        return answer

    def trace_start(self, seconds: float) -> bool:
        """Turn tracemalloc on in the target for at most *seconds* (its own deadline);
        False if the program traces already (it is then left as it is)."""
        answer = self.call("trace_start", float(seconds))
        return isinstance(answer, dict) and not answer.get("already", False)

    def trace_stop(self) -> None:
        """Turn off the tracemalloc session this connection started."""
        self.call("trace_stop")

    def leak_sites(self, kinds: tuple[str, ...], limit: int = 10) -> dict[str, Any]:
        """{kind: {"sites": [{"site", "function", "count"}], "source", "traced"}}."""
        answer = self.call("leak_sites", tuple(kinds), limit)
        found = answer.get("kinds") if isinstance(answer, dict) else None
        return found if isinstance(found, dict) else {}
