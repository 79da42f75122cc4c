"""The errors the facade answers, in the AWS JSON 1.1 shape (`__type`, `message`, and the
`x-amzn-ErrorType` header that botocore reads the code from), and the one table that turns
Sightline's errors into them."""

from __future__ import annotations

from typing import ClassVar

from fastapi.responses import JSONResponse

from sightline.errors import (
    BackendError,
    BlobNotFound,
    EmptyImage,
    Forbidden,
    InvalidImageFormat,
    InvalidInput,
    PayloadTooLarge,
    SightlineError,
    TooManyRequests,
    Unauthorized,
)


class AwsError(Exception):
    """An answer of the AWS service's own: `code` is its `__type`."""

    code: ClassVar[str] = "InternalServerError"
    status_code: ClassVar[int] = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def response(self) -> JSONResponse:
        return JSONResponse(
            {"__type": self.code, "message": self.message},
            status_code=self.status_code,
            media_type="application/x-amz-json-1.1",
            headers={"x-amzn-ErrorType": self.code},
        )


class InvalidSignatureException(AwsError):
    """The signature does not match: a wrong secret, or a request changed after signing."""

    code = "InvalidSignatureException"
    status_code = 403


class UnrecognizedClientException(AwsError):
    """No such access key id."""

    code = "UnrecognizedClientException"
    status_code = 403


class MissingAuthenticationTokenException(AwsError):
    """No SigV4 Authorization header."""

    code = "MissingAuthenticationTokenException"
    status_code = 403


class AccessDeniedException(AwsError):
    """The key may not do this."""

    code = "AccessDeniedException"
    status_code = 403


class UnknownOperationException(AwsError):
    """An X-Amz-Target this server does not answer."""

    code = "UnknownOperationException"
    status_code = 400


class SerializationException(AwsError):
    """A body that is not the operation's JSON."""

    code = "SerializationException"
    status_code = 400


class InvalidParameterException(AwsError):
    """A parameter out of range, or an option Sightline does not offer."""

    code = "InvalidParameterException"
    status_code = 400


class InvalidImageFormatException(AwsError):
    """Not an image Sightline decodes."""

    code = "InvalidImageFormatException"
    status_code = 400


class ImageTooLargeException(AwsError):
    """Over 5 MB of bytes (15 MB from S3), or too many pixels."""

    code = "ImageTooLargeException"
    status_code = 400


class InvalidS3ObjectException(AwsError):
    """An S3 object that cannot be read, or no S3 blob store."""

    code = "InvalidS3ObjectException"
    status_code = 400


class ResourceNotReadyException(AwsError):
    """The feature behind the operation is not installed on this server."""

    code = "ResourceNotReadyException"
    status_code = 400


class ThrottlingException(AwsError):
    """Past the key's rate or concurrency limit, or too many wrong keys."""

    code = "ThrottlingException"
    status_code = 400


class InternalServerError(AwsError):
    """Something failed on the server."""

    code = "InternalServerError"
    status_code = 500


# Sightline's errors as Rekognition names them, most specific first.
SIGHTLINE_ERRORS: tuple[tuple[type[SightlineError], type[AwsError]], ...] = (
    (TooManyRequests, ThrottlingException),
    (Unauthorized, UnrecognizedClientException),
    (Forbidden, AccessDeniedException),
    (BlobNotFound, InvalidS3ObjectException),
    (EmptyImage, InvalidImageFormatException),
    (InvalidImageFormat, InvalidImageFormatException),
    (PayloadTooLarge, ImageTooLargeException),  # bytes, pixels or decoding memory
    (InvalidInput, InvalidParameterException),
    (BackendError, InternalServerError),
)


def translated(error: SightlineError) -> AwsError:
    for sightline_type, aws_type in SIGHTLINE_ERRORS:
        if isinstance(error, sightline_type):
            return aws_type(error.message)
    if 400 <= error.status_code < 500:
        return InvalidParameterException(error.message)
    return InternalServerError(error.message)
