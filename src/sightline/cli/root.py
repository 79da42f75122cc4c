"""The `sightline` command: logging set-up, and every command group hung under it."""

from __future__ import annotations

import logging

import click

from sightline.cli.analyze import analyze
from sightline.cli.classifiers import classifiers
from sightline.cli.images import delete, get, list_, search
from sightline.cli.keys import keys
from sightline.cli.maintenance import backup, check, restore
from sightline.cli.models import models
from sightline.cli.queue import queue
from sightline.cli.reprocess import reprocess
from sightline.cli.serve import migrate, serve, worker
from sightline.cli.upload import upload
from sightline.cli.watch import watch


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="sightline")
@click.option("--log-level", default="INFO", show_default=True, envvar="SIGHTLINE_LOG_LEVEL")
def main(log_level: str) -> None:
    """Sightline: store images and analyse them with local models, no cloud account needed."""
    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # One line per HTTP request from the client commands is noise, not information.
    logging.getLogger("httpx").setLevel(max(logging.WARNING, logging.getLogger().level))


# Run, operate, manage here.
COMMANDS = (serve, worker, migrate, analyze, queue, check, backup, restore, keys, models)
CLIENT_COMMANDS = (upload, get, list_, delete, search, classifiers)  # against a running server
for command in (*COMMANDS, *CLIENT_COMMANDS):
    main.add_command(command)
main.add_command(watch)
main.add_command(reprocess)
