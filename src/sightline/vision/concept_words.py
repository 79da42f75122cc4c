"""Words for a picture from what other features found: people, text, the kind of image and its
colours, so that tags and semantic vectors name what ImageNet has no class for.

Each word comes with a confidence and the feature it came from (its `source`). Nothing about
gender, age or emotion is ever derived.

- `faces` and `people` (a person is counted once, by whichever detector saw more, or the
  surer one when both saw as many): "person" (1 or more; the surest detection's confidence),
  "people" (2 or more; the second surest), "group of people" (3 or more; the third), "crowd"
  (`CROWD` or more; the `CROWD`-th). "portrait": one or two faces, the largest at least
  `PORTRAIT_FACE` of the picture's height (a head-and-shoulders framing: the astronaut's face
  is 0.23 of it, the cameraman's, a half-length figure, 0.15). "selfie": one face at least
  `SELFIE_FACE` of the height, as at arm's length; a tight studio head shot is framed the
  same way, so its confidence is half the face's.
- `read`: "text" when at least `MIN_TEXT_CHARACTERS` characters were read (the mean line
  confidence); "document" when `DOCUMENT_LINES` lines or more cover at least
  `DOCUMENT_COVERAGE` of the picture; "receipt" for a document whose lines end in amounts
  ("12.50") in a share of `RECEIPT_AMOUNTS` or more; "form" for a document whose lines are
  "label: value" pairs in a share of `FORM_LABELS` or more.
- `image_type`: "document", "screenshot", "drawing" (line drawing), "clip art", with the
  type's score; a type this code does not know gives no word. "chart" and "logo" from its
  `graphic` (bars, a divided disc or labelled axes; a small centred flat-colour drawing), at
  `GRAPHIC_CONFIDENCE`: on rendered sets (`image_type` gives the figures) no photo, page,
  screen, cartoon, drawing or photo centred on white got either, and 0.96 of charts and 0.85
  of logos got theirs; logos in the wild are more varied than those, so "logo" is less sure.
- `color`: the dominant colour names, each with its share of the picture, and "black and
  white" for a colourless picture.

A word found by several features is listed once, with the highest confidence.

Rendered with PIL and DejaVu fonts (tests/support/documents.py), a claim form gives "form,
document, text", a receipt "receipt, document, text", a memo "document, text" (0.99 each);
of fourteen scikit-image photos only the astronaut and the cameraman get person words, and only
"page" (a scanned book page) gets "document".
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Literal, NamedTuple

from sightline.vision.base import Analysis
from sightline.vision.color import COLOR_NAMES, ColorAnalyzer, ColorResult
from sightline.vision.faces import FacesAnalyzer, FacesResult
from sightline.vision.image_type import ImageTypeAnalyzer, ImageTypeResult
from sightline.vision.people import PeopleAnalyzer, PeopleResult
from sightline.vision.read import ReadAnalyzer, ReadResult, TextLine

# The features concept words come from, in the order their words are gathered.
SOURCES: tuple[str, ...] = (
    FacesAnalyzer.name,
    PeopleAnalyzer.name,
    ReadAnalyzer.name,
    ImageTypeAnalyzer.name,
    ColorAnalyzer.name,
)
CROWD = 10
PORTRAIT_FACE = 0.2
SELFIE_FACE = 0.45
SELFIE_DOUBT = 0.5
MIN_TEXT_CHARACTERS = 12
DOCUMENT_LINES = 6
DOCUMENT_COVERAGE = 0.04
RECEIPT_AMOUNTS = 0.3
FORM_LABELS = 0.3
BLACK_AND_WHITE_CONFIDENCE = 0.9
AMOUNT = re.compile(r"\d[.,]\d{2}\b\W*$")
LABEL = re.compile(r"^\s*\w[\w #./()-]{0,30}:(\s|$)")
TYPE_WORDS = {
    "document": "document",
    "screenshot": "screenshot",
    "line_drawing": "drawing",
    "clip_art": "clip art",
}
GRAPHIC_CONFIDENCE = {"chart": 0.8, "logo": 0.6}
PEOPLE_WORDS = ("person", "people", "group of people", "crowd", "portrait", "selfie")
TEXT_WORDS = ("text", "document", "receipt", "form")
# Every word this module can give, for tables built ahead (the semantic feature's).
VOCABULARY = tuple(
    dict.fromkeys(
        (
            *PEOPLE_WORDS,
            *TEXT_WORDS,
            *TYPE_WORDS.values(),
            *GRAPHIC_CONFIDENCE,
            *COLOR_NAMES,
            "black and white",
        )
    )
)


ConceptSource = Literal["faces", "people", "read", "image_type", "color"]
FACES: ConceptSource = "faces"
PEOPLE: ConceptSource = "people"
READ: ConceptSource = "read"
IMAGE_TYPE: ConceptSource = "image_type"
COLOR: ConceptSource = "color"


class ConceptWord(NamedTuple):
    name: str
    confidence: float
    source: ConceptSource


def people_words(faces: FacesResult | None, people: PeopleResult | None) -> list[ConceptWord]:
    """Person words from face and body detections (see the module docstring)."""
    face_scores = sorted((face.confidence for face in faces.faces), reverse=True) if faces else []
    body_scores = (
        sorted((person.confidence for person in people.people), reverse=True) if people else []
    )
    source, scores = max(
        (FACES, face_scores), (PEOPLE, body_scores), key=lambda pair: (len(pair[1]), pair[1][:1])
    )
    words = [
        ConceptWord(name, scores[count - 1], source)
        for name, count in (("person", 1), ("people", 2), ("group of people", 3), ("crowd", CROWD))
        if len(scores) >= count
    ]
    if faces and faces.faces:
        words.extend(_framing_words(faces))
    return words


def _framing_words(faces: FacesResult) -> list[ConceptWord]:
    largest = max(faces.faces, key=lambda face: face.box.h)
    share = largest.box.h / max(faces.height, 1)
    words = []
    if len(faces.faces) <= 2 and share >= PORTRAIT_FACE:
        words.append(ConceptWord("portrait", largest.confidence, FACES))
    if len(faces.faces) == 1 and share >= SELFIE_FACE:
        words.append(ConceptWord("selfie", largest.confidence * SELFIE_DOUBT, FACES))
    return words


def text_words(read: ReadResult) -> list[ConceptWord]:
    """Text and document words from the lines read (see the module docstring)."""
    lines = [line for line in read.lines if line.text.strip()]
    characters = sum(len(line.text.replace(" ", "")) for line in lines)
    if characters < MIN_TEXT_CHARACTERS:
        return []
    confidence = sum(line.confidence * len(line.text) for line in lines) / sum(
        len(line.text) for line in lines
    )
    source = READ
    text = ConceptWord("text", confidence, source)
    area = max(read.width * read.height, 1)
    coverage = sum(line.box.w * line.box.h for line in lines) / area
    if len(lines) < DOCUMENT_LINES or coverage < DOCUMENT_COVERAGE:
        return [text]
    kinds = [
        ConceptWord(name, confidence, source)
        for name, pattern, share in (
            ("receipt", AMOUNT, RECEIPT_AMOUNTS),
            ("form", LABEL, FORM_LABELS),
        )
        if _share(lines, pattern) >= share
    ]
    # The most specific word first: ties keep this order when tags are ranked.
    return [*kinds, ConceptWord("document", confidence, source), text]


def _share(lines: Sequence[TextLine], pattern: re.Pattern[str]) -> float:
    return sum(1 for line in lines if pattern.search(line.text)) / len(lines)


def image_type_words(result: ImageTypeResult) -> list[ConceptWord]:
    """The image type as a word, unless it is a photo or a type this code does not know, and
    "chart" or "logo" for such a graphic."""
    words = []
    word = TYPE_WORDS.get(result.type)
    if word is not None:
        score = float(result.scores.model_dump().get(result.type, 0.0))
        words.append(ConceptWord(word, score, IMAGE_TYPE))
    if result.graphic in GRAPHIC_CONFIDENCE:
        words.append(ConceptWord(result.graphic, GRAPHIC_CONFIDENCE[result.graphic], IMAGE_TYPE))
    return words


def color_words(result: ColorResult) -> list[ConceptWord]:
    """Dominant colour names with their share of the picture, and "black and white"."""
    words = [ConceptWord(name, share, COLOR) for name, share in result.shares()]
    if result.is_black_and_white:
        words.append(ConceptWord("black and white", BLACK_AND_WHITE_CONFIDENCE, COLOR))
    return words


def concept_words(analyses: Mapping[str, Analysis]) -> list[ConceptWord]:
    """Every concept word the given analyses (by feature name) support, each once, with its
    highest confidence, surest first."""
    results = {name: analysis.result for name, analysis in analyses.items()}
    found: list[ConceptWord] = []
    faces, people = results.get(FACES), results.get(PEOPLE)
    found += people_words(
        faces if isinstance(faces, FacesResult) else None,
        people if isinstance(people, PeopleResult) else None,
    )
    if isinstance(read := results.get(READ), ReadResult):
        found += text_words(read)
    if isinstance(kind := results.get(IMAGE_TYPE), ImageTypeResult):
        found += image_type_words(kind)
    if isinstance(color := results.get(COLOR), ColorResult):
        found += color_words(color)
    return strongest(found)


def strongest(words: Iterable[ConceptWord]) -> list[ConceptWord]:
    """Each word once, with its highest confidence, surest first."""
    best: dict[str, ConceptWord] = {}
    for word in words:
        if word.name not in best or word.confidence > best[word.name].confidence:
            best[word.name] = word
    return sorted(best.values(), key=lambda word: -word.confidence)  # stable: ties keep order
