"""Custom Vision's UUIDs for Sightline's ids, computed both ways so nothing new is stored.

- A project is a classifier: `clf_` + 16 hex digits fill the UUID's first half, zeros the rest.
- An iteration is a version: the classifier's half, then the version number.
- An image is an image: `img_` + 28 hex digits, behind four zeros.
- A tag is a label: its length and UTF-8 bytes (at most 15), XORed with its project's UUID so
  each project's tags differ. A longer label (made through `/v1`) gets a name-based UUID that
  lists but cannot be named back: Custom Vision clients name tags by id.
"""

from __future__ import annotations

import uuid

CLASSIFIER_PREFIX = "clf_"
IMAGE_PREFIX = "img_"
MAX_TAG_BYTES = 15


class UnknownId(ValueError):
    """Not a UUID this facade hands out."""


def _parse(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise UnknownId(value) from None


def project_id(classifier_id: str) -> str:
    return str(uuid.UUID(classifier_id.removeprefix(CLASSIFIER_PREFIX) + "0" * 16))


def classifier_id(project: str) -> str:
    digits = _parse(project).hex
    if digits[16:] != "0" * 16:
        raise UnknownId(project)
    return CLASSIFIER_PREFIX + digits[:16]


def iteration_id(classifier: str, number: int) -> str:
    return str(uuid.UUID(classifier.removeprefix(CLASSIFIER_PREFIX) + f"{number:016x}"))


def version_number(classifier: str, iteration: str) -> int:
    digits = _parse(iteration).hex
    number = int(digits[16:], 16)
    if digits[:16] != classifier.removeprefix(CLASSIFIER_PREFIX) or number < 1:
        raise UnknownId(iteration)
    return number


def image_uuid(image_id: str) -> str:
    return str(uuid.UUID("0000" + image_id.removeprefix(IMAGE_PREFIX)))


def fits_tag(name: str) -> bool:
    return 0 < len(name.encode()) <= MAX_TAG_BYTES


def tag_id(classifier: str, name: str) -> str:
    project = uuid.UUID(project_id(classifier))
    if not fits_tag(name):
        return str(uuid.uuid5(project, name))
    encoded = name.encode()
    packed = bytes([len(encoded)]) + encoded.ljust(MAX_TAG_BYTES, b"\0")
    return str(uuid.UUID(bytes=bytes(a ^ b for a, b in zip(packed, project.bytes, strict=True))))


def tag_name(classifier: str, tag: str) -> str:
    project = uuid.UUID(project_id(classifier))
    packed = bytes(a ^ b for a, b in zip(_parse(tag).bytes, project.bytes, strict=True))
    length = packed[0]
    if not 0 < length <= MAX_TAG_BYTES or any(packed[1 + length :]):
        raise UnknownId(tag)
    try:
        return packed[1 : 1 + length].decode()
    except UnicodeDecodeError:
        raise UnknownId(tag) from None
