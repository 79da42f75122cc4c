"""Running the service: `sightline serve`, `sightline worker` and `sightline migrate`."""

from __future__ import annotations

import logging
import os
import signal
import threading
from pathlib import Path
from types import FrameType
from urllib.parse import urlsplit

import click

from sightline.cli.local import open_sightline
from sightline.cli.options import (
    backend_options,
    data_dir_option,
    setting_option,
    settings_from,
    workers_option,
)
from sightline.errors import SightlineError

log = logging.getLogger("sightline")


@click.command()
@setting_option("--host", "host")
@setting_option("--port", "port", type=int)
@data_dir_option
@backend_options
@workers_option
@click.option(
    "--no-workers",
    is_flag=True,
    help="Serve the API only; separate `sightline worker` processes do the analysis.",
)
@click.option(
    "--migrate",
    "migrate_first",
    is_flag=True,
    help="Create or upgrade the catalog schema first, whatever SIGHTLINE_AUTO_MIGRATE says "
    "(as `sightline migrate` does), then serve.",
)
def serve(
    host: str | None,
    port: int | None,
    data_dir: Path | None,
    catalog_url: str | None,
    blob_url: str | None,
    queue_url: str | None,
    workers: int | None,
    no_workers: bool,
    migrate_first: bool,
) -> None:
    """Run the HTTP API, by default with analysis workers in the same process.

    An embedded SQLite catalog is upgraded on start; a PostgreSQL one must be at this
    version's schema (or a newer one): run `sightline migrate` once, or pass --migrate.
    """
    import uvicorn

    from sightline.connections import server_options

    settings = settings_from(
        host=host,
        port=port,
        data_dir=data_dir,
        catalog_url=catalog_url,
        blob_url=blob_url,
        queue_url=queue_url,
        workers=0 if no_workers else workers,
        auto_migrate="always" if migrate_first else None,
    )
    sightline = open_sightline(settings)
    try:
        app = sightline.api(run_workers=settings.workers > 0)
        log.info(
            "Sightline on http://%s:%d (catalog %s, %d worker threads)",
            settings.host,
            settings.port,
            _redacted(settings.resolved_catalog_url()),
            settings.workers,
        )
        uvicorn.run(
            app,
            host=settings.host,
            port=settings.port,
            log_level="warning",
            # uvicorn's lines go through the root logger, in SIGHTLINE_LOG_FORMAT like ours.
            log_config=None,
            **server_options(settings),
        )
    finally:
        sightline.close()


@click.command()
@data_dir_option
@backend_options
@setting_option("--concurrency", "workers", type=click.IntRange(min=1))
@setting_option("--http-host", "worker_http_host")
@setting_option("--http-port", "worker_http_port", type=click.IntRange(0, 65535))
def worker(
    data_dir: Path | None,
    catalog_url: str | None,
    blob_url: str | None,
    queue_url: str | None,
    workers: int | None,
    worker_http_host: str | None,
    worker_http_port: int | None,
) -> None:
    """Run analysis workers only, on the same catalog, queue and blobs as the API.

    Start as many as needed, on as many machines: they share the work through the queue. The
    first SIGTERM or Ctrl-C stops claiming jobs and lets running ones finish; a second one exits
    at once (unfinished jobs return to the queue when their lease runs out). With `--http-port`,
    the worker answers `/healthz`, `/readyz` (it can take jobs) and `/metrics` (its jobs, and
    the queue's depth).
    """
    settings = settings_from(
        data_dir=data_dir,
        catalog_url=catalog_url,
        blob_url=blob_url,
        queue_url=queue_url,
        workers=workers,
        worker_http_host=worker_http_host,
        worker_http_port=worker_http_port,
    )
    sightline = open_sightline(settings)
    probes = None
    if settings.worker_http_port is not None:
        try:
            probes = sightline.probe_server(settings.worker_http_host, settings.worker_http_port)
        except SightlineError as exc:
            sightline.close()
            raise click.ClickException(exc.message) from exc
        log.info("Worker probes and metrics on %s", probes.url)
    stop_requested = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        if stop_requested.is_set():
            log.warning("Second %s: exiting now", signal.Signals(signum).name)
            os._exit(1)
        log.info("%s: finishing running jobs, then exiting", signal.Signals(signum).name)
        stop_requested.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    sightline.start_workers()
    sightline.warmup.start()
    log.info("Worker %s running %d threads", sightline.pool.name, settings.workers)
    while not stop_requested.wait(1.0):
        pass
    sightline.pool.stop()
    if probes is not None:  # answering until the jobs finished: the process was alive
        probes.stop()
    sightline.close()


@click.command()
@data_dir_option
@setting_option("--catalog-url", "catalog_url")
def migrate(data_dir: Path | None, catalog_url: str | None) -> None:
    """Create or upgrade the catalog schema to this version's, then exit.

    Run it once per upgrade, before (or while) replicas of the new version start: they refuse
    an older schema, except `serve` and `worker` on an embedded SQLite catalog, which upgrade
    it themselves (SIGHTLINE_AUTO_MIGRATE). Processes of the previous version keep running on
    the new schema. Several at once take turns; a catalog already up to date (or newer) is
    left as it is.
    """
    from sightline.errors import SightlineError
    from sightline.storage.database import Database
    from sightline.storage.migrate import SchemaChanges
    from sightline.stores import catalog_indexer, prepare_schema

    settings = settings_from(data_dir=data_dir, catalog_url=catalog_url)
    # Only this command shows each migration step.
    logging.getLogger("alembic").setLevel(max(logging.INFO, logging.getLogger().level))
    db = Database(settings.resolved_catalog_url())
    try:
        state = prepare_schema(db, SchemaChanges.UPGRADE, catalog_indexer(settings.model_dir))
    except SightlineError as exc:
        raise click.ClickException(exc.message) from exc
    finally:
        db.dispose()
    if state.newer:
        click.echo(
            f"Catalog schema is at {state.current}, newer than this version knows "
            f"({state.head}); left as it is (this version runs on it)."
        )
    elif state.up_to_date:
        click.echo(f"Catalog schema is up to date ({state.head}).")
    else:
        click.echo(f"Catalog schema upgraded from {state.current or 'empty'} to {state.head}.")


def _redacted(url: str) -> str:
    """The URL without its password, for logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@")).geturl()
