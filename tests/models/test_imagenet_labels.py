"""ImageNet class names and WordNet broader terms."""

from __future__ import annotations

from pathlib import Path

import pytest

from sightline.models.imagenet_labels import (
    TOO_GENERAL,
    ClassLabel,
    build_labels,
    read_labels,
    read_synonyms,
    readable_name,
    write_labels,
)

WORDNET = Path("/usr/share/wordnet")


@pytest.fixture(scope="module")
def labels() -> list[ClassLabel]:
    return build_labels(WORDNET)


def by_wnid(labels: list[ClassLabel], wnid: str) -> ClassLabel:
    return next(label for label in labels if label.wnid == wnid)


def test_there_are_1000_classes_in_output_order(labels: list[ClassLabel]) -> None:
    assert [label.index for label in labels] == list(range(1000))
    assert len({label.wnid for label in labels}) == 1000
    assert labels[0] == by_wnid(labels, "n01440764")  # tench
    assert all(label.name for label in labels)
    # A few classes sit only under dropped general terms ("maze" is just a "system").
    assert sum(not label.broader for label in labels) <= 5


def test_a_tabby_is_a_cat_then_a_feline_then_an_animal(labels: list[ClassLabel]) -> None:
    tabby = by_wnid(labels, "n02123045")
    assert tabby.name == "tabby cat"
    chain = ["cat", "feline", "carnivore", "mammal", "animal"]
    positions = [tabby.broader.index(term) for term in chain]
    assert positions == sorted(positions)
    assert len(set(tabby.broader)) == len(tabby.broader)


def test_useless_general_terms_are_dropped(labels: list[ClassLabel]) -> None:
    terms = {term for label in labels for term in label.broader}
    assert not terms & TOO_GENERAL
    assert {"animal", "vehicle", "food", "container", "device", "structure", "plant"} <= terms


def test_misleading_senses_and_links_are_corrected(labels: list[ClassLabel]) -> None:
    cup = by_wnid(labels, "n07930864")  # WordNet's "cup" here is a mixed drink
    assert "container" in cup.broader and "alcohol" not in cup.broader
    sports_car = by_wnid(labels, "n04285008")
    assert "vehicle" in sports_car.broader and "container" not in sports_car.broader


def test_names_are_short_and_readable(labels: list[ClassLabel]) -> None:
    assert by_wnid(labels, "n02123159").name == "tiger cat"  # curated: "a cat having a ..."
    assert by_wnid(labels, "n01558993").name == "American robin"
    assert all(len(label.name.split()) <= 4 for label in labels)


@pytest.mark.parametrize(
    ("curated", "original", "expected"),
    [
        ("American robin", "robin, American robin, Turdus migratorius", "American robin"),
        ("bell or wind chime", "chime, bell, gong", "chime"),
        ("kite (bird of prey)", "kite", "kite"),
        ("shoji screen / room divider", "shoji", "shoji"),
        ("fruiting spike of a cereal plant", "ear, spike, capitulum", "ear"),
    ],
)
def test_phrases_fall_back_to_the_original_label(
    curated: str, original: str, expected: str
) -> None:
    assert readable_name(curated, original) == expected


def test_labels_survive_a_round_trip(labels: list[ClassLabel], tmp_path: Path) -> None:
    path = write_labels(tmp_path, WORDNET)
    assert path == tmp_path / "labels.json"
    assert read_labels(path) == labels


def test_synonyms_are_the_synsets_words_and_parts_of_the_same_thing(
    labels: list[ClassLabel], tmp_path: Path
) -> None:
    assert by_wnid(labels, "n02123045").synonyms == ("tabby",)  # tabby cat
    assert "shades" in by_wnid(labels, "n04356056").synonyms  # sunglasses
    path = write_labels(tmp_path, WORDNET)
    synonyms = read_synonyms(path)
    # The flowering plant and its organ, "flower, bloom, blossom", are parts of one thing.
    assert synonyms["flower"] == ("bloom", "blossom")
    # "car" as a railway car is not: only the automobile's own words.
    assert "railcar" not in synonyms["car"] and "automobile" in synonyms["car"]
    # "tabby" as a female cat ("queen") is another synset, and no part of this one.
    assert "queen" not in synonyms["tabby cat"]
    # Irregular plurals, which stemming cannot join; "plant" is the organism, not a factory.
    assert "wolves" in synonyms["wolf"]
    assert "flora" in synonyms["plant"] and "works" not in synonyms["plant"]
