"""``prefs --watch``: a live table that survives the target going away and coming back."""

from __future__ import annotations

import time
from collections import defaultdict, deque

from leakscope.errors import ExitCode, LeakscopeError
from leakscope.snapshot import PrefsReport

_RECONNECTABLE = {
    ExitCode.TARGET_EXITED,
    ExitCode.NO_AGENT,
    ExitCode.TIMEOUT,
    ExitCode.STALE_SOCKET,
    ExitCode.NONE_FOUND,
    ExitCode.NO_SUCH_PROCESS,
}


def watch_prefs(
    pid: int | None,
    ignore: tuple[str, ...],
    group_by: str | None,
    sort: str,
    limit: int | None,
    every: float,
    timeout: float,
    as_json: bool,
    collect: bool = False,
) -> None:
    """Redraw the prefs table every *every* seconds until Ctrl-C (exit code 0).

    When the agent goes away the view says so and keeps retrying; it sleeps
    between polls, so an idle watcher costs nothing.
    """
    from rich.console import Console, Group
    from rich.live import Live
    from rich.text import Text

    from leakscope.cli.liverefs import _sorted, fetch_prefs
    from leakscope.render.tables import prefs_table

    series: dict[str, deque[int]] = defaultdict(lambda: deque(maxlen=60))
    console = Console()
    status = Text("")
    last: PrefsReport | None = None
    try:
        with Live(console=console, auto_refresh=False, transient=False) as live:
            while True:
                try:
                    report = _sorted(
                        fetch_prefs(pid, ignore, group_by, timeout, collect), sort, limit
                    )
                    for row in report.rows:
                        series[row.cls if row.group is None else f"{row.cls}|{row.group}"].append(
                            row.count
                        )
                    last = report
                    status = Text(
                        f"every {every:g}s — {time.strftime('%H:%M:%S')} — Ctrl-C to stop",
                        style="dim",
                    )
                    if as_json:
                        import json

                        console.print_json(json.dumps(report.to_json()))
                except LeakscopeError as exc:
                    if exc.code not in _RECONNECTABLE:
                        raise
                    status = Text(f"{exc.message} — retrying every {every:g}s", style="yellow")
                if not as_json:
                    if last is not None:
                        spark = {k.split("|")[0]: list(v) for k, v in series.items()}
                        live.update(Group(prefs_table(last, spark=spark), status), refresh=True)
                    else:
                        live.update(status, refresh=True)
                time.sleep(every)
    except KeyboardInterrupt:
        return
