"""Custom Vision's UUIDs for Sightline's ids, computed both ways for projects, iterations and
images; a tag's is computed from its name and kept (`tags`) to be named back.

- A project is a classifier: `clf_` + 16 hex digits fill the UUID's first half, zeros the rest.
- An iteration is a version: the classifier's half, then the version number.
- An image is an image: `img_` + 28 hex digits, behind four zeros.
- A tag is a label: a name-based UUID (version 5) of the label in its project's UUID, so each
  project's tags differ and every replica computes the same one.
"""

from __future__ import annotations

import uuid

CLASSIFIER_PREFIX = "clf_"
IMAGE_PREFIX = "img_"


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


def tag_id(classifier: str, name: str) -> str:
    return str(uuid.uuid5(uuid.UUID(project_id(classifier)), name))
