"""The answers of `GET /v1/images/{id}` for finished images, kept encoded.

A finished image is read far more often than it changes, and building its answer (a model per
feature, every result validated, then encoded and hashed for the ETag) costs more than reading
it. So the encoded answer is kept, keyed by the image's id, its `updated_at` and the view asked
for (`results=`, `include=`): every change to an image or its results moves `updated_at`
(`ImageStore.image_version`), so a key that still matches names a true answer, and a changed
image simply misses. Where something is kept for an image, the route still reads its version
first, within the caller's collection: a deleted image, or one the caller may not see, is 404
whatever is kept here. Where nothing is, it reads the image whole at once (one query).

Bounded by bytes, least recently used out first; per process.
"""

from __future__ import annotations

import threading
from collections import Counter, OrderedDict
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
        self._kept: Counter[str] = Counter()  # answers kept per image id
        self._bytes = 0
        self._lock = threading.Lock()  # routes run in worker threads

    def holds(self, image_id: str) -> bool:
        """Whether an answer for this image is kept (of any version or view): when none is,
        reading its version first would only add a query."""
        return image_id in self._kept

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
                self._forget(key, replaced)
            self._answers[key] = answer
            self._kept[image_id] += 1
            self._bytes += size
            while self._bytes > self.max_bytes:
                self._forget(*self._answers.popitem(last=False))

    def _forget(self, key: AnswerKey, answer: Answer) -> None:
        self._bytes -= len(answer.body)
        self._kept[key[0]] -= 1
        if not self._kept[key[0]]:
            del self._kept[key[0]]

    def __len__(self) -> int:
        return len(self._answers)
