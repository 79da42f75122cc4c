"""Every call of the client, written once as an operation (see exchange.py) that both the sync
and the async client run: what to send, what the answer means, and the calls that take several
requests (batched uploads, waiting for many images, idempotent upload retries)."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TypeVar
from urllib.parse import quote

import httpx

from sightline.client.exchange import ApiError, Call, Operation, Pause, Retry, send
from sightline.client.models import (
    AttemptPage,
    BatchReport,
    Classifier,
    ClassifierVersion,
    Delivery,
    DeliveryPage,
    Duplicate,
    Example,
    Image,
    ImagePage,
    JsonRecord,
    Prediction,
    SearchPage,
    SimilarPage,
    Subscription,
    SubscriptionWithSecret,
    UploadedImage,
    UploadState,
    UploadTicket,
)

Source = str | Path | bytes | IO[bytes]
ImageRef = str | Image | Mapping[str, Any]  # an id, or an image answer (typed or JSON)
Progress = Callable[[int, int], None]  # (finished, total)
M = TypeVar("M", bound=JsonRecord)

# The server's defaults (`SIGHTLINE_MAX_FILES_PER_REQUEST`, and a quarter of
# `SIGHTLINE_MAX_REQUEST_BYTES`: a batch's bytes are held in memory while it is sent).
BATCH_FILES = 100
BATCH_BYTES = 64 * 1024 * 1024


def answer(model: type[M], retry: Retry, call: Call, *, idempotent: bool = True) -> Operation[M]:
    response = yield from send(retry, call, idempotent=idempotent)
    return model.model_validate(response.json())


def done(retry: Retry, /, call: Call) -> Operation[None]:
    yield from send(retry, call)


def _vectors(include_vectors: bool) -> dict[str, str]:
    """Image answers leave the `vector` of each result out unless asked for."""
    return {"include": "vectors"} if include_vectors else {}


# -- images --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class File:
    name: str | None
    data: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def read(source: Source, filename: str | None = None) -> File:
    if isinstance(source, bytes):
        return File(filename, source)
    if isinstance(source, str | Path):
        path = Path(source)
        return File(filename or path.name, path.read_bytes())
    return File(filename or getattr(source, "name", None), source.read())


def upload_params(
    features: Sequence[str] | None, metadata: dict[str, Any] | None
) -> dict[str, str]:
    params = {}
    if features is not None:
        params["features"] = ",".join(features)
    if metadata is not None:
        params["metadata"] = json.dumps(metadata)
    return params


def upload(
    retry: Retry,
    /,
    source: Source,
    *,
    features: Sequence[str] | None = None,
    metadata: dict[str, Any] | None = None,
    filename: str | None = None,
    content_type: str = "application/octet-stream",
) -> Operation[UploadedImage]:
    """Upload one image (a path, bytes or a binary file); returns the new image."""
    file = read(source, filename)
    headers = {"Content-Type": content_type}
    if file.name:
        # RFC 8187's form: headers carry ASCII only, file names need not.
        headers["X-Filename"] = "UTF-8''" + quote(file.name, safe="")
    call = Call(
        "POST",
        "/v1/images",
        params=upload_params(features, metadata),
        headers=headers,
        content=file.data,
    )
    images = yield from store(retry, call, [file], metadata)
    return images[0]


def upload_many(
    retry: Retry,
    /,
    sources: Iterable[Source],
    *,
    features: Sequence[str] | None = None,
    metadata: dict[str, Any] | None = None,
    batch_files: int = BATCH_FILES,
    batch_bytes: int = BATCH_BYTES,
) -> Operation[list[UploadedImage]]:
    """Upload many images, in as many multipart requests as the server's limits need (at most
    `batch_files` files and about `batch_bytes` bytes each); returns every image, in order.
    Each batch is stored whole or not at all; a batch that fails raises, and the batches
    before it stay stored."""
    images: list[UploadedImage] = []
    for batch in batches(sources, batch_files, batch_bytes):
        named = [File(file.name or f"image-{index}", file.data) for index, file in batch]
        files = [
            ("file", (str(file.name), file.data, "application/octet-stream")) for file in named
        ]
        call = Call("POST", "/v1/images", params=upload_params(features, metadata), files=files)
        stored = yield from store(retry, call, named, metadata)
        images.extend(stored)
    return images


def batches(
    sources: Iterable[Source], most_files: int, most_bytes: int
) -> Iterator[list[tuple[int, File]]]:
    """The files read one batch at a time (a file larger than `most_bytes` goes alone)."""
    batch: list[tuple[int, File]] = []
    size = 0
    for index, source in enumerate(sources):
        file = read(source)
        if batch and (len(batch) == most_files or size + len(file.data) > most_bytes):
            yield batch
            batch, size = [], 0
        batch.append((index, file))
        size += len(file.data)
    if batch:
        yield batch


def store(
    retry: Retry, /, call: Call, files: Sequence[File], metadata: dict[str, Any] | None
) -> Operation[list[UploadedImage]]:
    """Send an upload; when it fails in a way that may have stored it (the answer lost, a
    timeout, a 503), look the files up by content hash before sending them again, so that
    a retry never stores them twice."""
    attempt = 0
    while True:
        if attempt:
            found = yield from stored_copies(retry, files, metadata)
            if found is not None:
                return found
        try:
            response = yield from send(Retry(retries=0), call, idempotent=False)
            images: list[UploadedImage] = [
                UploadedImage.model_validate(image) for image in response.json()["images"]
            ]
            return images
        except (httpx.TransportError, ApiError) as error:
            wait = retry.delay(error, attempt, idempotent=True)
            if wait is None:
                raise
        yield Pause(wait)
        attempt += 1


def stored_copies(
    retry: Retry, /, files: Sequence[File], metadata: dict[str, Any] | None
) -> Operation[list[UploadedImage] | None]:
    """The images holding these files (same bytes, file name and metadata), newest first; None
    unless every file has one: then the upload was not stored."""
    found = []
    for file in files:
        page = yield from answer(
            ImagePage, retry, Call("GET", "/v1/images", params={"sha256": file.sha256})
        )
        match = next(
            (
                image
                for image in page.items
                if image.filename == file.name and image.metadata == (metadata or {})
            ),
            None,
        )
        if match is None:
            return None
        found.append(
            UploadedImage.model_validate(
                {**match.model_dump(), "duplicate": match.duplicate_of is not None}
            )
        )
    return found


def get(retry: Retry, /, image_id: str, *, include_vectors: bool = False) -> Operation[Image]:
    """The image; its vector results (`embedding`, `semantic`…) without their `vector`
    unless `include_vectors`."""
    call = Call("GET", f"/v1/images/{image_id}", params=_vectors(include_vectors))
    return (yield from answer(Image, retry, call))


def wait(
    retry: Retry,
    /,
    image_id: ImageRef,
    *,
    timeout: float = 60.0,
    interval: float = 0.1,
    include_vectors: bool = False,
) -> Operation[Image]:
    """Poll until the image (an id, or an image answer) is `done` or `failed`; TimeoutError
    past `timeout` seconds."""
    images = yield from wait_all(
        retry, [image_id], timeout=timeout, interval=interval, include_vectors=include_vectors
    )
    return images[0]


def wait_all(
    retry: Retry,
    /,
    images: Iterable[ImageRef],
    *,
    timeout: float = 300.0,
    interval: float = 0.2,
    include_vectors: bool = False,
    progress: Progress | None = None,
) -> Operation[list[Image]]:
    """Wait until every image (ids, or image answers) is `done` or `failed`; returns them in
    the order given. `progress(finished, total)` is called as images finish. TimeoutError
    past `timeout` seconds."""
    ids = [image if isinstance(image, str) else str(image["id"]) for image in images]
    finished: dict[str, Image] = {}
    deadline = time.monotonic() + timeout
    while True:
        # Images are analysed about in upload order: each round reads the waiting ones in
        # order up to the first still unfinished, so a round costs one request plus one for
        # each image that finished since the last.
        for image_id in ids:
            if image_id in finished:
                continue
            image = yield from get(retry, image_id, include_vectors=include_vectors)
            if not image.finished:
                break
            finished[image_id] = image
            if progress is not None:
                progress(len(finished), len(set(ids)))
        else:
            return [finished[image_id] for image_id in ids]
        if time.monotonic() > deadline:
            waiting = len(set(ids)) - len(finished)
            raise TimeoutError(
                f"{waiting} of {len(set(ids))} images still not analysed after {timeout}s "
                f"(image {image_id} is {image.status})"
            )
        yield Pause(interval)


def list_images(
    retry: Retry,
    /,
    *,
    cursor: str | None = None,
    limit: int = 50,
    include_vectors: bool = False,
    **filters: Any,
) -> Operation[ImagePage]:
    """One page: `items` and `next_cursor`; filters as in `GET /v1/images` (`status`,
    `sha256`…)."""
    params = {key: value for key, value in filters.items() if value is not None}
    params.update(_vectors(include_vectors), limit=limit)
    if cursor:
        params["cursor"] = cursor
    return (yield from answer(ImagePage, retry, Call("GET", "/v1/images", params=params)))


def delete(retry: Retry, /, image_id: str) -> Operation[None]:
    yield from done(retry, Call("DELETE", f"/v1/images/{image_id}"))


def create_upload(
    retry: Retry,
    /,
    filename: str | None = None,
    *,
    features: Sequence[str] | None = None,
    metadata: dict[str, Any] | None = None,
) -> Operation[UploadTicket]:
    """A presigned form upload straight into the object store (S3 blob stores only): POST
    `fields` and the file to `url`; the image will have the id `id`."""
    body = {
        "filename": filename,
        "features": list(features) if features is not None else None,
        "metadata": metadata,
    }
    call = Call("POST", "/v1/uploads", json=body)
    return (yield from answer(UploadTicket, retry, call, idempotent=False))


def upload_status(retry: Retry, /, upload_id: str) -> Operation[UploadState]:
    """`waiting`, `catalogued`, `rejected` (with `error`) or `expired`."""
    return (yield from answer(UploadState, retry, Call("GET", f"/v1/uploads/{upload_id}")))


def reprocess(
    retry: Retry,
    /,
    image_id: str,
    features: Sequence[str] | None = None,
    *,
    outdated_only: bool = False,
) -> Operation[Image]:
    body = {
        "features": list(features) if features is not None else None,
        "outdated_only": outdated_only,
    }
    call = Call("POST", f"/v1/images/{image_id}/reprocess", json=body)
    return (yield from answer(Image, retry, call, idempotent=False))


def content(retry: Retry, /, image_id: str) -> Operation[bytes]:
    response = yield from send(retry, Call("GET", f"/v1/images/{image_id}/content"))
    return response.content


def thumbnail(retry: Retry, /, image_id: str, size: int = 256) -> Operation[bytes]:
    call = Call("GET", f"/v1/images/{image_id}/thumbnail", params={"size": size})
    response = yield from send(retry, call)
    return response.content


def duplicates(
    retry: Retry, /, image_id: str, max_distance: int = 6, *, include_vectors: bool = False
) -> Operation[list[Duplicate]]:
    params = {"max_distance": max_distance, **_vectors(include_vectors)}
    response = yield from send(
        retry, Call("GET", f"/v1/images/{image_id}/duplicates", params=params)
    )
    return [Duplicate.model_validate(item) for item in response.json()["items"]]


def similar(
    retry: Retry,
    /,
    image_id: str,
    *,
    limit: int = 10,
    feature: str | None = None,
    include_vectors: bool = False,
) -> Operation[SimilarPage]:
    """Nearest images by vector: `items` (`score`, `image`), `method`, `feature`…"""
    params: dict[str, Any] = {"limit": limit, **_vectors(include_vectors)}
    if feature:
        params["feature"] = feature
    call = Call("GET", f"/v1/images/{image_id}/similar", params=params)
    return (yield from answer(SimilarPage, retry, call))


# -- search --------------------------------------------------------------------------------------


def search(
    retry: Retry,
    /,
    q: str | None = None,
    *,
    mode: str = "text",
    limit: int = 20,
    include_vectors: bool = False,
    **filters: Any,
) -> Operation[SearchPage]:
    """One page of `GET /v1/search`: `items` (`score`, `image`), `next_cursor`, `method`,
    `total`, `strategy`, `ignored_words`, `threshold`. Filters as the endpoint takes them
    (lists for repeatable ones)."""
    params: dict[str, Any] = {k: v for k, v in filters.items() if v is not None}
    params.update(_vectors(include_vectors), mode=mode, limit=limit)
    if q is not None:
        params["q"] = q
    return (yield from answer(SearchPage, retry, Call("GET", "/v1/search", params=params)))


# -- custom classifiers --------------------------------------------------------------------------


def create_classifier(
    retry: Retry, /, name: str, kind: str = "multiclass", description: str = ""
) -> Operation[Classifier]:
    body = {"name": name, "kind": kind, "description": description}
    call = Call("POST", "/v1/classifiers", json=body)
    return (yield from answer(Classifier, retry, call, idempotent=False))


def classifier(retry: Retry, /, key: str) -> Operation[Classifier]:
    """A classifier by id or name."""
    return (yield from answer(Classifier, retry, Call("GET", f"/v1/classifiers/{key}")))


def classifiers(retry: Retry) -> Operation[list[Classifier]]:
    response = yield from send(retry, Call("GET", "/v1/classifiers"))
    return [Classifier.model_validate(item) for item in response.json()["items"]]


def update_classifier(retry: Retry, /, key: str, **changes: Any) -> Operation[Classifier]:
    """`description=…`, `run_on_upload=True/False`."""
    call = Call("PATCH", f"/v1/classifiers/{key}", json=changes)
    return (yield from answer(Classifier, retry, call, idempotent=False))


def delete_classifier(retry: Retry, /, key: str) -> Operation[None]:
    yield from done(retry, Call("DELETE", f"/v1/classifiers/{key}"))


def add_examples(
    retry: Retry, /, key: str, examples: Iterable[tuple[str, str | Sequence[str]]]
) -> Operation[BatchReport]:
    """Label stored images: `(image_id, label or labels)` pairs. Returns the 207 report."""
    body = {
        "examples": [
            {"image_id": image_id, "labels": [labels] if isinstance(labels, str) else labels}
            for image_id, labels in examples
        ]
    }
    call = Call("POST", f"/v1/classifiers/{key}/examples", json=body)
    return (yield from answer(BatchReport, retry, call, idempotent=False))


def upload_examples(
    retry: Retry, /, key: str, sources: Iterable[Source], labels: str | Sequence[str]
) -> Operation[BatchReport]:
    """Store files as new images labelled `labels`. Returns the 207 report."""
    files = []
    for index, source in enumerate(sources):
        file = read(source)
        files.append(
            ("file", (file.name or f"image-{index}", file.data, "application/octet-stream"))
        )
    names = [labels] if isinstance(labels, str) else list(labels)
    call = Call("POST", f"/v1/classifiers/{key}/examples", params={"labels": names}, files=files)
    return (yield from answer(BatchReport, retry, call, idempotent=False))


def examples(retry: Retry, /, key: str, *, label: str | None = None) -> Operation[list[Example]]:
    """Every labelled image of the classifier (optionally one label's)."""
    found: list[Example] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 1000}
        if label is not None:
            params["label"] = label
        if cursor:
            params["cursor"] = cursor
        call = Call("GET", f"/v1/classifiers/{key}/examples", params=params)
        page = (yield from send(retry, call)).json()
        found.extend(Example.model_validate(item) for item in page["items"])
        cursor = page["next_cursor"]
        if not cursor:
            return found


def remove_examples(
    retry: Retry, /, key: str, image_ids: Sequence[str], *, label: str | None = None
) -> Operation[int]:
    params: dict[str, Any] = {"image_id": list(image_ids)}
    if label is not None:
        params["label"] = label
    call = Call("DELETE", f"/v1/classifiers/{key}/examples", params=params)
    removed: int = (yield from send(retry, call)).json()["removed"]
    return removed


def train(
    retry: Retry, /, key: str, *, threshold: float | None = None
) -> Operation[ClassifierVersion]:
    """Request a new version; returns it with status `training`."""
    body = {} if threshold is None else {"threshold": threshold}
    call = Call("POST", f"/v1/classifiers/{key}/train", json=body)
    return (yield from answer(ClassifierVersion, retry, call, idempotent=False))


def version(retry: Retry, /, key: str, number: int) -> Operation[ClassifierVersion]:
    call = Call("GET", f"/v1/classifiers/{key}/versions/{number}")
    return (yield from answer(ClassifierVersion, retry, call))


def wait_for_version(
    retry: Retry, /, key: str, number: int, *, timeout: float = 120.0, interval: float = 0.2
) -> Operation[ClassifierVersion]:
    """Poll until the version is `ready` or `failed`."""
    deadline = time.monotonic() + timeout
    while True:
        found = yield from version(retry, key, number)
        if found.status != "training":
            return found
        if time.monotonic() > deadline:
            raise TimeoutError(f"Version {number} of {key} still training after {timeout}s")
        yield Pause(interval)


def publish(retry: Retry, /, key: str, number: int) -> Operation[Classifier]:
    call = Call("POST", f"/v1/classifiers/{key}/versions/{number}/publish")
    return (yield from answer(Classifier, retry, call))  # publishing twice changes nothing


def predict(
    retry: Retry,
    /,
    key: str,
    source: Source | None = None,
    *,
    image_id: str | None = None,
    version: int | None = None,
) -> Operation[Prediction]:
    """Label probabilities for a file (or a stored image with `image_id`); predicting
    changes nothing, so it is retried like a read."""
    params = {"version": version} if version is not None else {}
    url = f"/v1/classifiers/{key}/predict"
    if image_id is not None:
        call = Call("POST", url, params=params, json={"image_id": image_id})
    elif source is not None:
        headers = {"Content-Type": "application/octet-stream"}
        call = Call("POST", url, params=params, headers=headers, content=read(source).data)
    else:
        raise ValueError("Give a source or an image_id.")
    return (yield from answer(Prediction, retry, call))


def export(retry: Retry, /, key: str, number: int) -> Operation[bytes]:
    """The version as a zip: `model.onnx`, `labels.txt`, `classifier.json`."""
    call = Call("GET", f"/v1/classifiers/{key}/versions/{number}/export")
    return (yield from send(retry, call)).content


def backfill(retry: Retry, /, key: str, *, only_missing: bool = True) -> Operation[Classifier]:
    call = Call("POST", f"/v1/classifiers/{key}/backfill", json={"only_missing": only_missing})
    return (yield from answer(Classifier, retry, call, idempotent=False))


# -- event subscriptions -------------------------------------------------------------------------


def create_subscription(
    retry: Retry, /, endpoint: str, **fields: Any
) -> Operation[SubscriptionWithSecret]:
    """Subscribe an endpoint (it must accept the validation handshake). Fields as the API
    takes them: `event_types`, `data_filters`, `max_events_per_batch`, `secret`… The
    answer is the only one carrying the `secret` (until rotated)."""
    call = Call("POST", "/v1/subscriptions", json={"endpoint": endpoint, **fields})
    return (yield from answer(SubscriptionWithSecret, retry, call, idempotent=False))


def subscriptions(retry: Retry) -> Operation[list[Subscription]]:
    response = yield from send(retry, Call("GET", "/v1/subscriptions"))
    return [Subscription.model_validate(item) for item in response.json()["subscriptions"]]


def subscription(retry: Retry, /, subscription_id: str) -> Operation[Subscription]:
    call = Call("GET", f"/v1/subscriptions/{subscription_id}")
    return (yield from answer(Subscription, retry, call))


def update_subscription(
    retry: Retry, /, subscription_id: str, **changes: Any
) -> Operation[SubscriptionWithSecret]:
    """`paused=True`, `endpoint=…`, `rotate_secret=True` (the answer has the new secret)…"""
    call = Call("PATCH", f"/v1/subscriptions/{subscription_id}", json=changes)
    return (yield from answer(SubscriptionWithSecret, retry, call, idempotent=False))


def delete_subscription(retry: Retry, /, subscription_id: str) -> Operation[None]:
    yield from done(retry, Call("DELETE", f"/v1/subscriptions/{subscription_id}"))


def deliveries(
    retry: Retry,
    /,
    subscription_id: str,
    *,
    status: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> Operation[DeliveryPage]:
    """One page, newest first: `deliveries` and `next_cursor`; `status` `pending`,
    `delivered` or `dead_lettered`."""
    params: dict[str, Any] = {"limit": limit}
    if status is not None:
        params["status"] = status
    if cursor:
        params["cursor"] = cursor
    call = Call("GET", f"/v1/subscriptions/{subscription_id}/deliveries", params=params)
    return (yield from answer(DeliveryPage, retry, call))


def delivery_attempts(
    retry: Retry, /, subscription_id: str, *, limit: int = 50, cursor: str | None = None
) -> Operation[AttemptPage]:
    """One page of the delivery log, newest first: `attempts` and `next_cursor`."""
    params: dict[str, Any] = {"limit": limit}
    if cursor:
        params["cursor"] = cursor
    call = Call("GET", f"/v1/subscriptions/{subscription_id}/attempts", params=params)
    return (yield from answer(AttemptPage, retry, call))


def redeliver(retry: Retry, /, subscription_id: str, delivery_id: str) -> Operation[Delivery]:
    """Send a dead letter again; returns the delivery, pending."""
    url = f"/v1/subscriptions/{subscription_id}/deliveries/{delivery_id}/redeliver"
    return (yield from answer(Delivery, retry, Call("POST", url), idempotent=False))


def redeliver_all(retry: Retry, /, subscription_id: str) -> Operation[int]:
    """Send every dead letter of the subscription again; returns how many."""
    call = Call("POST", f"/v1/subscriptions/{subscription_id}/redeliver")
    requeued: int = (yield from send(retry, call, idempotent=False)).json()["requeued"]
    return requeued
