"""`leakscope history CLASS`: the agent's samples of one class's live count."""

from __future__ import annotations

import click

from leakscope.cli.options import target_options


@click.command()
@click.argument("class_name", metavar="CLASS")
@target_options
@click.option("--plot", is_flag=True, help="Draw the count over time in the terminal.")
@click.option(
    "--since",
    type=click.FloatRange(0),
    default=None,
    metavar="SECONDS",
    help="Only the last SECONDS of history.",
)
def history(
    class_name: str, pid: int | None, timeout: float, as_json: bool, plot: bool, since: float | None
) -> None:
    """Show the live count of CLASS over time, from the agent's history.

    The agent samples every class's count every few seconds (see
    LEAKSCOPE_HISTORY_INTERVAL) and keeps the last hour. --json gives the
    samples themselves, for plotting elsewhere.
    """
    from leakscope import client

    with client.connect(pid, timeout) as c:
        data = c.call("history", class_name, since)
    samples = data.get("samples", [])
    if as_json:
        from leakscope.render.json import emit

        emit(
            {
                "pid": data.get("pid"),
                "class": data.get("class"),
                "collected": bool(data.get("collected", False)),
                "samples": samples,
            }
        )
        return
    from rich.console import Console

    from leakscope.render.plot import history_plot

    Console().print(history_plot(str(data.get("class", class_name)), samples, tall=plot))
