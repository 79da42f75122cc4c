"""`/v1/search`: find images by the words in their results (tags, OCR text, custom labels), with
filters on the image and its feature values, one cursor page at a time."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from sightline.api import deps
from sightline.api import openapi_examples as shown
from sightline.api.errors import documented
from sightline.api.openapi_examples import examples
from sightline.api.routing import StrictJSONRoute
from sightline.api.schemas import (
    MAX_STORED_INT,
    ImageOut,
    ImageView,
    Moment,
    ScoredImage,
    image_view,
)
from sightline.api.scope import ReadCollection
from sightline.errors import InvalidParameter, InvalidQuery, SearchUnavailable
from sightline.search.service import SearchService
from sightline.search.text import SearchQuery, Strategy, parse_where
from sightline.storage.records import ImageStatus

router = APIRouter(prefix="/v1/search", tags=["search"], route_class=StrictJSONRoute)
Search = Annotated[SearchService, deps.part("search")]

Q_DESCRIPTION = (
    "Words to find in the images' tags (with their broader terms: `cat` finds a tabby, `animal` "
    "finds both; and their WordNet synonyms: `blossom` finds a flower), text read in them, "
    "custom labels and file names. Case, accents, English endings and stop words (`a`, `the`, "
    '`of`: listed in `ignored_words`) are ignored; `"a phrase"` matches as written, and so '
    "does a word with punctuation (`POL-2024-118734`, `87/100`). Every word must match "
    "(`strategy` `all_words`); if that finds nothing, images with any of the words, more "
    "words first (`any_words`); if still nothing, and the query is plain words without "
    "filters, images by meaning as in `mode=semantic` (`semantic`). Without `q`: newest first."
)
WHERE_DESCRIPTION = (
    "A feature value, repeatable (all must hold): `FEATURE.FIELD:VALUE` (equal: `true`/`false`, "
    "a number or a word) or `FEATURE.FIELD>=NUMBER` (also `>`, `<`, `<=`); FIELD may be a "
    "dotted path. E.g. `image_type.type:photo`, `quality.sharpness.blurry:false`, "
    "`quality.score>=0.7`."
)


class SearchMode(StrEnum):
    TEXT = "text"
    SEMANTIC = "semantic"


MODE_DESCRIPTION = (
    "`text`: by the words in the images' results. `semantic`: by meaning, nearest first: a "
    "user-added image-text (clip) model when one is installed and has embedded images, "
    "otherwise the images' `semantic` (ConSE) vectors; takes `q`, `limit`, `min_score` and "
    "`collection` only."
)
MIN_SCORE_DESCRIPTION = (
    "Semantic mode: leave out hits scored under this (0-1); default "
    "`SIGHTLINE_SEMANTIC_THRESHOLD` (0.5) for ConSE, 0 for a clip model."
)


class SearchResults(BaseModel):
    model_config = examples(shown.SEARCH)

    method: str = Field(
        description="What answered: `text` (the full-text index), `conse` (sentence embeddings "
        "of the images' predicted classes) or `clip` (a user image-text model); a text query "
        "answered by meaning (`strategy` `semantic`) says `conse` or `clip`."
    )
    items: list[ScoredImage] = Field(
        description="Best first with `q`; newest first without (score null). Text mode: score "
        "is relevance, higher is better, comparable within one query only. Semantic mode: "
        "`conse` scores are calibrated, 0 to 1, how likely the image is what was asked for "
        "(0.5: as likely as not); `clip` scores are the model's cosine similarity, clipped to "
        "0-1."
    )
    next_cursor: str | None = Field(
        description="Pass as `cursor` (with the same query) for the next page; null at the end."
    )
    threshold: float | None = Field(
        None,
        description="Semantic answers (also a text query answered by meaning): hits scored "
        "under this were left out (`min_score`, or the server's default); null otherwise.",
    )
    total: int | None = Field(
        default=None,
        description="How many images match `q`, over every page (of the `strategy` that "
        "answered). Null without `q` (a listing is not counted: that would read every image "
        "the filters keep) and when answered by meaning.",
    )
    strategy: Strategy | None = Field(
        default=None,
        description="How `q` was answered: `all_words` (every word matched), `any_words` "
        "(none had every word: any word, more matched words first) or `semantic` (by meaning). "
        "Null without `q` (a listing).",
    )
    ignored_words: list[str] = Field(
        default_factory=list, description="Stop words of `q` that were not searched for."
    )


@router.get(
    "",
    response_model=SearchResults,
    responses=documented(InvalidQuery, SearchUnavailable),
    summary="Search images by words and filters",
)
def search(
    search: Search,
    collection: ReadCollection,
    view: Annotated[ImageView, Depends(image_view)],
    q: Annotated[str | None, Query(description=Q_DESCRIPTION)] = None,
    mode: Annotated[SearchMode, Query(description=MODE_DESCRIPTION)] = SearchMode.TEXT,
    tag: Annotated[
        list[str] | None,
        Query(description="Only images with this tag word or phrase (repeatable)."),
    ] = None,
    label: Annotated[
        list[str] | None,
        Query(
            description="Only images with this predicted label: a custom classifier's, a user "
            "model's, or a detected object's (repeatable)."
        ),
    ] = None,
    where: Annotated[list[str] | None, Query(description=WHERE_DESCRIPTION)] = None,
    content_type: str | None = None,
    status: ImageStatus | None = None,
    uploaded_after: Moment | None = None,
    uploaded_before: Moment | None = None,
    min_width: Annotated[int | None, Query(ge=0, le=MAX_STORED_INT)] = None,
    max_width: Annotated[int | None, Query(ge=0, le=MAX_STORED_INT)] = None,
    min_height: Annotated[int | None, Query(ge=0, le=MAX_STORED_INT)] = None,
    max_height: Annotated[int | None, Query(ge=0, le=MAX_STORED_INT)] = None,
    min_size: Annotated[int | None, Query(ge=0, le=MAX_STORED_INT, description="Bytes.")] = None,
    max_size: Annotated[int | None, Query(ge=0, le=MAX_STORED_INT, description="Bytes.")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
    min_score: Annotated[float | None, Query(ge=0, le=1, description=MIN_SCORE_DESCRIPTION)] = None,
    cursor: Annotated[str | None, Query(description="`next_cursor` of the previous page.")] = None,
) -> SearchResults:
    if mode is SearchMode.SEMANTIC:
        filters = [tag, label, where, content_type, status, uploaded_after, uploaded_before]
        sizes = [min_width, max_width, min_height, max_height, min_size, max_size, cursor]
        if any(value is not None for value in filters + sizes):
            raise InvalidParameter("A semantic search takes `q` and `limit` only.")
        answer = search.semantic(q or "", limit, collection=collection, min_score=min_score)
        items = [
            ScoredImage(score=hit.score, image=ImageOut.of(hit.image, view)) for hit in answer.hits
        ]
        return SearchResults(
            method=answer.method,
            items=items,
            next_cursor=None,
            threshold=answer.threshold,
            strategy=Strategy.SEMANTIC,
        )
    if min_score is not None:
        raise InvalidParameter("min_score applies to semantic search (mode=semantic) only.")
    query = SearchQuery(
        text=q,
        collection=collection,
        tags=tuple(tag or ()),
        labels=tuple(label or ()),
        where=tuple(parse_where(expression) for expression in where or ()),
        content_type=content_type,
        status=status,
        uploaded_after=uploaded_after,
        uploaded_before=uploaded_before,
        min_width=min_width,
        max_width=max_width,
        min_height=min_height,
        max_height=max_height,
        min_size=min_size,
        max_size=max_size,
        limit=limit,
        cursor=cursor,
    )
    found = search.text(query)
    items = [ScoredImage(score=hit.score, image=ImageOut.of(hit.image, view)) for hit in found.hits]
    return SearchResults(
        method=found.method,
        items=items,
        next_cursor=found.next_cursor,
        total=found.total,
        strategy=found.strategy,
        ignored_words=list(found.ignored_words),
        threshold=found.threshold,
    )
