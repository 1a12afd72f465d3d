"""`leakscope history CLASS`: the agent's samples of one class's live count."""

from __future__ import annotations

import click

from leakscope.cli.options import Seconds, class_name, connector, target_options


@click.command()
@click.argument("cls", metavar="CLASS")
@target_options
@click.option("--plot", is_flag=True, help="Draw the count over time in the terminal.")
@click.option(
    "--since",
    type=Seconds(0, 1e7),
    default=None,
    metavar="SECONDS",
    help="Only the last SECONDS of history.",
)
def history(
    cls: str, pid: int | None, timeout: float, as_json: bool, plot: bool, since: float | None
) -> None:
    """Show the live count of CLASS over time, from the agent's history.

    The agent samples every class's count every few seconds (see
    LEAKSCOPE_HISTORY_INTERVAL) and keeps the last hour. --json gives the
    samples themselves, for plotting elsewhere.

    \b
    Examples:
      leakscope history Page --pid 4242 --plot       a chart of the last hour
      leakscope history Page --since 600 --json      the last ten minutes, as data
    """
    class_name(cls)
    with connector().connect(pid, timeout) as client:
        report = client.history(cls, since)
    if as_json:
        from leakscope.render.json import emit

        emit(report.to_json())
        return
    from leakscope.render.console import new_console
    from leakscope.render.plot import history_plot

    new_console().print(history_plot(report, tall=plot))
