"""The answers of `GET /v1/images/{id}` for finished images, kept encoded.

A finished image is read far more often than it changes, and building its answer (a model per
feature, every result validated, then encoded and hashed for the ETag) costs more than reading
it. So the encoded answer is kept, keyed by the image's id, its `updated_at` and the view asked
for (`results=`, `include=`): every change to an image or its results moves `updated_at`
(`ImageStore.image_version`), so a key that still matches names a true answer, and a changed
image simply misses. The route still reads the image's version first, within the caller's
collection: a deleted image, or one the caller may not see, is 404 whatever is kept here.

Bounded by bytes, least recently used out first; per process.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime

from sightline.api.schemas import ImageView


@dataclass(frozen=True)
class Answer:
    body: bytes
    etag: str


AnswerKey = tuple[str, datetime, ImageView]


class ImageAnswers:
    def __init__(self, max_bytes: int) -> None:
        """`max_bytes`: the most the kept bodies may add up to; 0 keeps none."""
        self.max_bytes = max_bytes
        self._answers: OrderedDict[AnswerKey, Answer] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()  # routes run in worker threads

    def get(self, image_id: str, updated_at: datetime, view: ImageView) -> Answer | None:
        key = (image_id, updated_at, view)
        with self._lock:
            answer = self._answers.get(key)
            if answer is not None:
                self._answers.move_to_end(key)
            return answer

    def put(self, image_id: str, updated_at: datetime, view: ImageView, answer: Answer) -> None:
        size = len(answer.body)
        if size > self.max_bytes:
            return
        key = (image_id, updated_at, view)
        with self._lock:
            replaced = self._answers.pop(key, None)
            if replaced is not None:
                self._bytes -= len(replaced.body)
            self._answers[key] = answer
            self._bytes += size
            while self._bytes > self.max_bytes:
                _, dropped = self._answers.popitem(last=False)
                self._bytes -= len(dropped.body)

    def __len__(self) -> int:
        return len(self._answers)
