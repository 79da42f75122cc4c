"""Options that mirror settings, and the settings built from them.

Every such option shows its setting's description, `SIGHTLINE_*` variable and default in
`--help`; a flag left out falls back to the variable, then to the default.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from pydantic import ValidationError

from sightline.settings import Settings

F = TypeVar("F", bound=Callable[..., Any])


def env_variable(field: str) -> str:
    return f"SIGHTLINE_{field.upper()}"


def settings_from(**overrides: Any) -> Settings:
    """Flags override `SIGHTLINE_*` variables, which override the defaults."""
    try:
        return Settings(**{key: value for key, value in overrides.items() if value is not None})
    except ValidationError as exc:
        raise click.UsageError(str(exc)) from exc


def setting_option(name: str, field: str, **kwargs: Any) -> Callable[[F], F]:
    description = Settings.model_fields[field].description or ""
    default = Settings.model_fields[field].get_default(call_default_factory=True)
    return click.option(
        name,
        field,
        default=None,
        help=f"{description} [env: {env_variable(field)}; default: {default}]",
        **kwargs,
    )


data_dir_option = setting_option("--data-dir", "data_dir", type=click.Path(path_type=Path))
catalog_option = setting_option("--catalog-url", "catalog_url")
workers_option = setting_option("--workers", "workers", type=click.IntRange(min=0))
model_dir_option = setting_option("--model-dir", "model_dir", type=click.Path(path_type=Path))


def backend_options(command: F) -> F:
    """`--catalog-url`, `--blob-url` and `--queue-url`: the shared backends of a scaled-out
    deployment (e.g. `postgresql://…`, `s3://bucket?endpoint=…`, `redis://…`)."""
    for name, field in reversed(
        [("--catalog-url", "catalog_url"), ("--blob-url", "blob_url"), ("--queue-url", "queue_url")]
    ):
        command = setting_option(name, field)(command)
    return command
