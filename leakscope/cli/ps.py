"""`leakscope ps`: the processes that run an agent."""

from __future__ import annotations

import click

from leakscope.cli.options import connector


@click.command()
@click.option(
    "--all-users",
    is_flag=True,
    help="As root: list the agents of every user (root may inspect any process).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the list as JSON on stdout.")
def ps(all_users: bool, as_json: bool) -> None:
    """List the processes that run a leakscope agent.

    Sockets left by processes that are gone are removed on the way. Role is
    "master" or "worker" when agent-bearing processes are parent and child
    (a pre-fork server). A socket directory that is unsafe (another owner,
    open to others) is not read, and said so.

    \b
    Examples:
      leakscope ps                  this user's agents
      leakscope ps --json           the same, as JSON
    """
    listing = connector().agents(all_users)
    for reason in listing.refused:
        click.echo(f"leakscope: refusing an unsafe socket directory: {reason}", err=True)
    if as_json:
        from leakscope.render.json import emit

        emit(listing.to_json())
        return
    if not listing.agents:
        click.echo("no process with a leakscope agent found", err=True)
        return
    from leakscope.render.tables import agents_table, print_table

    print_table(agents_table(list(listing.agents)))
