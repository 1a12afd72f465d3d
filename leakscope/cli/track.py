"""`leakscope track` and `untrack`: record the live objects of a class of the running program."""

from __future__ import annotations

import click

from leakscope.cli.options import class_name, connector, target_options


@click.command()
@click.argument("cls", metavar="CLASS")
@target_options
@click.option(
    "--sites",
    is_flag=True,
    help="Also record where each object is made (for every tracked class; several times "
    "slower creation while on: `leakscope sites off` turns it off).",
)
def track(cls: str, pid: int | None, timeout: float, as_json: bool, sites: bool) -> None:
    """Start tracking CLASS in the running program: ages (and creation sites) from now on.

    CLASS must be written in Python. Its __new__ is replaced by one that records each
    new instance with a weak reference and its creation time, as leakscope.track() does;
    instances made before are not recorded. Undo it with `leakscope untrack CLASS`.

    \b
    Examples:
      leakscope track AuditEvent --pid 4242          prefs, oldest and all show its ages
      leakscope track app.AuditEvent --sites         and where each one is made
    """
    class_name(cls)
    with connector().connect(pid, timeout) as client:
        answer = client.track(cls, sites)
    if as_json:
        from leakscope.render.json import emit

        emit(answer.to_json())
        return
    state = "was already tracked" if answer.already else "is tracked from now on"
    extra = "; creation sites are on" if answer.sites else ""
    click.echo(f"{answer.cls} {state} in pid {answer.pid}{extra}")


@click.command()
@click.argument("cls", metavar="CLASS")
@target_options
def untrack(cls: str, pid: int | None, timeout: float, as_json: bool) -> None:
    """Stop tracking CLASS (tracked by `leakscope track` or leakscope.track()).

    The class's own __new__ comes back and its records are dropped. A class that
    subclasses object_ref is tracked by its source and cannot be untracked.

    \b
    Examples:
      leakscope untrack AuditEvent --pid 4242        back to the class as it was
    """
    class_name(cls)
    with connector().connect(pid, timeout) as client:
        answer = client.untrack(cls)
    if as_json:
        from leakscope.render.json import emit

        emit(answer.to_json())
        return
    click.echo(f"{answer.cls} is no longer tracked in pid {answer.pid}")
