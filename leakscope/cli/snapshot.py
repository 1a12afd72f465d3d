"""`leakscope snapshot`: keep the state of a process in a file, for a later diff."""

from __future__ import annotations

import click

from leakscope.cli.options import connector, target_options


@click.command()
@target_options
@click.option(
    "--output",
    "-o",
    required=True,
    type=click.Path(dir_okay=False, allow_dash=True),
    help="File to write ('-': standard output). A symlink is followed; an existing regular "
    "file is replaced whole, never half-written.",
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

    \b
    Examples:
      leakscope snapshot --pid 4242 -o monday.json --heap
      leakscope snapshot --pid 4242 -o - | gzip > monday.json.gz
    """
    from leakscope.client import files

    if collect and not with_heap:
        raise click.UsageError("--collect runs before the census: it needs --heap")
    if output == "-" and as_json:
        raise click.UsageError("-o - already writes the snapshot on stdout: drop --json")
    files.check_output_path(output, "snapshot")
    with connector().connect(pid, timeout) as client:
        snap = files.take(client, with_heap, collect)
    files.write_snapshot(snap, output)
    if output == "-":
        return
    if as_json:
        from leakscope.render.json import emit

        emit({"file": output, "pid": snap.pid, "time": snap.time})
        return
    heap = f", heap of {snap.heap.total_count:,} objects" if snap.heap else ""
    click.echo(
        f"snapshot of pid {snap.pid} written to {output} ({len(snap.prefs.rows)} classes{heap})"
    )
