"""`sightline queue`: inspect and repair the job queue, working on the stores directly."""

from __future__ import annotations

import json
from typing import Any

import click

from sightline.cli.local import sightline_without_workers
from sightline.cli.options import backend_options, data_dir_option
from sightline.cli.output import Column, Format, Printer, output_options


@click.group(
    epilog="""\b
Examples:
  sightline queue dead
  sightline queue requeue job_01J…
  sightline queue rebuild --queue-url redis://localhost:6379/0
"""
)
def queue() -> None:
    """Inspect and repair the job queue."""


DEAD_FIELDS = {"id", "attempts", "last_error"}
DEAD_COLUMNS = [
    Column("ID", lambda job: job["id"], style="cyan", no_wrap=True),
    Column("Attempts", lambda job: job["attempts"], "right"),
    Column(
        "Job",
        lambda job: json.dumps(
            {key: value for key, value in job.items() if key not in DEAD_FIELDS},
            ensure_ascii=False,
        ),
    ),
    Column("Last error", lambda job: job["last_error"], style="red"),
]


@queue.command("dead")
@data_dir_option
@backend_options
@output_options
def queue_dead(output: Format, **overrides: Any) -> None:
    """List dead-lettered jobs with their last error."""
    with sightline_without_workers(**overrides) as sightline:
        jobs = [
            {"id": job.id, "attempts": job.attempts, "last_error": job.last_error, **job.payload}
            for job in sightline.queue.dead_letters()
        ]
    printer = Printer(output)
    count = printer.rows(jobs, DEAD_COLUMNS)
    if printer.for_people:
        printer.note(f"{count} dead jobs; `sightline queue requeue ID` gives one new attempts.")


@queue.command("requeue")
@click.argument("job_id")
@data_dir_option
@backend_options
def queue_requeue(job_id: str, **overrides: Any) -> None:
    """Give a dead-lettered job a fresh set of attempts."""
    with sightline_without_workers(**overrides) as sightline:
        found = sightline.queue.requeue(job_id)
    if not found:
        raise click.ClickException(f"No dead job {job_id!r}.")
    click.echo(f"Requeued {job_id}.")


@queue.command("rebuild")
@data_dir_option
@backend_options
def queue_rebuild(**overrides: Any) -> None:
    """Queue again every job the catalog asked for that never finished, e.g. after the queue
    was flushed or lost. Jobs the queue still holds are not doubled.

    Workers also do this by themselves when they notice the queue lost its data (a Redis
    restart without persistence); this command is for the cases they cannot notice.
    """
    with sightline_without_workers(**overrides) as sightline:
        handed_back = sightline.stores.events.redispatch_unfinished()
        enqueued = sightline.pool.relay.relay_all()
    click.echo(f"{handed_back} unfinished jobs handed back; {enqueued} enqueued.")
