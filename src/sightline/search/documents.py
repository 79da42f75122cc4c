"""The searchable words of each image, and the word characters every text index agrees on.

An image's document has five columns, by how much a match there means:

    labels     custom classifier predictions (`custom:*` results' `predicted`), and the labels
               of the user's classifiers (`model:*`) and detectors (`objects`) at confidence
               >= 0.5
    tags       `tags` words at confidence >= 0.5: ImageNet class names and their WordNet broader
               terms (a tabby is also "cat" and "animal")
    weak_tags  the less sure `tags` words, and `classes` names at confidence >= 0.1
    text       text read by OCR (`read` lines)
    filename   the uploaded file's name

Confidence by column, not by repetition: a sure "cat" must outrank an unsure one. Writing a word
once per band of confidence was measured first and barely helped (a 0.93 cat scored 1% over a
0.3 one): FTS5 multiplies the column weight into the term frequency before bm25's saturation
(k1 = 1.2), and the repeats lengthen the document, which bm25 then normalises away (b = 0.75).
Splitting tags into a sure and a weak column keeps documents the same length and scored the sure
cat 42% higher.

Word characters are SQLite unicode61's: letters, digits and private-use code points; anything
else separates words, so `POL-2024-118734` is the words pol 2024 118734.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_
from sqlalchemy.sql.elements import ColumnElement

from sightline.storage import tables as t
from sightline.storage.records import JSON

COLUMNS = ("labels", "tags", "weak_tags", "text", "filename")
SURE_TAG = 0.5  # tags at this confidence or more are in `tags`, others in `weak_tags`
MIN_CLASS_CONFIDENCE = 0.1  # `classes` holds the top 5 whatever their probability
MIN_LABEL_CONFIDENCE = 0.5  # user models' labels: what their own top-1 threshold would be
INDEXED_PREFIXES = ("custom:", "model:")
INDEXED_FEATURES = ("tags", "read", "objects")


@dataclass(frozen=True)
class Document:
    labels: str
    tags: str
    weak_tags: str
    text: str
    filename: str


def build_document(filename: str | None, results: Mapping[str, JSON]) -> Document:
    """The searchable words of one image, from its features' results by feature name."""
    labels: list[str] = []
    tags: dict[str, float] = {}  # word -> its best confidence
    lines: list[str] = []
    for feature, result in sorted(results.items()):
        if feature == "tags":
            scored = [*result.get("tags", []), *result.get("classes", [])]
            for entry in scored:
                if entry["confidence"] >= MIN_CLASS_CONFIDENCE:
                    tags[entry["name"]] = max(entry["confidence"], tags.get(entry["name"], 0.0))
        elif feature == "read":
            lines.extend(line["text"] for line in result.get("lines", []))
        elif feature == "objects":
            labels.extend(
                found["label"]
                for detector in result.get("detectors", [])
                for found in detector.get("objects", [])
                if found["confidence"] >= MIN_LABEL_CONFIDENCE
            )
        elif feature.startswith("custom:"):
            labels.extend(result.get("predicted", []))
        elif feature.startswith("model:"):
            labels.extend(
                label["name"]
                for label in result.get("labels", [])
                if label["confidence"] >= MIN_LABEL_CONFIDENCE
            )
    return Document(
        labels="\n".join(dict.fromkeys(labels)),
        tags="\n".join(word for word, confidence in tags.items() if confidence >= SURE_TAG),
        weak_tags="\n".join(word for word, confidence in tags.items() if confidence < SURE_TAG),
        text="\n".join(lines),
        filename=filename or "",
    )


def document_of(filename: str | None, rows: Iterable[Any]) -> Document:
    """The document from (feature, result) rows; a failed feature's result is null."""
    return build_document(filename, {row.feature: row.result for row in rows if row.result})


def indexed_feature() -> ColumnElement[bool]:
    """The feature results whose words are in documents."""
    feature = t.feature_results.c.feature
    return or_(
        feature.in_(INDEXED_FEATURES),
        *(feature.startswith(prefix, autoescape=True) for prefix in INDEXED_PREFIXES),
    )


def is_word_char(char: str) -> bool:
    category = unicodedata.category(char)
    return category[0] in "LN" or category == "Co"


def has_word(text: str) -> bool:
    """Whether the text has anything to search for: a phrase without words matches nothing."""
    return any(is_word_char(char) for char in text)


def plain_words(text: str) -> str:
    """The text's words without accents, separated by spaces: what unicode61 with
    `remove_diacritics 2` makes of it, for an index whose own parser splits words differently
    (PostgreSQL's reads `POL-2024-118734` as pol, -2024, -118734)."""
    decomposed = unicodedata.normalize("NFKD", text)
    # Recomposed after the accents go, so that e.g. Hangul stays in syllables.
    kept = unicodedata.normalize(
        "NFC", "".join(char for char in decomposed if unicodedata.category(char) != "Mn")
    )
    return "".join(char if is_word_char(char) else " " for char in kept)
