"""The `sightline` command: logging set-up, and every command group hung under it."""

from __future__ import annotations

import logging

import click

from sightline.cli.analyze import analyze
from sightline.cli.classifiers import classifiers
from sightline.cli.export import export
from sightline.cli.faces import faces
from sightline.cli.images import delete, get, list_, search
from sightline.cli.keys import keys
from sightline.cli.maintenance import backup, check, restore
from sightline.cli.models import models
from sightline.cli.queue import queue
from sightline.cli.reprocess import reprocess
from sightline.cli.serve import migrate, serve, worker
from sightline.cli.show import show
from sightline.cli.upload import upload
from sightline.cli.watch import watch
from sightline.logs import LOG_FORMATS, LogFormat
from sightline.logs import configure as configure_logs

EPILOG = """\b
The client commands (upload, watch, reprocess, get, list, show, search, delete, export,
classifiers) talk to a running server: --url or SIGHTLINE_URL (default
http://127.0.0.1:8080), --api-key or SIGHTLINE_API_KEY, --collection or SIGHTLINE_COLLECTION.
On a terminal they print tables; --json and --jsonl print the server's answers for programs.

\b
Exit status:
  0  done
  1  the server (or the stores) refused or failed something; batch commands: at least one
     item failed, after a summary
  2  usage error: a wrong option or argument
  3  cannot reach the server

\b
Examples:
  sightline serve --data-dir ./data
  sightline upload photos/ --wait
  sightline list --status done
  sightline show img_01J…
  sightline export -o results.csv --features tags,read
"""


@click.group(context_settings={"help_option_names": ["-h", "--help"]}, epilog=EPILOG)
@click.version_option(package_name="sightline")
@click.option("--log-level", default="INFO", show_default=True, envvar="SIGHTLINE_LOG_LEVEL")
@click.option(
    "--log-format",
    type=click.Choice(LOG_FORMATS),
    default="auto",
    show_default=True,
    envvar="SIGHTLINE_LOG_FORMAT",
    help="Log lines on stderr as JSON objects or text; auto: JSON unless stderr is a terminal.",
)
def main(log_level: str, log_format: LogFormat) -> None:
    """Sightline: store images and analyse them with local models, no cloud account needed."""
    configure_logs(log_level, log_format)
    quiet = max(logging.WARNING, logging.getLogger().level)
    # One line per HTTP request from the client commands is noise, not information; so are
    # Alembic's lines on every command that opens the catalog (`migrate` says the outcome), and
    # faiss's about which of its CPU builds it loads, on every command that loads it.
    for noisy in ("httpx", "alembic", "faiss"):
        logging.getLogger(noisy).setLevel(quiet)


# Run, operate, manage here.
COMMANDS = (serve, worker, migrate, analyze, queue, check, backup, restore, keys, faces, models)
# Against a running server.
CLIENT_COMMANDS = (upload, watch, reprocess, get, list_, show, delete, search, export, classifiers)
for command in (*COMMANDS, *CLIENT_COMMANDS):
    main.add_command(command)
