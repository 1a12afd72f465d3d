"""``prefs --watch``: a live table that survives the target going away and coming back."""

from __future__ import annotations

import time
from collections import defaultdict, deque

from leakscope.cli.options import connector
from leakscope.client.errors import ExitCode, LeakscopeError
from leakscope.client.reports import PrefsReport

_RECONNECTABLE = {
    ExitCode.TARGET_EXITED,
    ExitCode.NO_AGENT,
    ExitCode.TIMEOUT,
    ExitCode.STALE_SOCKET,
    ExitCode.NONE_FOUND,
    ExitCode.NO_SUCH_PROCESS,
    ExitCode.TRANSPORT,
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
    between polls, so an idle watcher costs nothing. With *as_json* it prints
    one JSON document per line (JSON Lines) per poll instead.
    """
    from rich.console import Group
    from rich.live import Live
    from rich.text import Text

    from leakscope.render.console import new_console
    from leakscope.render.json import emit_line
    from leakscope.render.tables import prefs_table, spark_key

    link = connector()
    series: dict[str, deque[int]] = defaultdict(lambda: deque(maxlen=60))
    status = Text("")
    last: PrefsReport | None = None

    def poll() -> PrefsReport:
        with link.connect(pid, timeout) as client:
            return client.prefs(ignore, group_by, collect).sorted(sort, limit)

    try:
        if as_json:
            while True:
                try:
                    emit_line(poll().to_json())
                except LeakscopeError as exc:
                    if exc.code not in _RECONNECTABLE:
                        raise
                time.sleep(every)
        with Live(console=new_console(), auto_refresh=False, transient=False) as live:
            while True:
                try:
                    report = poll()
                    for row in report.rows:
                        series[spark_key(row)].append(row.count)
                    last = report
                    status = Text(
                        f"every {every:g}s — {time.strftime('%H:%M:%S')} — Ctrl-C to stop",
                        style="dim",
                    )
                except LeakscopeError as exc:
                    if exc.code not in _RECONNECTABLE:
                        raise
                    status = Text(f"{exc.message} — retrying every {every:g}s", style="yellow")
                if last is not None:
                    spark = {k: list(v) for k, v in series.items()}
                    live.update(Group(prefs_table(last, spark=spark), status), refresh=True)
                else:
                    live.update(status, refresh=True)
                time.sleep(every)
    except KeyboardInterrupt:
        return
