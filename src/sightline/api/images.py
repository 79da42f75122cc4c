"""`/v1/images`: upload, read, list, reprocess and delete images."""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Annotated, Any
from urllib.parse import unquote_to_bytes

from fastapi import APIRouter, Body, Depends, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException

from sightline.api import deps
from sightline.api.errors import documented
from sightline.api.image_answers import Answer, ImageAnswers
from sightline.api.ranges import blob_response
from sightline.api.routing import StrictJSONRoute
from sightline.api.schemas import (
    RAW_IMAGE,
    Duplicate,
    DuplicateList,
    ImageList,
    ImageOut,
    ImageView,
    Moment,
    ReprocessRequest,
    SimilarList,
    UploadedImage,
    UploadOut,
    image_files,
    image_view,
    one_of_sizes,
)
from sightline.api.scope import ReadCollection, WriteCollection
from sightline.errors import (
    BackendError,
    BlobNotFound,
    EmptyImage,
    ImageDimensionsTooLarge,
    ImageMemoryTooLarge,
    ImageNotFound,
    ImageTooLarge,
    InsufficientStorage,
    InvalidFeature,
    InvalidImageFormat,
    InvalidMetadata,
    InvalidParameter,
    LengthRequired,
    NotReady,
    PayloadTooLarge,
    RangeNotSatisfiable,
    SearchUnavailable,
    SightlineError,
    TooManyFiles,
    UnsupportedMediaType,
)
from sightline.ids import is_image_id
from sightline.images.service import ImageService, Upload
from sightline.images.store import ImageOrder, ImageQuery
from sightline.search.service import SearchService
from sightline.storage.records import ImageStatus
from sightline.vision.thumbnail import THUMBNAIL_SIZES

PERCENT_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")
router = APIRouter(prefix="/v1/images", tags=["images"], route_class=StrictJSONRoute)
Service = Annotated[ImageService, deps.part("images")]
Search = Annotated[SearchService, deps.part("search")]
Answers = Annotated[ImageAnswers, deps.part("image_answers")]
# Images whose answers change no more until something is asked of them (what is kept).
FINISHED = frozenset({ImageStatus.DONE, ImageStatus.FAILED})
# What reading the files of a request may answer (`read_uploads`), and decoding one.
READ_ERRORS: tuple[type[SightlineError], ...] = (
    PayloadTooLarge,
    ImageTooLarge,
    LengthRequired,
    UnsupportedMediaType,
    TooManyFiles,
    InvalidParameter,
)
DECODE_ERRORS: tuple[type[SightlineError], ...] = (
    EmptyImage,
    InvalidImageFormat,
    ImageTooLarge,
    ImageDimensionsTooLarge,
    ImageMemoryTooLarge,
)
# Serving a blob (`blob_response`): its answers besides 200, and its errors.
BLOB_ANSWERS: dict[int | str, dict[str, Any]] = {
    206: {"description": "Partial content (`Range`)."},
    304: {"description": "Not modified (`If-None-Match`)."},
    307: {"description": "The blob's presigned URL (`SIGHTLINE_BLOB_PRESIGN_SECONDS`, S3)."},
}
BLOB_ERRORS = (ImageNotFound, RangeNotSatisfiable, BackendError, BlobNotFound)

FeaturesQuery = Annotated[
    list[str] | None,
    Query(
        description="Features to compute, comma-separated or repeated; default: the server's set "
        "(`SIGHTLINE_DEFAULT_FEATURES`).",
    ),
]
MetadataQuery = Annotated[
    str | None,
    Query(description="Client metadata: a JSON object, stored and returned with the image."),
]

UPLOAD_BODY = image_files(
    "One or more image files (any field name).",
    {
        "features": {"type": "string", "description": "Comma-separated."},
        "metadata": {"type": "string", "description": "A JSON object."},
    },
)


def split_features(values: list[str] | None) -> list[str] | None:
    if values is None:
        return None
    return [part for value in values for part in value.split(",")]


async def read_body(
    request: Request, limit: int, too_large: type[PayloadTooLarge] = ImageTooLarge
) -> bytes:
    """The request body, refused with `too_large` as soon as it passes `limit` bytes."""
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large(f"The body has more than {limit} bytes.", limit=limit)
        chunks.append(chunk)
    return b"".join(chunks)


async def _read_form(
    request: Request, service: ImageService, max_files: int
) -> tuple[list[Upload], list[str], str | None]:
    settings = service.settings
    # One more file than allowed is parsed, so the refusal can say how many were sent.
    try:
        form = await request.form(max_files=max_files + 1, max_fields=100)
    except HTTPException as exc:  # Starlette's refusals of the form itself, e.g. too many parts
        if "too many files" in str(exc.detail).lower():
            raise TooManyFiles(f"More than {max_files} files in one request.") from exc
        raise InvalidParameter(f"Unreadable multipart body: {exc.detail}") from exc
    try:
        uploads: list[Upload] = []
        for _field, value in form.multi_items():
            if isinstance(value, UploadFile):
                if value.size is not None and value.size > settings.max_upload_bytes:
                    raise ImageTooLarge(
                        f"File {len(uploads) + 1} ({value.filename}) has {value.size} bytes; "
                        f"the limit is {settings.max_upload_bytes}.",
                        limit=settings.max_upload_bytes,
                    )
                uploads.append(Upload(await value.read(), value.filename))
        features = [str(value) for value in form.getlist("features")]
        metadata = form.get("metadata")
        return uploads, features, metadata if isinstance(metadata, str) else None
    finally:
        await form.close()


async def read_uploads(
    request: Request, service: ImageService, max_files: int | None = None
) -> tuple[list[Upload], list[str], str | None]:
    """Files from a multipart form or a raw `image/*` body, plus the form's own `features` and
    `metadata` fields; every size limit is enforced while reading."""
    settings = service.settings
    max_files = max_files or settings.max_files_per_request
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    declared = _content_length(request)
    if declared is not None and declared > settings.max_request_bytes:
        raise PayloadTooLarge(
            f"The request has {declared} bytes; the limit is {settings.max_request_bytes}.",
            limit=settings.max_request_bytes,
        )
    if content_type == "multipart/form-data":
        if declared is None:
            # The form is spooled to disk before we see it: without a length, nothing bounds it.
            raise LengthRequired("A multipart upload needs a Content-Length header.")
        return await _read_form(request, service, max_files)
    if content_type.startswith("image/") or content_type == "application/octet-stream":
        filename = header_filename(request.headers.get("x-filename"))
        return [Upload(await read_body(request, settings.max_upload_bytes), filename)], [], None
    raise UnsupportedMediaType(
        f"Unsupported content type {content_type or '(none)'!r}: send multipart/form-data "
        "or the image bytes with an image/* content type."
    )


def header_filename(value: str | None) -> str | None:
    """The file name of an `X-Filename` header: RFC 8187 (`UTF-8''%E6%97%A5.jpg`),
    percent-encoded, or raw UTF-8 (which arrives read as Latin-1, the header encoding); a name
    that decodes to no text is refused rather than stored garbled."""
    if value is None:
        return None
    charset, quote, encoded = value.partition("'")
    if quote and charset.upper() == "UTF-8" and "'" in encoded:
        value = encoded.partition("'")[2]  # the language tag between the quotes is ignored
    try:
        raw = unquote_to_bytes(value) if PERCENT_ESCAPE.search(value) else value.encode("latin-1")
        return raw.decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        raise InvalidParameter(
            "X-Filename is not UTF-8: send it percent-encoded (RFC 8187: UTF-8''%E6%97%A5.jpg)."
        ) from None


@router.post(
    "",
    status_code=202,
    response_model=UploadOut,
    responses=documented(
        *READ_ERRORS,
        *DECODE_ERRORS,
        InvalidMetadata,
        InvalidFeature,
        InsufficientStorage,
        BackendError,
    ),
    openapi_extra=UPLOAD_BODY,
    summary="Upload one or many images",
    description=(
        "Send `multipart/form-data` with one or more files, or the raw bytes with an `image/*` "
        "(or `application/octet-stream`) content type. All files are validated before any is "
        "stored: one bad file rejects the whole request and stores nothing. Identical bytes are "
        "stored once; a repeat upload to the same collection is a new image with "
        "`duplicate: true`. The images go to the collection `collection` names, or the one the "
        "API key is bound to, or `default`."
    ),
)
async def upload_images(
    request: Request,
    service: Service,
    collection: WriteCollection,
    view: Annotated[ImageView, Depends(image_view)],
    features: FeaturesQuery = None,
    metadata: MetadataQuery = None,
) -> Response:
    uploads, form_features, form_metadata = await read_uploads(request, service)
    features = features or form_features or None
    metadata = metadata or form_metadata
    ingested = await run_in_threadpool(
        service.ingest, uploads, split_features(features), metadata, collection=collection
    )
    answer = UploadOut(
        images=[UploadedImage.of(item.image, view, duplicate=item.duplicate) for item in ingested]
    )
    # Encoded here, as `get_image` does: the answer is valid by construction, and FastAPI
    # would validate it once more through the response model, on every upload.
    location = {"Location": f"/v1/images/{ingested[0].image.id}"} if len(ingested) == 1 else None
    return Response(
        answer.model_dump_json(), status_code=202, media_type="application/json", headers=location
    )


@router.get("", response_model=ImageList, summary="List images, newest (or oldest) first")
def list_images(
    service: Service,
    collection: ReadCollection,
    view: Annotated[ImageView, Depends(image_view)],
    status: ImageStatus | None = None,
    content_type: str | None = None,
    uploaded_after: Moment | None = None,
    uploaded_before: Moment | None = None,
    sha256: Annotated[
        str | None,
        Query(
            pattern="^[0-9a-f]{64}$",
            description="Only images of these exact bytes (the file's SHA-256, lowercase hex): "
            "how a client learns whether a file is already stored before sending it.",
        ),
    ] = None,
    order: Annotated[
        ImageOrder,
        Query(description="`newest` (the default) or `oldest` uploaded first."),
    ] = ImageOrder.NEWEST,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[
        str | None,
        Query(description="`next_cursor` of the previous page (with the same `order`)."),
    ] = None,
) -> ImageList:
    query = ImageQuery(
        collection=collection,
        status=status,
        content_type=content_type,
        uploaded_after=uploaded_after,
        uploaded_before=uploaded_before,
        sha256=sha256,
        order=order,
        after_id=_decode_cursor(cursor) if cursor else None,
        limit=limit + 1,
    )
    records = service.list_images(query)
    next_cursor = _encode_cursor(records[limit - 1].id) if len(records) > limit else None
    items = [ImageOut.of(record, view) for record in records[:limit]]
    # Counted once, with the first page: later pages would only count the same again.
    total = None if cursor else service.count_images(query)
    return ImageList(items=items, next_cursor=next_cursor, total=total)


@router.get(
    "/{image_id}",
    response_model=ImageOut,
    responses={304: {"description": "Not modified (If-None-Match)."}, **documented(ImageNotFound)},
    summary="An image with its status and per-feature results",
)
def get_image(
    image_id: str,
    request: Request,
    service: Service,
    answers: Answers,
    collection: ReadCollection,
    view: Annotated[ImageView, Depends(image_view)],
) -> Response:
    answer = None
    if answers.holds(image_id):
        # The version first, within the caller's collection: a deleted image or one out of
        # reach is 404 before anything kept is looked at.
        version = service.version(image_id, collection=collection)
        answer = answers.get(image_id, version.updated_at, view)
    if answer is None:
        record = service.get(image_id, collection=collection)
        body = ImageOut.of(record, view).model_dump_json().encode()
        answer = Answer(body, f'"{hashlib.sha256(body).hexdigest()[:32]}"')
        if record.status in FINISHED:
            answers.put(record.id, record.updated_at, view, answer)
    if answer.etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers={"ETag": answer.etag})
    return Response(answer.body, media_type="application/json", headers={"ETag": answer.etag})


@router.get(
    "/{image_id}/content",
    responses={
        200: {"content": {"image/*": RAW_IMAGE}},
        **BLOB_ANSWERS,
        **documented(*BLOB_ERRORS),
    },
    response_class=Response,
    summary="The original bytes (supports Range and If-None-Match); with "
    "`SIGHTLINE_BLOB_PRESIGN_SECONDS` set and an S3 store, a 307 redirect to a presigned URL",
)
def get_content(
    image_id: str, request: Request, service: Service, collection: ReadCollection
) -> Response:
    record = service.get(image_id, collection=collection)
    url = service.presigned_url(record.sha256, record.content_type, record.filename)
    if url is not None:
        return RedirectResponse(url, status_code=307)
    blob = service.open_blob(record.sha256)
    return blob_response(
        request,
        blob,
        size=record.size,
        etag=f'"{record.sha256}"',
        content_type=record.content_type,
        cache_control="private, max-age=31536000, immutable",
    )


@router.get(
    "/{image_id}/thumbnail",
    responses={
        200: {"content": {"image/webp": RAW_IMAGE}},
        **BLOB_ANSWERS,
        **documented(*BLOB_ERRORS, NotReady),
    },
    response_class=Response,
    summary="A WEBP thumbnail whose longer side is at most `size` pixels",
)
def get_thumbnail(
    image_id: str,
    request: Request,
    service: Service,
    collection: ReadCollection,
    size: Annotated[int, one_of_sizes(THUMBNAIL_SIZES, "longer side, pixels")] = 256,
) -> Response:
    sha256 = service.thumbnail_blob(image_id, size, collection=collection)
    url = service.presigned_url(sha256, "image/webp")
    if url is not None:
        return RedirectResponse(url, status_code=307)
    return blob_response(
        request,
        service.open_blob(sha256),
        size=service.blob_size(sha256),
        etag=f'"{sha256}"',
        content_type="image/webp",
        cache_control="private, max-age=60",
    )


@router.get(
    "/{image_id}/duplicates",
    response_model=DuplicateList,
    responses=documented(ImageNotFound),
    summary="Near-duplicates by perceptual hash",
)
def get_duplicates(
    image_id: str,
    service: Service,
    collection: ReadCollection,
    view: Annotated[ImageView, Depends(image_view)],
    max_distance: Annotated[
        int, Query(ge=0, le=7, description="Largest Hamming distance between 64-bit phashes.")
    ] = 6,
) -> DuplicateList:
    found = service.duplicates(image_id, max_distance, collection=collection)
    return DuplicateList(
        items=[
            Duplicate(distance=distance, image=ImageOut.of(record, view))
            for record, distance in found
        ]
    )


@router.get(
    "/{image_id}/similar",
    response_model=SimilarList,
    responses=documented(ImageNotFound, SearchUnavailable),
    summary="Images that look alike, nearest first (by the image embedding)",
    description="Nearest neighbours by cosine similarity of the `embedding` feature (or "
    "another vector feature), searched in an approximate index. Near-identical copies are "
    "better found by `/duplicates` (perceptual hash).",
)
def get_similar(
    image_id: str,
    search: Search,
    collection: ReadCollection,
    view: Annotated[ImageView, Depends(image_view)],
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
    feature: Annotated[
        str, Query(description="A feature whose result is a vector: `embedding` (default), ...")
    ] = "embedding",
) -> SimilarList:
    answer = search.similar(image_id, limit, feature, collection=collection)
    return SimilarList.of(answer, view)


@router.post(
    "/{image_id}/reprocess",
    status_code=202,
    response_model=ImageOut,
    responses=documented(ImageNotFound, InvalidFeature, InsufficientStorage),
    summary="Analyse an image again",
)
def reprocess_image(
    image_id: str,
    service: Service,
    collection: ReadCollection,
    view: Annotated[ImageView, Depends(image_view)],
    request: Annotated[ReprocessRequest | None, Body()] = None,
) -> ImageOut:
    options = request or ReprocessRequest()
    return ImageOut.of(
        service.reprocess(image_id, options.features, options.outdated_only, collection=collection),
        view,
    )


@router.delete(
    "/{image_id}",
    status_code=204,
    responses=documented(ImageNotFound, InsufficientStorage, BackendError),
    summary="Delete an image",
)
def delete_image(image_id: str, service: Service, collection: ReadCollection) -> Response:
    service.delete(image_id, collection=collection)
    return Response(status_code=204)


def _content_length(request: Request) -> int | None:
    # The HTTP server has already refused a Content-Length that is not a number.
    raw = request.headers.get("content-length")
    return None if raw is None else int(raw)


def _encode_cursor(image_id: str) -> str:
    return base64.urlsafe_b64encode(image_id.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> str:
    try:
        image_id = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except ValueError as exc:
        raise InvalidParameter("The cursor is malformed.") from exc
    if not is_image_id(image_id):
        raise InvalidParameter("The cursor is malformed.")
    return image_id
