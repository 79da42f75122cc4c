"""Faces across images on both stacks (SQLite + folder + in-process queue; PostgreSQL + S3 +
Redis), with the real models: uploads analysed with `face_embedding` become faces, grouped into
clusters as they arrive; search, people (enrolled from faces or from photos), "not the same",
the collections opted into descriptors, and deletion that leaves no descriptor behind, in the
catalog, the results or the index (on PostgreSQL, pgvector's: the database answers
face searches there).

The faces: scikit-image's astronaut and altered copies of it (one person), and its cameraman."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from PIL import Image, ImageEnhance, ImageFilter
from skimage import data
from sqlalchemy import func, select, text

from conftest import Backends, RunningServer, serve
from sightline import Client
from sightline.app import Sightline
from sightline.cli.root import main
from sightline.errors import FaceNotFound, PersonNotFound
from sightline.faces.service import FEATURE
from sightline.faces.store import FaceQuery
from sightline.storage import tables as t
from support.apicheck import assert_error, footprint
from support.faces import wait_grouped
from support.imagegen import encode

FEATURES = "faces,face_embedding"


def astronaut() -> Image.Image:
    return Image.fromarray(data.astronaut())


def cameraman() -> Image.Image:
    return Image.fromarray(data.camera()).convert("RGB")


def side_by_side(*pictures: Image.Image) -> Image.Image:
    joined = Image.new("RGB", (sum(p.width for p in pictures), max(p.height for p in pictures)))
    left = 0
    for picture in pictures:
        joined.paste(picture, (left, 0))
        left += picture.width
    return joined


@dataclass
class Faces:
    app: Sightline
    client: Client
    url: str

    def upload(
        self, picture: bytes, collection: str | None = None, features: Sequence[str] | None = None
    ) -> str:
        with Client(self.url, collection=collection, timeout=60) as client:
            image_id: str = client.upload(picture, features=features)["id"]
            assert client.wait(image_id, timeout=120)["status"] == "done"
        wait_grouped(self.url, image_id, collection)
        return image_id

    def face_of(self, image_id: str) -> str:
        (face,) = self.app.faces.faces(FaceQuery("default", image_id=image_id))
        return face.id

    def count(self, table: object) -> int:
        with self.app.stores.db.read() as conn:
            return int(conn.scalar(select(func.count()).select_from(table)))  # type: ignore[arg-type]

    @property
    def pgvector(self) -> bool:
        return self.app.stores.faces.vector_search() is not None

    def indexed(self) -> int:
        """Faces that face search can find: with pgvector, the descriptors the database holds
        for it; otherwise what this process's index holds in memory, caught up."""
        if self.pgvector:
            with self.app.stores.db.read() as conn:
                return int(conn.scalar(text("SELECT count(embedding) FROM faces")) or 0)
        version = self.app.analyzers.bundled[FEATURE].version
        return self.app.face_index.refresh(FEATURE, version)


@contextmanager
def started(backends: Backends, data_dir: Path, **overrides: Any) -> Iterator[Faces]:
    settings = backends.settings(
        data_dir, workers=1, poll_interval_seconds=0.02, job_lease_seconds=30, **overrides
    )
    app = Sightline(settings)
    try:
        with serve(app) as running, Client(running.url, timeout=60) as client:
            yield Faces(app, client, running.url)
    finally:
        app.close()


@pytest.fixture
def faces(backends: Backends, tmp_path: Path) -> Iterator[Faces]:
    with started(backends, tmp_path / "data", default_features=FEATURES) as running:
        assert running.pgvector == (backends.name == "scaled")
        yield running


def test_copies_of_one_face_group_match_and_search_apart_from_another(faces: Faces) -> None:
    photo = astronaut()
    original = faces.upload(encode(photo, "PNG"))
    flipped = faces.upload(encode(photo.transpose(Image.Transpose.FLIP_LEFT_RIGHT), "PNG"))
    jpeg = faces.upload(encode(photo, "JPEG", quality=20))
    other = faces.upload(encode(cameraman(), "PNG"))
    service = faces.app.faces
    service.group_new()

    same = [faces.face_of(image_id) for image_id in (original, flipped, jpeg)]
    stranger = faces.face_of(other)
    records = service.store.faces_by_id([*same, stranger])
    assert len({records[face_id].cluster_id for face_id in same}) == 1
    assert records[stranger].cluster_id != records[same[0]].cluster_id
    clusters = service.clusters(collection="default", after_id=None, limit=10)
    assert sorted(cluster.faces for cluster in clusters) == [1, 3]

    found = service.search_by_face(same[0], collection="default", max_distance=None, limit=10)
    assert {match.face.id for match in found.matches} == set(same[1:])
    assert all(match.distance < service.match_distance for match in found.matches)
    # A looser threshold reaches the cameraman too; it is farther than every copy.
    loose = service.search_by_face(same[0], collection="default", max_distance=1.5, limit=10)
    assert loose.matches[-1].face.id == stranger

    blurred = encode(photo.filter(ImageFilter.GaussianBlur(2)), "PNG")
    (query,) = service.search_by_image(blurred, collection="default", max_distance=None, limit=10)
    assert {match.face.id for match in query.matches} == set(same)
    (elsewhere,) = service.search_by_image(
        encode(photo, "PNG"), collection="beta", max_distance=None, limit=5
    )
    assert elsewhere.matches == []  # another collection's faces never match


def test_a_person_named_from_one_face_is_matched_in_new_uploads(faces: Faces) -> None:
    photo = astronaut()
    first = faces.face_of(faces.upload(encode(photo, "PNG")))
    copy = faces.face_of(
        faces.upload(encode(photo.transpose(Image.Transpose.FLIP_LEFT_RIGHT), "PNG"))
    )
    service = faces.app.faces
    service.group_new()
    person = service.create_person("Eileen Collins", [first], collection="default")
    assert person.faces == 2  # the face, and its cluster's other face, matched
    assert service.face(copy, collection="default").person_id == person.id
    assert not service.face(copy, collection="default").enrolled

    later = faces.face_of(faces.upload(encode(ImageEnhance.Brightness(photo).enhance(1.4), "PNG")))
    face = service.face(later, collection="default")  # grouped as its analysis was stored
    assert face.person_id == person.id and face.cluster_id is not None
    images = service.person_images(person.id, collection="default", after_id=None, limit=10)
    assert len(images) == 3

    # "Not the same": the copy leaves the cluster and the person, for good.
    separated = service.not_the_same(copy, collection="default")
    assert separated.person_id is None
    assert separated.cluster_id != face.cluster_id
    assert service.person(person.id, collection="default").faces == 2


def test_uploads_to_an_opted_in_collection_get_descriptors_unless_they_name_features(
    backends: Backends, tmp_path: Path
) -> None:
    opted_in = {"default_features": "metadata", "face_collections": "claims"}
    with started(backends, tmp_path / "data", **opted_in) as faces:
        images = faces.app.service
        assert images.defaults("claims") == ["metadata", "faces", FEATURE]
        assert images.defaults("default") == ["metadata"]
        picture = encode(astronaut(), "PNG")
        claim = faces.upload(picture, collection="claims")
        elsewhere = faces.upload(picture)
        named = faces.upload(picture, collection="claims", features=["metadata"])

        assert set(images.get(claim, collection=None).features) == {"metadata", "faces", FEATURE}
        assert set(images.get(elsewhere, collection=None).features) == {"metadata"}
        assert set(images.get(named, collection=None).features) == {"metadata"}
        stored = faces.app.faces.faces(FaceQuery(None))
        assert [(face.image_id, face.collection) for face in stored] == [(claim, "claims")]
        listed = httpx.get(f"{faces.url}/v1/features", params={"collection": "claims"}).json()
        assert {item["name"] for item in listed["items"] if item["default"]} >= {"faces", FEATURE}


def test_a_person_enrolled_from_a_photo_is_matched_in_new_uploads(faces: Faces) -> None:
    people = f"{faces.url}/v1/people"
    person = httpx.post(people, json={"name": "Eileen Collins"}).json()
    photo = astronaut()
    answer = httpx.post(
        f"{people}/{person['id']}/photos",
        files={"file": ("eileen.png", encode(photo, "PNG"))},
        timeout=120,
    )
    assert answer.status_code == 201, answer.text
    enrolment = answer.json()
    (enrolled,) = enrolment["faces"]
    assert enrolment["person"]["faces"] == 1 and enrolment["person"]["images"] == 1
    service = faces.app.faces
    face = service.face(enrolled["id"], collection="default")
    assert face.enrolled and face.person_id == person["id"] and face.cluster_id is not None
    assert face.image_id == enrolled["image_id"] and face.box.w == enrolled["box"]["w"]
    # Stored as an image, analysed in the request: done, with both features' results.
    image = faces.app.service.get(enrolled["image_id"], collection="default")
    assert image.status == "done" and image.filename == "eileen.png"
    assert {name: str(state.status) for name, state in image.features.items()} == {
        "faces": "done",
        FEATURE: "done",
    }

    later = faces.face_of(faces.upload(encode(ImageEnhance.Brightness(photo).enhance(1.4), "PNG")))
    matched = service.face(later, collection="default")
    assert matched.person_id == person["id"] and not matched.enrolled
    images = service.person_images(person["id"], collection="default", after_id=None, limit=10)
    assert set(images) == {enrolled["image_id"], matched.image_id}
    # The photo's face stays enrolled: no job analysed the photo again.
    assert service.face(enrolled["id"], collection="default").enrolled


def test_photos_without_exactly_one_face_or_person_enrol_nothing(faces: Faces) -> None:
    people = f"{faces.url}/v1/people"
    person = httpx.post(people, json={"name": "Eileen Collins"}).json()
    beta = httpx.post(people, params={"collection": "beta"}, json={"name": "Beta"}).json()
    photo = encode(astronaut(), "PNG")
    blank = encode(Image.new("RGB", (320, 240), (120, 160, 200)), "PNG")
    group = encode(side_by_side(astronaut(), cameraman()), "PNG")
    server = RunningServer(faces.url, faces.app)
    before = footprint(server), faces.count(t.faces)

    # One photo without a face refuses the request: the good photo before it is not kept.
    refused = httpx.post(
        f"{people}/{person['id']}/photos",
        files=[("file", ("eileen.png", photo)), ("file", ("sky.png", blank))],
        timeout=120,
    )
    assert_error(refused, 400, "NoFaceDetected")
    assert refused.json()["error"]["details"]["file_index"] == 1
    crowded = httpx.post(
        f"{people}/{person['id']}/photos",
        content=group,
        headers={"Content-Type": "image/png"},
        timeout=120,
    )
    assert_error(crowded, 400, "SeveralFacesDetected")
    assert len(crowded.json()["error"]["details"]["boxes"]) == 2
    for url, params in (
        (f"{people}/person_x/photos", {}),
        (f"{people}/{beta['id']}/photos", {"collection": "default"}),  # another collection's
        (f"{people}/{person['id']}/photos", {"collection": "beta"}),
    ):
        missing = httpx.post(
            url, params=params, content=photo, headers={"Content-Type": "image/png"}
        )
        assert_error(missing, 404, "PersonNotFound")
    assert (footprint(server), faces.count(t.faces)) == before
    assert httpx.get(f"{people}/{person['id']}").json()["faces"] == 0


def test_deleting_leaves_no_descriptor_behind(faces: Faces) -> None:
    photo = astronaut()
    kept = faces.upload(encode(cameraman(), "PNG"))
    gone = faces.upload(encode(photo, "PNG"))
    copy = faces.upload(encode(photo.transpose(Image.Transpose.FLIP_LEFT_RIGHT), "PNG"))
    service = faces.app.faces
    service.group_new()
    assert faces.count(t.faces) == 3 and faces.indexed() == 3

    # A face alone: its row, its vector in the result, its place in the index.
    face_id = faces.face_of(gone)
    service.delete_face(face_id, collection="default")
    with pytest.raises(FaceNotFound):
        service.face(face_id, collection="default")
    result = faces.app.service.get(gone, collection=None).features[FEATURE].result
    assert result is not None
    assert result["faces"][0]["vector"] == [] and result["faces"][0]["box"]
    assert faces.count(t.faces) == 2 and faces.indexed() == 2

    # A person, with its faces.
    person = service.create_person("Eileen", [faces.face_of(copy)], collection="default")
    service.delete_person(person.id, collection="default")
    with pytest.raises(PersonNotFound):
        service.person(person.id, collection="default")
    assert faces.count(t.faces) == 1 and faces.count(t.people) == 0 and faces.indexed() == 1

    # An image, with its faces.
    faces.client.delete(kept)
    assert faces.count(t.faces) == 0
    (query,) = service.search_by_image(
        encode(cameraman(), "PNG"), collection="default", max_distance=1.9, limit=5
    )
    assert query.matches == []

    # Everything: the results that hold descriptors go too.
    faces.upload(encode(photo, "PNG"))
    # Results: the emptied ones of the two images kept, and the new one's.
    assert service.purge() == (1, 3)
    assert faces.count(t.faces) == 0 and faces.indexed() == 0
    with faces.app.stores.db.read() as conn:
        left = conn.scalar(
            select(func.count())
            .select_from(t.feature_results)
            .where(t.feature_results.c.feature == FEATURE)
        )
    assert left == 0


def test_a_purge_from_the_command_line_empties_a_running_process_too(faces: Faces) -> None:
    photo = astronaut()
    faces.upload(encode(photo, "PNG"))
    faces.upload(encode(photo.transpose(Image.Transpose.FLIP_LEFT_RIGHT), "PNG"))
    service = faces.app.faces
    service.create_person(
        "Eileen", [faces.face_of(faces.upload(encode(photo, "PNG")))], collection="default"
    )
    assert faces.indexed() == 3
    faces.app.face_index.save()
    snapshots = faces.app.settings.index_dir() / "faces"

    def snapshot_files() -> list[Path]:
        return list(snapshots.iterdir()) if snapshots.is_dir() else []

    # pgvector keeps the descriptors in the database alone: there is nothing to snapshot.
    assert bool(snapshot_files()) != faces.pgvector

    settings = faces.app.settings
    command = ["faces", "purge", "--yes", "--data-dir", str(settings.data_dir)]
    if settings.catalog_url:
        command += ["--catalog-url", settings.catalog_url]
    outcome = CliRunner().invoke(main, command)
    assert outcome.exit_code == 0, outcome.output
    assert "Purged 3 faces and 3 face_embedding results." in outcome.output
    assert faces.count(t.faces) == 0 and faces.count(t.people) == 0
    assert snapshot_files() == []

    # The running process drops its whole index at its next face search, whatever it finds.
    (query,) = service.search_by_image(
        encode(cameraman(), "PNG"), collection="default", max_distance=0.1, limit=1
    )
    assert query.matches == [] and faces.indexed() == 0


def hnsw_indexes(faces: Faces) -> list[str]:
    with faces.app.stores.db.read() as conn:
        found = conn.scalars(
            text("SELECT indexname FROM pg_indexes WHERE indexname LIKE 'ix_faces_hnsw_%'")
        )
        return list(found)


@pytest.mark.parametrize("backends", ["scaled"], indirect=True)
def test_a_started_process_builds_pgvectors_face_index_before_any_search(
    backends: Backends, tmp_path: Path
) -> None:
    """Faces stored without the index (as migration 0016 leaves them): a process that starts
    builds it in the background, so the first face search does not wait for it."""
    with started(backends, tmp_path / "data", default_features=FEATURES) as first:
        first.upload(encode(astronaut(), "PNG"))
        (index,) = hnsw_indexes(first)  # made by the new face's grouping
        with first.app.stores.db.write() as conn:
            conn.execute(text(f"DROP INDEX {index}"))
    with started(backends, tmp_path / "data", default_features=FEATURES) as second:
        deadline = time.monotonic() + 30
        while not hnsw_indexes(second):
            assert time.monotonic() < deadline, "no process built the faces' index"
            time.sleep(0.05)
