"""A small synchronous client for the Sightline HTTP API."""

from __future__ import annotations

import builtins
import json
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote

import httpx

Source = str | Path | bytes | IO[bytes]
FINISHED = frozenset({"done", "failed"})


def _vectors(include_vectors: bool) -> dict[str, str]:
    """Image answers leave the `vector` of each result out unless asked for."""
    return {"include": "vectors"} if include_vectors else {}


class ApiError(Exception):
    """An error answer from the API, with its HTTP status and stable error code."""

    def __init__(self, status: int, code: str, message: str, details: dict[str, Any] | None = None):
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details = details or {}


class Client:
    def __init__(
        self,
        base_url: str = "http://127.0.0.1:8080",
        *,
        api_key: str | None = None,
        collection: str | None = None,
        timeout: float = 60.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        """With `collection`, every request reads and creates in that collection only."""
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        params = {"collection": collection} if collection else {}
        self._http = httpx.Client(
            base_url=base_url, headers=headers, params=params, timeout=timeout, transport=transport
        )

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # -- images ------------------------------------------------------------------------------

    def upload(
        self,
        source: Source,
        *,
        features: Sequence[str] | None = None,
        metadata: dict[str, Any] | None = None,
        filename: str | None = None,
        content_type: str = "application/octet-stream",
    ) -> dict[str, Any]:
        """Upload one image (a path, bytes or a binary file); returns the new image."""
        data, name = _read(source, filename)
        headers = {"Content-Type": content_type}
        if name:
            # RFC 8187's form: headers carry ASCII only, file names need not.
            headers["X-Filename"] = "UTF-8''" + quote(name, safe="")
        response = self._http.post(
            "/v1/images",
            content=data,
            headers=headers,
            params=_upload_params(features, metadata),
        )
        images: list[dict[str, Any]] = self._json(response)["images"]
        return images[0]

    def upload_many(
        self,
        sources: Iterable[Source],
        *,
        features: Sequence[str] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        """Upload several images in one multipart request: all are stored, or none."""
        files = []
        for index, source in enumerate(sources):
            data, name = _read(source, None)
            files.append(("file", (name or f"image-{index}", data, "application/octet-stream")))
        response = self._http.post(
            "/v1/images", files=files, params=_upload_params(features, metadata)
        )
        images: list[dict[str, Any]] = self._json(response)["images"]
        return images

    def get(self, image_id: str, *, include_vectors: bool = False) -> dict[str, Any]:
        """The image; its vector results (`embedding`, `semantic`…) without their `vector`
        unless `include_vectors`."""
        image: dict[str, Any] = self._json(
            self._http.get(f"/v1/images/{image_id}", params=_vectors(include_vectors))
        )
        return image

    def wait(
        self,
        image_id: str,
        *,
        timeout: float = 60.0,
        interval: float = 0.1,
        include_vectors: bool = False,
    ) -> dict[str, Any]:
        """Poll until the image is `done` or `failed`; TimeoutError past `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            image = self.get(image_id, include_vectors=include_vectors)
            if image["status"] in FINISHED:
                return image
            if time.monotonic() > deadline:
                raise TimeoutError(f"Image {image_id} still {image['status']} after {timeout}s")
            time.sleep(interval)

    def list(
        self,
        *,
        cursor: str | None = None,
        limit: int = 50,
        include_vectors: bool = False,
        **filters: Any,
    ) -> dict[str, Any]:
        """One page: `{"items": [...], "next_cursor": ...}`; filters as in `GET /v1/images`."""
        params = {key: value for key, value in filters.items() if value is not None}
        params.update(_vectors(include_vectors), limit=limit)
        if cursor:
            params["cursor"] = cursor
        page: dict[str, Any] = self._json(self._http.get("/v1/images", params=params))
        return page

    def iter_images(self, **filters: Any) -> Iterator[dict[str, Any]]:
        """Every image matching the filters, following cursors page by page."""
        cursor = None
        while True:
            page = self.list(cursor=cursor, **filters)
            yield from page["items"]
            cursor = page["next_cursor"]
            if not cursor:
                return

    def delete(self, image_id: str) -> None:
        self._json(self._http.delete(f"/v1/images/{image_id}"))

    def create_upload(
        self,
        filename: str | None = None,
        *,
        features: Sequence[str] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """A presigned form upload straight into the object store (S3 blob stores only): POST
        `fields` and the file to `url`; the image will have the id `id`."""
        body = {
            "filename": filename,
            "features": list(features) if features is not None else None,
            "metadata": metadata,
        }
        ticket: dict[str, Any] = self._json(self._http.post("/v1/uploads", json=body))
        return ticket

    def upload_status(self, upload_id: str) -> dict[str, Any]:
        """`waiting`, `catalogued`, `rejected` (with `error`) or `expired`."""
        state: dict[str, Any] = self._json(self._http.get(f"/v1/uploads/{upload_id}"))
        return state

    def reprocess(
        self, image_id: str, features: Sequence[str] | None = None, *, outdated_only: bool = False
    ) -> dict[str, Any]:
        body = {
            "features": list(features) if features is not None else None,
            "outdated_only": outdated_only,
        }
        image: dict[str, Any] = self._json(
            self._http.post(f"/v1/images/{image_id}/reprocess", json=body)
        )
        return image

    def content(self, image_id: str) -> bytes:
        return self._bytes(self._http.get(f"/v1/images/{image_id}/content"))

    def thumbnail(self, image_id: str, size: int = 256) -> bytes:
        return self._bytes(
            self._http.get(f"/v1/images/{image_id}/thumbnail", params={"size": size})
        )

    def duplicates(
        self, image_id: str, max_distance: int = 6, *, include_vectors: bool = False
    ) -> builtins.list[dict[str, Any]]:
        response = self._http.get(
            f"/v1/images/{image_id}/duplicates",
            params={"max_distance": max_distance, **_vectors(include_vectors)},
        )
        items: builtins.list[dict[str, Any]] = self._json(response)["items"]
        return items

    def similar(
        self,
        image_id: str,
        *,
        limit: int = 10,
        feature: str | None = None,
        include_vectors: bool = False,
    ) -> dict[str, Any]:
        """Nearest images by vector: `{"items": [{"score", "image"}], "method", ...}`."""
        params: dict[str, Any] = {"limit": limit, **_vectors(include_vectors)}
        if feature:
            params["feature"] = feature
        found: dict[str, Any] = self._json(
            self._http.get(f"/v1/images/{image_id}/similar", params=params)
        )
        return found

    # -- search ------------------------------------------------------------------------------

    def search(
        self,
        q: str | None = None,
        *,
        mode: str = "text",
        limit: int = 20,
        include_vectors: bool = False,
        **filters: Any,
    ) -> dict[str, Any]:
        """One page of `GET /v1/search`: `{"items": [{"score", "image"}], "next_cursor",
        "method", "total", "strategy", "ignored_words"}`. Filters as the endpoint takes them
        (lists for repeatable ones)."""
        params: dict[str, Any] = {k: v for k, v in filters.items() if v is not None}
        params.update(_vectors(include_vectors), mode=mode, limit=limit)
        if q is not None:
            params["q"] = q
        page: dict[str, Any] = self._json(self._http.get("/v1/search", params=params))
        return page

    # -- custom classifiers ------------------------------------------------------------------

    def create_classifier(
        self, name: str, kind: str = "multiclass", description: str = ""
    ) -> dict[str, Any]:
        body = {"name": name, "kind": kind, "description": description}
        created: dict[str, Any] = self._json(self._http.post("/v1/classifiers", json=body))
        return created

    def classifier(self, key: str) -> dict[str, Any]:
        """A classifier by id or name."""
        found: dict[str, Any] = self._json(self._http.get(f"/v1/classifiers/{key}"))
        return found

    def classifiers(self) -> builtins.list[dict[str, Any]]:
        items: builtins.list[dict[str, Any]] = self._json(self._http.get("/v1/classifiers"))[
            "items"
        ]
        return items

    def update_classifier(self, key: str, **changes: Any) -> dict[str, Any]:
        """`description=…`, `run_on_upload=True/False`."""
        updated: dict[str, Any] = self._json(
            self._http.patch(f"/v1/classifiers/{key}", json=changes)
        )
        return updated

    def delete_classifier(self, key: str) -> None:
        self._json(self._http.delete(f"/v1/classifiers/{key}"))

    def add_examples(
        self, key: str, examples: Iterable[tuple[str, str | Sequence[str]]]
    ) -> dict[str, Any]:
        """Label stored images: `(image_id, label or labels)` pairs. Returns the 207 report."""
        body = {
            "examples": [
                {"image_id": image_id, "labels": [labels] if isinstance(labels, str) else labels}
                for image_id, labels in examples
            ]
        }
        report: dict[str, Any] = self._json(
            self._http.post(f"/v1/classifiers/{key}/examples", json=body)
        )
        return report

    def upload_examples(
        self, key: str, sources: Iterable[Source], labels: str | Sequence[str]
    ) -> dict[str, Any]:
        """Store files as new images labelled `labels`. Returns the 207 report."""
        files = []
        for index, source in enumerate(sources):
            data, name = _read(source, None)
            files.append(("file", (name or f"image-{index}", data, "application/octet-stream")))
        names = [labels] if isinstance(labels, str) else list(labels)
        report: dict[str, Any] = self._json(
            self._http.post(
                f"/v1/classifiers/{key}/examples", files=files, params={"labels": names}
            )
        )
        return report

    def examples(self, key: str, *, label: str | None = None) -> builtins.list[dict[str, Any]]:
        """Every labelled image of the classifier (optionally one label's)."""
        found: builtins.list[dict[str, Any]] = []
        cursor = None
        while True:
            params: dict[str, Any] = {"limit": 1000}
            if label is not None:
                params["label"] = label
            if cursor:
                params["cursor"] = cursor
            page = self._json(self._http.get(f"/v1/classifiers/{key}/examples", params=params))
            found.extend(page["items"])
            cursor = page["next_cursor"]
            if not cursor:
                return found

    def remove_examples(
        self, key: str, image_ids: Sequence[str], *, label: str | None = None
    ) -> int:
        params: dict[str, Any] = {"image_id": list(image_ids)}
        if label is not None:
            params["label"] = label
        removed: int = self._json(
            self._http.delete(f"/v1/classifiers/{key}/examples", params=params)
        )["removed"]
        return removed

    def train(self, key: str, *, threshold: float | None = None) -> dict[str, Any]:
        """Request a new version; returns it with status `training`."""
        version: dict[str, Any] = self._json(
            self._http.post(
                f"/v1/classifiers/{key}/train",
                json={} if threshold is None else {"threshold": threshold},
            )
        )
        return version

    def version(self, key: str, number: int) -> dict[str, Any]:
        found: dict[str, Any] = self._json(
            self._http.get(f"/v1/classifiers/{key}/versions/{number}")
        )
        return found

    def wait_for_version(
        self, key: str, number: int, *, timeout: float = 120.0, interval: float = 0.2
    ) -> dict[str, Any]:
        """Poll until the version is `ready` or `failed`."""
        deadline = time.monotonic() + timeout
        while True:
            version = self.version(key, number)
            if version["status"] != "training":
                return version
            if time.monotonic() > deadline:
                raise TimeoutError(f"Version {number} of {key} still training after {timeout}s")
            time.sleep(interval)

    def publish(self, key: str, number: int) -> dict[str, Any]:
        published: dict[str, Any] = self._json(
            self._http.post(f"/v1/classifiers/{key}/versions/{number}/publish")
        )
        return published

    def predict(
        self,
        key: str,
        source: Source | None = None,
        *,
        image_id: str | None = None,
        version: int | None = None,
    ) -> dict[str, Any]:
        """Label probabilities for a file (or a stored image with `image_id`)."""
        params = {"version": version} if version is not None else {}
        url = f"/v1/classifiers/{key}/predict"
        if image_id is not None:
            response = self._http.post(url, json={"image_id": image_id}, params=params)
        elif source is not None:
            data, _name = _read(source, None)
            headers = {"Content-Type": "application/octet-stream"}
            response = self._http.post(url, content=data, headers=headers, params=params)
        else:
            raise ValueError("Give a source or an image_id.")
        found: dict[str, Any] = self._json(response)
        return found

    def export(self, key: str, number: int) -> bytes:
        """The version as a zip: `model.onnx`, `labels.txt`, `classifier.json`."""
        return self._bytes(self._http.get(f"/v1/classifiers/{key}/versions/{number}/export"))

    def backfill(self, key: str, *, only_missing: bool = True) -> dict[str, Any]:
        found: dict[str, Any] = self._json(
            self._http.post(f"/v1/classifiers/{key}/backfill", json={"only_missing": only_missing})
        )
        return found

    # -- event subscriptions -----------------------------------------------------------------

    def create_subscription(self, endpoint: str, **fields: Any) -> dict[str, Any]:
        """Subscribe an endpoint (it must accept the validation handshake). Fields as the API
        takes them: `event_types`, `data_filters`, `max_events_per_batch`, `secret`… The
        answer is the only one carrying the `secret` (until rotated)."""
        created: dict[str, Any] = self._json(
            self._http.post("/v1/subscriptions", json={"endpoint": endpoint, **fields})
        )
        return created

    def subscriptions(self) -> builtins.list[dict[str, Any]]:
        found: builtins.list[dict[str, Any]] = self._json(self._http.get("/v1/subscriptions"))[
            "subscriptions"
        ]
        return found

    def subscription(self, subscription_id: str) -> dict[str, Any]:
        found: dict[str, Any] = self._json(self._http.get(f"/v1/subscriptions/{subscription_id}"))
        return found

    def update_subscription(self, subscription_id: str, **changes: Any) -> dict[str, Any]:
        """`paused=True`, `endpoint=…`, `rotate_secret=True` (the answer has the new secret)…"""
        updated: dict[str, Any] = self._json(
            self._http.patch(f"/v1/subscriptions/{subscription_id}", json=changes)
        )
        return updated

    def delete_subscription(self, subscription_id: str) -> None:
        self._json(self._http.delete(f"/v1/subscriptions/{subscription_id}"))

    def deliveries(
        self,
        subscription_id: str,
        *,
        status: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> dict[str, Any]:
        """One page, newest first: `{"deliveries": [...], "next_cursor": ...}`; `status`
        `pending`, `delivered` or `dead_lettered`."""
        params: dict[str, Any] = {"limit": limit}
        if status is not None:
            params["status"] = status
        if cursor:
            params["cursor"] = cursor
        page: dict[str, Any] = self._json(
            self._http.get(f"/v1/subscriptions/{subscription_id}/deliveries", params=params)
        )
        return page

    def delivery_attempts(
        self, subscription_id: str, *, limit: int = 50, cursor: str | None = None
    ) -> dict[str, Any]:
        """One page of the delivery log, newest first: `{"attempts": [...], "next_cursor"}`."""
        params: dict[str, Any] = {"limit": limit}
        if cursor:
            params["cursor"] = cursor
        page: dict[str, Any] = self._json(
            self._http.get(f"/v1/subscriptions/{subscription_id}/attempts", params=params)
        )
        return page

    def redeliver(self, subscription_id: str, delivery_id: str) -> dict[str, Any]:
        """Send a dead letter again; returns the delivery, pending."""
        delivery: dict[str, Any] = self._json(
            self._http.post(
                f"/v1/subscriptions/{subscription_id}/deliveries/{delivery_id}/redeliver"
            )
        )
        return delivery

    def redeliver_all(self, subscription_id: str) -> int:
        """Send every dead letter of the subscription again; returns how many."""
        requeued: int = self._json(
            self._http.post(f"/v1/subscriptions/{subscription_id}/redeliver")
        )["requeued"]
        return requeued

    # -- plumbing ----------------------------------------------------------------------------

    def _json(self, response: httpx.Response) -> Any:
        self._raise_for_error(response)
        return response.json() if response.content else None

    def _bytes(self, response: httpx.Response) -> bytes:
        self._raise_for_error(response)
        return response.content

    @staticmethod
    def _raise_for_error(response: httpx.Response) -> None:
        if response.is_success:
            return
        try:
            error = response.json()["error"]
        except (ValueError, KeyError, TypeError):
            raise ApiError(response.status_code, "HttpError", response.text) from None
        raise ApiError(response.status_code, error["code"], error["message"], error.get("details"))


def _read(source: Source, filename: str | None) -> tuple[bytes, str | None]:
    if isinstance(source, bytes):
        return source, filename
    if isinstance(source, str | Path):
        path = Path(source)
        return path.read_bytes(), filename or path.name
    return source.read(), filename or getattr(source, "name", None)


def _upload_params(
    features: Sequence[str] | None, metadata: dict[str, Any] | None
) -> dict[str, str]:
    params = {}
    if features is not None:
        params["features"] = ",".join(features)
    if metadata is not None:
        params["metadata"] = json.dumps(metadata)
    return params
