"""`sightline classifiers`: create, label, train, publish, try and export custom classifiers on
a running server."""

from __future__ import annotations

import json
from pathlib import Path

import click

from sightline.cli.remote import call, key_option, url_option
from sightline.client import Client


@click.group()
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
    with Client(url, api_key=api_key) as client:
        click.echo(json.dumps(call(client.create_classifier, name, kind, description)))


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
    with Client(url, api_key=api_key) as client:
        report = call(client.upload_examples, name, list(files), label.split(","))
    for item, path in zip(report["items"], files, strict=True):
        outcome = item["image_id"] if item["status"] < 400 else item["error"]["message"]
        click.echo(f"{path}\t{item['status']}\t{outcome}")
    if report["failed"]:
        raise click.ClickException(f"{report['failed']} of {len(files)} files failed.")


@classifiers.command("train")
@click.argument("name")
@click.option(
    "--threshold",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    default=None,
    help="Probability at which a label counts as predicted. Default: multiclass predicts its "
    "top label whatever its probability, multilabel uses 0.5.",
)
@click.option("--wait/--no-wait", default=True, help="Wait for training to finish.")
@url_option
@key_option
def classifiers_train(
    name: str, threshold: float | None, wait: bool, url: str, api_key: str | None
) -> None:
    """Train a new version of NAME; print it (with its metrics once ready) as JSON."""
    with Client(url, api_key=api_key) as client:
        version = call(client.train, name, threshold=threshold)
        if wait:
            version = call(client.wait_for_version, name, version["number"])
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
    with Client(url, api_key=api_key) as client:
        record = call(client.publish, name, version)
        if run_on_upload is not None:
            record = call(client.update_classifier, name, run_on_upload=run_on_upload)
        if backfill:
            record = call(client.backfill, name)
    click.echo(json.dumps(record))


@classifiers.command("predict")
@click.argument("name")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@url_option
@key_option
def classifiers_predict(name: str, file: Path, url: str, api_key: str | None) -> None:
    """Print NAME's label probabilities for FILE as JSON."""
    with Client(url, api_key=api_key) as client:
        click.echo(json.dumps(call(client.predict, name, file)))


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
    with Client(url, api_key=api_key) as client:
        data = call(client.export, name, version)
    target = output or Path(f"{name}-v{version}.zip")
    target.write_bytes(data)
    click.echo(f"Wrote {target}.")
