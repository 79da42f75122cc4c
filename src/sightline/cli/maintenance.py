"""`sightline check`, `sightline backup` and `sightline restore`: keeping a deployment whole,
working on its stores directly."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from rich.text import Text

from sightline.cli.local import sightline_without_workers
from sightline.cli.options import backend_options, data_dir_option, setting_option, settings_from
from sightline.cli.output import Format, Printer, output_options
from sightline.errors import SightlineError
from sightline.maintenance import CheckReport, Problem
from sightline.maintenance import backup as take_backup
from sightline.maintenance import restore as restore_backup


@contextmanager
def _refusals() -> Iterator[None]:
    try:
        yield
    except SightlineError as exc:
        raise click.ClickException(exc.message) from exc


@click.command(
    epilog="""\b
Examples:
  sightline check --data-dir ./data
  sightline check --repair --json | jq .left
"""
)
@data_dir_option
@backend_options
@setting_option(
    "--grace-seconds", "sweep_grace_seconds", type=click.FloatRange(min=0, min_open=True)
)
@click.option(
    "--repair",
    is_flag=True,
    help="Repair what is safe while the service runs: remove orphans and stale parts, request "
    "stranded features and lost thumbnails again, hand lost jobs back to the relay, requeue "
    "unrecorded dead jobs. Missing or corrupt originals are only reported.",
)
@click.option(
    "--no-checksums",
    is_flag=True,
    help="Check that every referenced blob exists, without reading it to verify its sha256.",
)
@output_options
@click.pass_context
def check(
    ctx: click.Context, /, repair: bool, no_checksums: bool, output: Format, **overrides: Any
) -> None:
    """Verify that catalog, blobs and queue agree, while the service runs.

    Every blob an image references must be in the blob store with the bytes its sha256 names;
    no blob, blob row or part of an unfinished write may be left that nothing uses (younger
    ones than --grace-seconds may be writes in flight and are left out); every pending or
    running feature must have an unfinished event asking for it, and the queue must hold the
    job of every event relayed to it that has not finished.

    Prints what it found and repaired; exits with 1 while problems are left.
    """
    with _refusals(), sightline_without_workers(**overrides) as sightline:
        report = sightline.checker.run(checksums=not no_checksums, repair=repair)
        if report.problems[Problem.LOST_JOBS].repaired:
            sightline.pool.relay.relay_all()  # no relay runs in this process otherwise
    Printer(output).record(report.to_json(), lambda _json: _report_text(report, repaired=repair))
    if report.left:
        ctx.exit(1)


def _report_text(report: CheckReport, *, repaired: bool) -> Text:
    lines = [
        f"{report.images} images; blobs: {report.referenced_blobs} referenced, "
        f"{report.stored_blobs} stored, {report.verified_blobs} read and verified"
    ]
    width = max(len(problem) for problem in Problem)
    for problem, finding in report.problems.items():
        line = f"  {problem.replace('_', ' '):<{width}}  {finding.found:>6}"
        lines.append(line + (f"  repaired {finding.repaired}" if repaired else ""))
        lines += [f"      {json.dumps(item)}" for item in finding.items]
    if not report.left:
        lines.append("No problems left.")
    elif repaired:
        lines.append(f"{report.left} problems left that need an operator.")
    else:
        lines.append(f"{report.left} problems; --repair repairs what it safely can.")
    return Text("\n".join(lines), style="red" if report.left else "")


@click.command(
    epilog="Example:\n\n  sightline backup /backups/sightline-$(date +%F) --data-dir ./data"
)
@click.argument("destination", type=click.Path(path_type=Path))
@data_dir_option
@backend_options
def backup(destination: Path, **overrides: Any) -> None:
    """Copy the catalog and every blob it references into DESTINATION, a new folder, while
    the service runs: a consistent snapshot (every blob the copied catalog references is in
    it). Needs an SQLite catalog; the blobs may be a folder or S3. The queue and the vector
    index snapshots are not copied: a restore starts them afresh."""
    with _refusals(), sightline_without_workers(**overrides) as sightline:
        report = take_backup(sightline.stores.db, sightline.blobs, destination)
    click.echo(
        f"Backed up {report.images} images and {report.blobs} blobs ({report.bytes} bytes) "
        f"to {report.path} in {report.rounds} round(s)."
    )
    if report.missing or report.corrupt:
        raise click.ClickException(
            f"The live store lacks {len(report.missing)} blobs the catalog references and "
            f"holds {len(report.corrupt)} with wrong bytes; the backup lacks them too "
            f"(listed in {report.path / 'backup.json'}; run `sightline check`)."
        )


@click.command(
    epilog="Example:\n\n  sightline restore /backups/sightline-2026-12-01 --data-dir ./new-data"
)
@click.argument("source", type=click.Path(exists=True, file_okay=False, path_type=Path))
@data_dir_option
@backend_options
@click.option(
    "--force",
    is_flag=True,
    help="Replace the catalog and blobs already at the target (stop the service first); "
    "blobs the restored catalog does not use are removed.",
)
def restore(source: Path, force: bool, **overrides: Any) -> None:
    """Restore the backup in SOURCE into the data folder (or the backends) given, which must
    be unused unless --force. The queue starts empty and every unfinished job is queued again
    when the service starts; vector indexes are rebuilt. No process may use the target
    meanwhile."""
    with _refusals():
        report = restore_backup(source, settings_from(**overrides), force=force)
    click.echo(f"Restored {report.images} images and {report.blobs} blobs.")
    if report.swept:
        click.echo(f"Removed {report.swept} blobs no restored image uses.")
    if report.corrupt:
        raise click.ClickException(
            f"{len(report.corrupt)} blobs of the backup hold other bytes than their name says "
            "and were not restored; run `sightline check` to see which images they belong to."
        )
