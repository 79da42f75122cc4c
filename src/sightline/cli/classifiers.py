"""`sightline classifiers`: create, label (from a folder per label), train, test, publish,
predict, backfill and export custom classifiers on a running server."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import click
import httpx
from rich.console import Group
from rich.table import Table

from sightline.cli.batch import error_of, in_parallel, stored_image, tally
from sightline.cli.files import image_files, labelled_folders, read_error, sha256_of
from sightline.cli.output import Column, Format, Printer, cell_text, output_options, plain
from sightline.cli.remote import (
    Server,
    Unreachable,
    call,
    client_options,
    images_of,
    server_options,
)
from sightline.cli.upload import concurrency_option
from sightline.client import ApiError, Client

FINISHED_FEATURE = frozenset({"done", "failed", "skipped"})


@click.group()
def classifiers() -> None:
    """Train your own classifiers on labelled images (against a running server).

    \b
    Examples:
      sightline classifiers create pets
      sightline classifiers label pets photos/      # photos/cat/*.jpg, photos/dog/*.jpg
      sightline classifiers train pets              # waits; prints the metrics
      sightline classifiers test pets held-out/     # accuracy and confusion on unseen files
      sightline classifiers publish pets 1 --run-on-upload --backfill"""


def describe(record: Mapping[str, Any]) -> str:
    labels = ", ".join(f"{label['name']} ({label['examples']})" for label in record["labels"])
    published = record.get("published_version")
    return (
        f"{record['name']} ({record['id']}): {record['kind']}, "
        f"{record['example_count']} labelled images"
        + (f"; labels: {labels}" if labels else "")
        + (f"; version {published} published" if published else "; nothing published")
        + ("; runs on every upload" if record.get("run_on_upload") else "")
    )


@classifiers.command("create")
@click.argument("name")
@click.option(
    "--kind",
    type=click.Choice(["multiclass", "multilabel"]),
    default="multiclass",
    show_default=True,
    help="multiclass: one label an image; multilabel: any number.",
)
@click.option("--description", default="")
@output_options
@client_options
def classifiers_create(
    name: str, kind: str, description: str, output: Format, client: Client
) -> None:
    """Create the classifier NAME."""
    record = call(client.create_classifier, name, kind, description)
    Printer(output).record(record, lambda value: f"Created {describe(value)}.")


# -- labelling ---------------------------------------------------------------------------------


def label_one(
    client: Client, name: str, path: Path, labels: Sequence[str], url: str
) -> dict[str, Any]:
    """Labels one file: an image of the same bytes already stored is labelled as it is,
    else the file is uploaded as a new labelled image."""
    row: dict[str, Any] = {
        "path": str(path),
        "labels": list(labels),
        "outcome": "failed",
        "image_id": None,
        "error": None,
    }
    try:
        data = path.read_bytes()
    except OSError as exc:
        row["error"] = {"code": "Unreadable", "message": read_error(exc)}
        return row
    try:
        stored = stored_image(client, sha256_of(data))
        if stored is not None:
            report = plain(client.add_examples(name, [(stored["id"], list(labels))]))
            outcome = "labelled"
        else:
            report = plain(client.upload_examples(name, [path], list(labels)))
            outcome = "uploaded"
    except (ApiError, httpx.HTTPError) as exc:
        row["error"] = error_of(exc, url)
        row["outcome"] = "rejected" if isinstance(exc, ApiError) and exc.status < 500 else "failed"
        return row
    [item] = report["items"]
    if item["status"] < 400:
        row.update(outcome=outcome, image_id=item["image_id"])
    else:
        row.update(outcome="rejected", error=item["error"])
    return row


LABEL_COLUMNS = [
    Column("File", lambda row: row["path"]),
    Column("Label", lambda row: ", ".join(row["labels"])),
    Column("Outcome", lambda row: row["outcome"]),
    Column("Image", lambda row: row["image_id"]),
    Column("Problem", lambda row: row["error"]["message"] if row["error"] else ""),
]


@classifiers.command("label")
@click.argument("name")
@click.argument("arguments", nargs=-1, required=True, metavar="DIR | LABEL PATH...")
@concurrency_option
@output_options
@server_options
def classifiers_label(
    name: str,
    arguments: tuple[str, ...],
    concurrency: int,
    output: Format,
    server: Server,
) -> None:
    """Label examples for classifier NAME. `label NAME DIR`: DIR holds a folder per label
    (DIR/cat/*.jpg, DIR/dog/*.jpg). `label NAME LABEL PATH...`: files, folders or globs, all
    labelled LABEL (labels may be comma-separated, for multilabel classifiers). Files whose
    content is stored already are labelled without being sent again. Prints a row per file;
    exit status 1 if any file was refused."""
    if len(arguments) == 1 and Path(arguments[0]).is_dir():
        work = [
            (path, [label])
            for label, paths in labelled_folders(Path(arguments[0])).items()
            for path in paths
        ]
    elif len(arguments) >= 2:
        labels = arguments[0].split(",")
        work = [(path, labels) for path in image_files(arguments[1:])]
    else:
        raise click.UsageError(
            "Give a folder with a sub-folder per label, or a LABEL and the files to label."
        )
    printer = Printer(output)
    rows = in_parallel(
        server,
        printer,
        "Labelling",
        work,
        lambda client, item: label_one(client, name, item[0], item[1], server.url),
        concurrency=concurrency,
    )
    printer.rows(rows, LABEL_COLUMNS)
    per_label = Counter(label for row in rows if not row["error"] for label in row["labels"])
    printer.note(
        tally(rows, "file")
        + (
            "; examples per label: "
            + ", ".join(f"{label} {count}" for label, count in sorted(per_label.items()))
            if per_label
            else ""
        )
        + "."
    )
    _exit_if(rows, lambda row: bool(row["error"]))


def _exit_if(
    rows: Iterable[Mapping[str, Any]], failed: Callable[[Mapping[str, Any]], bool]
) -> None:
    rows = list(rows)
    if any((row.get("error") or {}).get("code") == "Unreachable" for row in rows):
        raise Unreachable("Cannot reach the server.")
    if any(failed(row) for row in rows):
        raise SystemExit(1)


# -- training ----------------------------------------------------------------------------------


def metrics_view(version: Mapping[str, Any]) -> Group:
    """A ready version's metrics for people: the overall figures, each label's, and (for a
    multiclass version) the confusion matrix."""
    parts: list[Any] = []
    metrics = version.get("metrics") or {}
    overall = metrics.get("overall") or {}
    head = (metrics.get("head") or {}).get("chosen")
    summary = Table(title=f"Version {version['number']}: {version['status']}", show_header=False)
    summary.add_column("figure")
    summary.add_column("value", justify="right")
    for label, value in (
        ("Examples", version.get("example_count")),
        ("Accuracy", overall.get("accuracy")),
        ("Precision", overall.get("precision")),
        ("Recall", overall.get("recall")),
        ("Mean average precision", overall.get("mean_average_precision")),
        ("Head", head),
        ("Training seconds", version.get("training_seconds")),
    ):
        if value is not None:
            summary.add_row(label, cell_text(value))
    parts.append(summary)
    if metrics.get("labels"):
        labels = Table(title="Per label (cross-validated)", title_justify="left")
        for header in ("Label", "Examples", "Precision", "Recall", "Average precision"):
            labels.add_column(header, justify="left" if header == "Label" else "right")
        for row in metrics["labels"]:
            labels.add_row(
                row["name"],
                cell_text(row["examples"]),
                cell_text(row["precision"]),
                cell_text(row["recall"]),
                cell_text(row["average_precision"]),
            )
        parts.append(labels)
    confusion = metrics.get("confusion_matrix") or {}
    if confusion.get("matrix"):
        parts.append(confusion_table(confusion["labels"], confusion["matrix"]))
    return Group(*parts)


def confusion_table(
    labels: Sequence[str], matrix: Sequence[Sequence[int]], columns: Sequence[str] = ()
) -> Table:
    """Rows: true labels; columns: predicted ones (`labels`, or `columns` when predictions
    include more, such as `None` for no label)."""
    table = Table(title="Confusion (rows: true label, columns: predicted)", title_justify="left")
    table.add_column("")
    for label in columns or labels:
        table.add_column(label, justify="right")
    for label, counts in zip(labels, matrix, strict=True):
        table.add_row(label, *(str(count) for count in counts))
    return table


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
@click.option(
    "--timeout",
    type=click.FloatRange(min=1),
    default=600.0,
    show_default=True,
    help="Seconds to wait for training.",
)
@output_options
@client_options
def classifiers_train(
    name: str,
    threshold: float | None,
    wait: bool,
    timeout: float,
    output: Format,
    client: Client,
) -> None:
    """Train a new version of NAME and wait until it is ready; print its cross-validated
    metrics: accuracy, each label's precision and recall, the confusion matrix (--json: the
    version as the API answers it)."""
    printer = Printer(output)
    version = plain(call(client.train, name, threshold=threshold))
    if wait:
        with printer.progress() as progress:
            progress.add_task(f"Training version {version['number']}", total=None)
            version = plain(call(client.wait_for_version, name, version["number"], timeout=timeout))
    if version["status"] == "training":
        printer.record(version, lambda value: f"Training version {value['number']} of {name}.")
        return
    printer.record(version, metrics_view)
    if version["status"] == "failed":
        raise click.ClickException((version.get("error") or {}).get("message", "Training failed."))


# -- testing and predicting --------------------------------------------------------------------


def prediction_view(answer: Mapping[str, Any]) -> Group:
    table = Table(title_justify="left")
    table.add_column("Label")
    table.add_column("Confidence", justify="right")
    for label in answer["labels"]:
        table.add_row(label["name"], cell_text(label["confidence"]))
    predicted = ", ".join(answer.get("predicted") or []) or "none"
    version = (answer.get("classifier") or {}).get("version")
    return Group(f"Predicted: {predicted} (version {version})", table)


def top(answer: Mapping[str, Any]) -> tuple[str | None, float | None]:
    predicted = answer.get("predicted") or []
    confidence = {label["name"]: label["confidence"] for label in answer["labels"]}
    if not predicted:
        return None, None
    return predicted[0], confidence.get(predicted[0])


TEST_COLUMNS = [
    Column("File", lambda row: row["path"]),
    Column("Predicted", lambda row: row["predicted"]),
    Column("Confidence", lambda row: row["confidence"], justify="right"),
    Column("Expected", lambda row: row["expected"]),
    Column("Problem", lambda row: row["error"]["message"] if row["error"] else ""),
]


@classifiers.command("test")
@click.argument("name")
@click.argument("paths", nargs=-1, required=True, metavar="DIR | PATH...")
@click.option("--version", type=int, help="A version other than the published one.")
@concurrency_option
@output_options
@server_options
def classifiers_test(
    name: str,
    paths: tuple[str, ...],
    version: int | None,
    concurrency: int,
    output: Format,
    server: Server,
) -> None:
    """Predict NAME's label for files, folders or globs (nothing is stored) and print a row
    per file: predicted label and its confidence. Given one folder with a sub-folder per
    label (DIR/cat/*.jpg, as `label` takes), also the accuracy and the confusion table."""
    single = Path(paths[0])
    per_label = (
        len(paths) == 1
        and single.is_dir()
        and any(child.is_dir() and not child.name.startswith(".") for child in single.iterdir())
    )
    work: list[tuple[Path, str | None]] = (
        [(path, label) for label, files in labelled_folders(single).items() for path in files]
        if per_label
        else [(path, None) for path in image_files(paths)]
    )

    def predict(client: Client, item: tuple[Path, str | None]) -> dict[str, Any]:
        path, expected = item
        row: dict[str, Any] = {
            "path": str(path),
            "predicted": None,
            "confidence": None,
            "expected": expected,
            "error": None,
        }
        try:
            answer = plain(client.predict(name, path, version=version))
        except (ApiError, httpx.HTTPError) as exc:
            row["error"] = error_of(exc, server.url)
        except OSError as exc:
            row["error"] = {"code": "Unreadable", "message": read_error(exc)}
        else:
            row["predicted"], row["confidence"] = top(answer)
        return row

    printer = Printer(output)
    rows = in_parallel(server, printer, "Predicting", work, predict, concurrency=concurrency)
    printer.rows(rows, TEST_COLUMNS)
    if per_label:
        scored = [row for row in rows if not row["error"]]
        right = sum(1 for row in scored if row["predicted"] == row["expected"])
        if scored:
            printer.note(f"Accuracy: {right / len(scored):.3f} ({right} of {len(scored)} files).")
        if printer.for_people and scored:
            labels = sorted({row["expected"] for row in scored})
            columns = labels + sorted({str(row["predicted"]) for row in scored} - set(labels))
            matrix = [
                [
                    sum(
                        1
                        for row in scored
                        if row["expected"] == truth and str(row["predicted"]) == guess
                    )
                    for guess in columns
                ]
                for truth in labels
            ]
            printer.out.print(confusion_table(labels, matrix, columns))
    _exit_if(rows, lambda row: bool(row["error"]))


@classifiers.command("predict")
@click.argument("name")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--version", type=int, help="A version other than the published one.")
@output_options
@client_options
def classifiers_predict(
    name: str, file: Path, version: int | None, output: Format, client: Client
) -> None:
    """Print NAME's labels for FILE, most likely first, with their confidence."""
    answer = call(client.predict, name, file, version=version)
    Printer(output).record(answer, prediction_view)


# -- publishing --------------------------------------------------------------------------------


def backfill_progress(
    client: Client, printer: Printer, record: Mapping[str, Any], *, stall_seconds: float = 15.0
) -> None:
    """Follows a backfill until every image has the published version's prediction (or,
    for `stall_seconds`, nothing more gets one: images it does not apply to)."""
    feature, version = record["feature"], str(record["published_version"])
    last, since = -1, time.monotonic()
    with printer.progress() as progress:
        task = progress.add_task(f"Predicting with {record['name']}", total=None)
        while True:
            total = done = 0
            for image in images_of(client, results=""):
                total += 1
                state = plain(image)["features"].get(feature)
                if state and state["version"] == version and state["status"] in FINISHED_FEATURE:
                    done += 1
            progress.update(task, total=total, completed=done)
            if done == total:
                break
            if done != last:
                last, since = done, time.monotonic()
            elif time.monotonic() - since > stall_seconds:
                break
            time.sleep(1.0)
    printer.note(f"{done} of {total} images have version {version}'s prediction.")


@classifiers.command("backfill")
@click.argument("name")
@click.option(
    "--wait/--no-wait",
    default=True,
    help="Follow the backfill with a progress bar until it is done.",
)
@output_options
@client_options
def classifiers_backfill(name: str, wait: bool, output: Format, client: Client) -> None:
    """Predict with NAME's published version on the images already stored (those without
    its prediction), in the background on the server."""
    printer = Printer(output)
    record = plain(call(client.backfill, name))
    if wait:
        call(backfill_progress, client, printer, record)
    printer.record(record, lambda value: f"Backfilled {describe(value)}.")


@classifiers.command("publish")
@click.argument("name")
@click.argument("version", type=int)
@click.option("--run-on-upload/--no-run-on-upload", default=None, help="Predict on every upload.")
@click.option(
    "--backfill",
    is_flag=True,
    help="Also predict on the images already stored, in the background (`classifiers "
    "backfill NAME` does it with a progress bar).",
)
@output_options
@client_options
def classifiers_publish(
    name: str,
    version: int,
    run_on_upload: bool | None,
    backfill: bool,
    output: Format,
    client: Client,
) -> None:
    """Publish VERSION of NAME (the one predictions and `custom:NAME` use)."""
    printer = Printer(output)
    record = call(client.publish, name, version)
    if run_on_upload is not None:
        record = call(client.update_classifier, name, run_on_upload=run_on_upload)
    if backfill:  # in the background: `classifiers backfill NAME` follows one
        record = call(client.backfill, name)
    printer.record(record, lambda value: f"Published {describe(value)}.")


@classifiers.command("export")
@click.argument("name")
@click.argument("version", type=int)
@click.option(
    "--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="Default: NAME-vN.zip"
)
@client_options
def classifiers_export(name: str, version: int, output: Path | None, client: Client) -> None:
    """Save VERSION of NAME as a zip: model.onnx (input: the embedding), labels, metrics."""
    data = call(client.export, name, version)
    target = output or Path(f"{name}-v{version}.zip")
    target.write_bytes(data)
    Printer().note(f"Wrote {target}.")
