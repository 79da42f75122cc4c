"""Sightline's exceptions: one root, each domain error carrying its HTTP status and stable code.

SightlineError
├── ConfigurationError            bad settings, an unknown backend URL, a failed model conversion
├── MaintenanceRefused            `sightline backup`/`restore` cannot do this safely (a
│                                 PostgreSQL catalog, a non-empty target, not a backup)
├── CatalogSchemaBehind           the catalog's schema is older than this version needs and
│                                 this process may not upgrade it (`sightline migrate` does)
├── InvalidInput (400)            the request itself is wrong
│   ├── EmptyImage
│   ├── InvalidImageFormat        not an image, corrupt, truncated or an unsupported format
│   ├── InvalidMetadata
│   ├── InvalidFeature
│   ├── InvalidParameter
│   ├── InvalidJson               a request body that is not JSON, or JSON we refuse (json_input)
│   ├── TooManyFiles
│   ├── InvalidUrl                `/v1/analyze`: not an absolute http(s) URL
│   ├── UrlNotAllowed             `/v1/analyze`: a host on a non-public address
│   ├── InvalidModel              a user model's manifest and ONNX file do not fit
│   ├── InvalidQuery              a search query that cannot be run
│   ├── NotEnoughExamples         training a classifier with too few examples per label
│   ├── InvalidStorageEvent       a bucket notification in neither S3 nor SeaweedFS form
│   ├── InvalidCollection         a collection name that is not a slug
│   ├── NoFaceDetected            an enrolment photo in which no face was found
│   ├── SeveralFacesDetected      an enrolment photo with more than one face: whose is unsaid
│   ├── WebhookTargetForbidden    a subscription endpoint on a non-public address
│   └── WebhookValidationFailed   the endpoint did not agree to receive deliveries
├── Unauthorized (401)            no API key, a wrong, revoked or expired one, or no session
├── Forbidden (403)
│   ├── InsufficientScope         the key's scope does not cover the route
│   ├── InvalidSignature          a signed link that was altered or signed with another secret
│   ├── LinkExpired               a signed link past its expiry
│   └── CollectionForbidden       naming another collection than the one the caller is bound to
├── NotFound (404)
│   ├── ImageNotFound
│   ├── UnknownModel
│   ├── ClassifierNotFound
│   ├── ClassifierVersionNotFound
│   ├── UploadNotFound            no direct upload with this id
│   ├── SubscriptionNotFound
│   ├── DeliveryNotFound
│   ├── KeyNotFound               no stored API key with this id
│   ├── FaceNotFound
│   ├── PersonNotFound
│   └── ClusterNotFound
├── NotReady (409)                the resource exists but is not computed yet
├── Conflict (409)
│   ├── ClassifierExists          a classifier name is taken
│   ├── HeadNotExportable         exporting a version whose head is not linear on the embedding
│   └── NotDeadLettered           redelivering a delivery that is not dead-lettered
├── RequestTimeout (408)          the request body stalled (SIGHTLINE_BODY_TIMEOUT_SECONDS)
├── LengthRequired (411)          a multipart upload without Content-Length
├── PayloadTooLarge (413)
│   ├── ImageTooLarge             more bytes than allowed
│   ├── ImageDimensionsTooLarge   more pixels than allowed (decompression bombs)
│   └── ImageMemoryTooLarge       decoding and analysing it needs more memory than allowed
├── UnsupportedMediaType (415)
├── TooManyRequests (429)          answered with `Retry-After` (`details.retry_after`, seconds)
│   ├── TooManyAuthFailures       this address sent too many wrong keys lately
│   ├── RateLimited               this key's request rate (SIGHTLINE_KEY_RATE_LIMIT)
│   └── TooManyConcurrentRequests this key's requests in flight (SIGHTLINE_KEY_CONCURRENCY_LIMIT)
├── UrlFetchFailed (422)          `/v1/analyze`: the image URL could not be fetched
├── RangeNotSatisfiable (416)
├── DirectUploadsUnavailable (501) the blob store cannot take uploads straight from clients
├── InsufficientStorage (507)     the disk is full, or under SIGHTLINE_MIN_FREE_BYTES free
├── BackendError (503)            a storage, catalog or queue backend failed
├── SearchUnavailable (503)       the model a search needs is not installed
└── BlobNotFound (500)            a catalogued blob is missing from the store

The API maps every SightlineError to `{"error": {"code": ..., "message": ...}}` in one handler;
the `code` strings are a contract and never change.

`SkipFeature` stands outside that tree: it never reaches a client, it ends one feature as
`skipped`. It lives on this ground floor because `vision` raises it and `models` (whose
`ModelUnavailable` is one) sits below `vision`.
"""

from __future__ import annotations

from typing import Any, ClassVar


class SightlineError(Exception):
    status_code: ClassVar[int] = 500
    code: ClassVar[str] = "InternalError"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class ConfigurationError(SightlineError):
    code = "ConfigurationError"


class MaintenanceRefused(SightlineError):
    """A command-line operation refused before changing anything; the message says why and
    what to do instead. Never an HTTP answer."""

    code = "MaintenanceRefused"


class CatalogSchemaBehind(SightlineError):
    """The catalog's schema is older than (or, empty, short of) what this version needs, and
    this process may not change it; the message names both revisions and the command to run.
    Never an HTTP answer: a process refuses to start."""

    code = "CatalogSchemaBehind"


class InvalidInput(SightlineError):
    status_code = 400
    code = "InvalidInput"


class EmptyImage(InvalidInput):
    code = "EmptyImage"


class InvalidImageFormat(InvalidInput):
    code = "InvalidImageFormat"


class InvalidMetadata(InvalidInput):
    code = "InvalidMetadata"


class InvalidFeature(InvalidInput):
    code = "InvalidFeature"


class InvalidParameter(InvalidInput):
    code = "InvalidParameter"


class InvalidJson(InvalidInput):
    code = "InvalidJson"


class TooManyFiles(InvalidInput):
    code = "TooManyFiles"


class InvalidUrl(InvalidInput):
    code = "InvalidUrl"


class UrlNotAllowed(InvalidInput):
    code = "UrlNotAllowed"


class InvalidModel(InvalidInput):
    code = "InvalidModel"


class InvalidQuery(InvalidInput):
    code = "InvalidQuery"


class NotEnoughExamples(InvalidInput):
    code = "NotEnoughExamples"


class InvalidStorageEvent(InvalidInput):
    code = "InvalidStorageEvent"


class InvalidCollection(InvalidInput):
    code = "InvalidCollection"


class NoFaceDetected(InvalidInput):
    code = "NoFaceDetected"


class SeveralFacesDetected(InvalidInput):
    code = "SeveralFacesDetected"


class WebhookTargetForbidden(InvalidInput):
    code = "WebhookTargetForbidden"


class WebhookValidationFailed(InvalidInput):
    code = "WebhookValidationFailed"


class Unauthorized(SightlineError):
    status_code = 401
    code = "Unauthorized"


class Forbidden(SightlineError):
    status_code = 403
    code = "Forbidden"


class InsufficientScope(Forbidden):
    code = "InsufficientScope"


class InvalidSignature(Forbidden):
    code = "InvalidSignature"


class LinkExpired(Forbidden):
    code = "LinkExpired"


class CollectionForbidden(Forbidden):
    code = "CollectionForbidden"


class NotFound(SightlineError):
    status_code = 404
    code = "NotFound"


class ImageNotFound(NotFound):
    code = "ImageNotFound"


class UnknownModel(NotFound):
    code = "UnknownModel"


class ClassifierNotFound(NotFound):
    code = "ClassifierNotFound"


class ClassifierVersionNotFound(NotFound):
    code = "ClassifierVersionNotFound"


class UploadNotFound(NotFound):
    code = "UploadNotFound"


class SubscriptionNotFound(NotFound):
    code = "SubscriptionNotFound"


class DeliveryNotFound(NotFound):
    code = "DeliveryNotFound"


class KeyNotFound(NotFound):
    code = "KeyNotFound"


class FaceNotFound(NotFound):
    code = "FaceNotFound"


class PersonNotFound(NotFound):
    code = "PersonNotFound"


class ClusterNotFound(NotFound):
    code = "ClusterNotFound"


class NotReady(SightlineError):
    status_code = 409
    code = "NotReady"


class Conflict(SightlineError):
    status_code = 409
    code = "Conflict"


class ClassifierExists(Conflict):
    code = "ClassifierExists"


class HeadNotExportable(Conflict):
    code = "HeadNotExportable"


class NotDeadLettered(Conflict):
    code = "NotDeadLettered"


class TooManyRequests(SightlineError):
    """Refused for now; `retry_after` (whole seconds) says when to try again."""

    status_code = 429
    code = "TooManyRequests"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message, retry_after=retry_after)
        self.retry_after = retry_after


class TooManyAuthFailures(TooManyRequests):
    code = "TooManyAuthFailures"


class RateLimited(TooManyRequests):
    code = "RateLimited"


class TooManyConcurrentRequests(TooManyRequests):
    code = "TooManyConcurrentRequests"


class TooManyConnections(SightlineError):
    """Answered by the server itself, before any request, to an address over its connection
    cap (`sightline.connections`)."""

    status_code = 429
    code = "TooManyConnections"


class UrlFetchFailed(SightlineError):
    """The image URL could not be fetched: the caller's URL, so a 4xx, not our failure."""

    status_code = 422
    code = "UrlFetchFailed"


class RequestTimeout(SightlineError):
    status_code = 408
    code = "RequestTimeout"


class LengthRequired(SightlineError):
    status_code = 411
    code = "LengthRequired"


class PayloadTooLarge(SightlineError):
    status_code = 413
    code = "PayloadTooLarge"


class ImageTooLarge(PayloadTooLarge):
    code = "ImageTooLarge"


class ImageDimensionsTooLarge(PayloadTooLarge):
    code = "ImageDimensionsTooLarge"


class ImageMemoryTooLarge(PayloadTooLarge):
    """Its pixels would take more memory than SIGHTLINE_DECODE_MEMORY_BYTES, told from the
    header: a small file can decode to a huge picture."""

    code = "ImageMemoryTooLarge"


class UnsupportedMediaType(SightlineError):
    status_code = 415
    code = "UnsupportedMediaType"


class RangeNotSatisfiable(SightlineError):
    status_code = 416
    code = "RangeNotSatisfiable"


class DirectUploadsUnavailable(SightlineError):
    status_code = 501
    code = "DirectUploadsUnavailable"


class InsufficientStorage(SightlineError):
    """No room to store what was sent: refused whole, nothing half-written; it works again as
    soon as space is freed."""

    status_code = 507
    code = "InsufficientStorage"


class BackendError(SightlineError):
    status_code = 503
    code = "BackendUnavailable"


class SearchUnavailable(SightlineError):
    status_code = 503
    code = "SearchUnavailable"


class BlobNotFound(SightlineError):
    """A catalogued blob is missing from the store: data loss or a race with deletion."""

    code = "BlobNotFound"


class SkipFeature(Exception):
    """Raised by an analyzer that does not apply to this picture; the feature ends `skipped`."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
