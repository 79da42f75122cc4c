"""A small synchronous client for the Sightline HTTP API."""

from __future__ import annotations

import builtins
import json
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any

import httpx

Source = str | Path | bytes | IO[bytes]
FINISHED = frozenset({"done", "failed"})


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
        timeout: float = 60.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.Client(
            base_url=base_url, headers=headers, timeout=timeout, transport=transport
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
            headers["X-Filename"] = name
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

    def get(self, image_id: str) -> dict[str, Any]:
        image: dict[str, Any] = self._json(self._http.get(f"/v1/images/{image_id}"))
        return image

    def wait(
        self, image_id: str, *, timeout: float = 60.0, interval: float = 0.1
    ) -> dict[str, Any]:
        """Poll until the image is `done` or `failed`; TimeoutError past `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            image = self.get(image_id)
            if image["status"] in FINISHED:
                return image
            if time.monotonic() > deadline:
                raise TimeoutError(f"Image {image_id} still {image['status']} after {timeout}s")
            time.sleep(interval)

    def list(self, *, cursor: str | None = None, limit: int = 50, **filters: Any) -> dict[str, Any]:
        """One page: `{"items": [...], "next_cursor": ...}`; filters as in `GET /v1/images`."""
        params = {key: value for key, value in filters.items() if value is not None}
        params["limit"] = limit
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

    def duplicates(self, image_id: str, max_distance: int = 6) -> builtins.list[dict[str, Any]]:
        response = self._http.get(
            f"/v1/images/{image_id}/duplicates", params={"max_distance": max_distance}
        )
        items: builtins.list[dict[str, Any]] = self._json(response)["items"]
        return items

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
