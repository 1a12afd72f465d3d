"""`leakscope sites on|off|status`: record where tracked objects are created."""

from __future__ import annotations

import click

from leakscope.cli.options import connector, target_options


@click.command()
@click.argument("state", type=click.Choice(["on", "off", "status"]), default="status")
@target_options
def sites(state: str, pid: int | None, timeout: float, as_json: bool) -> None:
    """Turn creation-site recording on or off in the target (or show it).

    With sites on, every new tracked object records the file:line of the first
    frame outside leakscope and the standard library, so that
    `leakscope prefs --group-by site` shows where the leaking objects come
    from. Objects made while sites were off are grouped as '-'.

    \b
    Examples:
      leakscope sites on --pid 4242                      start recording
      leakscope prefs --pid 4242 --group-by site         then: which line made them
    """
    with connector().connect(pid, timeout) as client:
        report = client.sites(None if state == "status" else state == "on")
    if as_json:
        from leakscope.render.json import emit

        emit(report.to_json())
        return
    click.echo(f"creation sites are {'on' if report.sites else 'off'} in process {report.pid}")
