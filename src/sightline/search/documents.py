"""The searchable words of each image, and the word characters every text index agrees on.

An image's document has five columns, by how much a match there means. The words come from
what each feature's result declares (`sightline.indexing.IndexEntries`), read back through the
`Indexer` the application hands the catalog:

    labels     predicted labels: custom classifiers' predictions, and the labels of the user's
               classifiers (`model:*`) and detectors (`objects`) at confidence >= 0.5
    tags       sure tag words (confidence >= 0.5): `tags`' ImageNet class names and their
               WordNet broader terms (a tabby is also "cat" and "animal")
    weak_tags  the less sure tag words, and every tag word's synonyms (`with_synonyms`:
               "blossom" for a flower), so that a synonym ranks below a sure tag
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
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from sightline.indexing import IndexEntries, Indexer
from sightline.storage.records import JSON

COLUMNS = ("labels", "tags", "weak_tags", "text", "filename")
SURE_TAG = 0.5  # tags at this confidence or more are in `tags`, others in `weak_tags`


@dataclass(frozen=True)
class Document:
    labels: str
    tags: str
    weak_tags: str
    text: str
    filename: str


def build_document(filename: str | None, results: Mapping[str, JSON], indexer: Indexer) -> Document:
    """The searchable words of one image, from its features' results by feature name."""
    labels: list[str] = []
    tags: dict[str, float] = {}  # word -> its best confidence
    synonyms: list[str] = []
    lines: list[str] = []
    for feature, result in sorted(results.items()):
        entries = indexer(feature, result)
        # None: no analyzer here describes the feature, or the result was stored by older code
        # and no longer fits its model; it adds no words until the image is analysed again.
        if entries is None:
            continue
        labels.extend(entries.labels)
        for word, confidence in entries.tags:
            tags[word] = max(confidence, tags.get(word, 0.0))
        synonyms.extend(entries.synonyms)
        lines.extend(entries.text)
    weak = [word for word, confidence in tags.items() if confidence < SURE_TAG]
    weak.extend(word for word in dict.fromkeys(synonyms) if word not in tags)
    return Document(
        labels="\n".join(dict.fromkeys(labels)),
        tags="\n".join(word for word, confidence in tags.items() if confidence >= SURE_TAG),
        weak_tags="\n".join(weak),
        text="\n".join(lines),
        filename=filename or "",
    )


def with_synonyms(indexer: Indexer, synonyms: Mapping[str, Sequence[str]]) -> Indexer:
    """`indexer`, with the synonyms of each tag word (looked up lower-cased: a labels file's
    `read_synonyms`) added to the entries that declare tags."""
    if not synonyms:
        return indexer

    def entries_with_synonyms(feature: str, result: dict[str, Any]) -> IndexEntries | None:
        entries = indexer(feature, result)
        if entries is None or not entries.tags:
            return entries
        found = [word for tag, _ in entries.tags for word in synonyms.get(tag.lower(), ())]
        return replace(entries, synonyms=[*entries.synonyms, *found])

    return entries_with_synonyms


def document_of(filename: str | None, rows: Iterable[Any], indexer: Indexer) -> Document:
    """The document from (feature, result) rows; a failed feature's result is null."""
    results = {row.feature: row.result for row in rows if row.result}
    return build_document(filename, results, indexer)


def any_score(relevance: str) -> str:
    """SQL for an any-word match's score from the per-word rows of one image (`relevance`
    >= 0, one row per matched word): the count of matched words plus the summed relevance
    squashed into [0, 1), so that one more matched word outranks any relevance."""
    return f"COUNT(*) + SUM({relevance}) / (1.0 + SUM({relevance}))"


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
