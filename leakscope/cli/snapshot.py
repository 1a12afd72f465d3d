"""`leakscope snapshot`: keep the state of a process in a file, for a later diff."""

from __future__ import annotations

import click

from leakscope.cli.options import target_options


@click.command()
@target_options
@click.option(
    "--output", "-o", required=True, type=click.Path(dir_okay=False), help="File to write."
)
@click.option("--heap", "with_heap", is_flag=True, help="Also keep a by-type census of the heap.")
@click.option("--collect", is_flag=True, help="With --heap: run gc.collect() in the target first.")
def snapshot(
    pid: int | None, timeout: float, as_json: bool, output: str, with_heap: bool, collect: bool
) -> None:
    """Write a snapshot of the target to a file (JSON, self-describing).

    It holds the live-ref rows (with owners and sites where recorded), the
    memory figures and, with --heap, a by-type census — enough for
    `leakscope diff OLD NEW` after the process is gone. Its size grows with
    the number of classes, not objects.
    """
    from leakscope import snapfile

    data = snapfile.take(pid, with_heap, timeout, collect)
    snapfile.write(data, output)
    if as_json:
        from leakscope.render.json import emit

        emit({"file": output, "pid": data["pid"], "time": data["time"]})
        return
    rows = len(data["prefs"]["rows"])
    heap = f", heap of {data['heap']['total_count']:,} objects" if data["heap"] else ""
    click.echo(f"snapshot of pid {data['pid']} written to {output} ({rows} classes{heap})")
