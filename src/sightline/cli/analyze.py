"""`sightline analyze`: the pipeline run once on local files, without a server or storage."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from sightline.cli.options import settings_from
from sightline.errors import SightlineError


@click.command()
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option(
    "--features",
    help="Comma-separated features to compute; default: SIGHTLINE_DEFAULT_FEATURES.",
)
def analyze(files: tuple[Path, ...], features: str | None) -> None:
    """Analyse FILES once, without a server or storage, and print the results as JSON."""
    from sightline.images.pipeline import analyze_once, default_features, resolve_features
    from sightline.models import Models
    from sightline.vision import decode
    from sightline.vision.registry import build_analyzers

    settings = settings_from()
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
