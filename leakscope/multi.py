"""Asking several agents at once (``--all``, ``--pid P --pid Q``) and merging the answers.

Connections run in parallel threads, so eight processes cost about as much as
one. A process that exits (or refuses) mid-query is reported as gone with its
reason; the others' answers are still merged and shown.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from leakscope.errors import ExitCode, LeakscopeError


@dataclass
class Fanout:
    """Answers by PID, and the PIDs that could not answer with the reason."""

    answers: dict[int, Any] = field(default_factory=dict)
    gone: dict[int, str] = field(default_factory=dict)


def target_pids(pids: tuple[int, ...], all_agents: bool) -> list[int]:
    """The PIDs to ask: the given ones, or every agent-bearing process with --all."""
    if all_agents:
        from leakscope import client

        prefix = client.remote_prefix()
        if prefix is not None:
            from leakscope.integrations.remote import list_agents as remote_agents

            found = [a.pid for a in remote_agents(prefix)]
        else:
            from leakscope import discovery

            found = [s.pid for s in discovery.list_sockets(all_users=os.getuid() == 0)]
        if not found:
            raise LeakscopeError(
                ExitCode.NONE_FOUND, "--all: no process with a leakscope agent found"
            )
        return found
    return list(dict.fromkeys(pids))


def run_each(pids: list[int], work: Callable[[int], Any]) -> Fanout:
    """Run *work(pid)* for every PID in parallel; a LeakscopeError marks that PID gone."""

    def one(pid: int) -> tuple[int, Any, str | None]:
        try:
            return pid, work(pid), None
        except LeakscopeError as exc:
            return pid, None, exc.message

    result = Fanout()
    with ThreadPoolExecutor(max_workers=min(16, max(1, len(pids)))) as pool:
        for pid, answer, error in pool.map(one, pids):
            if error is None:
                result.answers[pid] = answer
            else:
                result.gone[pid] = error
    if not result.answers:
        reasons = "; ".join(f"{pid}: {msg}" for pid, msg in result.gone.items())
        raise LeakscopeError(ExitCode.TARGET_EXITED, f"no process answered ({reasons})")
    return result


def fan_out(pids: list[int], ask: Callable[[Any], Any], timeout: float) -> Fanout:
    """Connect to every PID in parallel and apply *ask* to each client."""
    from leakscope import client

    def work(pid: int) -> Any:
        with client.connect(pid, timeout) as c:
            return ask(c)

    return run_each(pids, work)


def merge_prefs(answers: dict[int, dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per class (and group): count summed, oldest age the max, count per PID."""
    merged: dict[tuple[str, Any], dict[str, Any]] = {}
    for pid, data in answers.items():
        for row in data.get("rows", []):
            key = (row["class"], row.get("group"))
            slot = merged.get(key)
            if slot is None:
                slot = merged[key] = {
                    "class": row["class"],
                    "count": 0,
                    "oldest_age_s": None,
                    "per_pid": {},
                    "rate_per_pid": {},
                }
                if "group" in row:
                    slot["group"] = row["group"]
            slot["count"] += int(row["count"])
            age = row.get("oldest_age_s")
            if age is not None and (slot["oldest_age_s"] is None or age > slot["oldest_age_s"]):
                slot["oldest_age_s"] = age
            slot["per_pid"][str(pid)] = int(row["count"])
            slot["rate_per_pid"][str(pid)] = row.get("rate_per_min")
    rows = sorted(merged.values(), key=lambda r: (-r["count"], r["class"]))
    return rows


def fastest_growing(rows: list[dict[str, Any]], pids: list[int]) -> int | None:
    """The PID whose tracked objects grow fastest (by the agents' growth rates)."""
    totals: dict[int, float] = {}
    for pid in pids:
        rates = [r["rate_per_pid"].get(str(pid)) for r in rows]
        known = [x for x in rates if x is not None]
        if known:
            totals[pid] = sum(known)
    if not totals:
        return None
    best = max(totals, key=lambda p: totals[p])
    return best if totals[best] > 0 else None


def merge_heap(answers: dict[int, dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per kind: count and size summed, count per PID, biggest size first."""
    merged: dict[str, dict[str, Any]] = {}
    for pid, data in answers.items():
        for row in data.get("rows", []):
            slot = merged.setdefault(
                row["kind"], {"kind": row["kind"], "count": 0, "size": 0, "per_pid": {}}
            )
            slot["count"] += int(row["count"])
            slot["size"] += int(row.get("size", 0))
            slot["per_pid"][str(pid)] = int(row["count"])
    return sorted(merged.values(), key=lambda r: (-r["size"], r["kind"]))
