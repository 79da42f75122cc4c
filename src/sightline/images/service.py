"""Use cases: ingest, query, reprocess and delete images. The API and the CLI call these.

Every image is in one collection. Reads take `collection`, the caller's scope: an image of
another collection is not found, exactly like a missing one (None: every collection is seen).
Ingest takes the collection the images go to."""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, BinaryIO

from sightline import json_input
from sightline.blobs import BlobStore, StoreKeeper
from sightline.errors import (
    ImageNotFound,
    InvalidMetadata,
    InvalidParameter,
    NotReady,
    SightlineError,
    TooManyFiles,
)
from sightline.events import EventType, cloud_event, derived_event_id
from sightline.ids import is_image_id, new_image_id
from sightline.images.pipeline import (
    FeatureRun,
    Features,
    RunOnUpload,
    analyze_once,
    default_features,
    face_collections,
    opt_in_features,
    resolve_features,
    run_features,
)
from sightline.images.store import ImageQuery, ImageStore, ImageVersion
from sightline.metrics import Metrics
from sightline.settings import Settings
from sightline.storage.change_marks import ChangeMark, MarkMoved
from sightline.storage.records import (
    BlobRef,
    FeatureState,
    FeatureStatus,
    ImageRecord,
    NewImage,
)
from sightline.vision import Analyzer, Artifact, Decoder, Picture
from sightline.vision.thumbnail import (
    THUMBNAIL_SIZES,
    ThumbnailAnalyzer,
    ThumbnailResult,
    checked_size,
)

MAX_FILENAME_LENGTH = 255
# Writes tried again with the classifiers read afresh, when what a kept copy chose was changed
# meanwhile: more than one retry needs classifiers changed again within the upload's write.
MARK_RETRIES = 3
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Upload:
    data: bytes
    filename: str | None = None
    image_id: str | None = None  # reserved beforehand (direct uploads); new when None


@dataclass(frozen=True)
class Analysed:
    """A picture analysed before it is stored (`ImageService.analyse`)."""

    upload: Upload  # its file name checked
    picture: Picture  # its facts: the decoded pixels are released
    runs: list[FeatureRun]
    artifacts: dict[str, bytes]  # by sha256, written with the results

    def state(self, feature: str) -> FeatureState:
        return next(run.state for run in self.runs if run.state.feature == feature)


@dataclass(frozen=True)
class Ingested:
    image: ImageRecord
    duplicate: bool


class ImageService:
    def __init__(
        self,
        settings: Settings,
        store: ImageStore,
        blobs: BlobStore,
        features: Features,
        metrics: Metrics,
        decoder: Decoder,
        on_event: Callable[[], None] = lambda: None,
        check_space: Callable[[], None] = lambda: None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.blobs = blobs
        self.features = features
        self.default_features = default_features(settings, features.bundled)
        self.face_collections = face_collections(settings)
        self.face_features = opt_in_features(self.face_collections, features.bundled)
        self.metrics = metrics
        self.on_event = on_event  # wakes the in-process outbox relay
        # Raises InsufficientStorage under the free-space floor: refused before any write.
        self.check_space = check_space
        # Shared with this process's workers: what all pictures decoded at once hold stays
        # within SIGHTLINE_DECODE_MEMORY_BYTES.
        self.decoder = decoder
        # Synchronous analyses share the cores with the workers; more at once would only queue
        # inside the model runtimes, each holding a decoded picture in memory meanwhile.
        self._analyzing = threading.BoundedSemaphore(max(1, settings.workers))

    def defaults(self, collection: str) -> list[str]:
        """The features computed when a request about this collection names none: the
        configured set (with faces, where the collection opted in) and the collection's
        classifiers attached to uploads."""
        return self._with_configured(collection, self.features.run_on_upload(collection))

    def _with_configured(self, collection: str, run_on_upload: RunOnUpload) -> list[str]:
        faces = self.face_features if collection in self.face_collections else []
        return list(dict.fromkeys([*self.default_features, *faces, *run_on_upload.features]))

    def analyzers(self, collection: str) -> Mapping[str, Analyzer]:
        """The analyzers images of this collection may use."""
        return self.features.of(collection)

    # -- one-off analysis ----------------------------------------------------------------------

    def analyze_now(
        self, data: bytes, features: Sequence[str] | None, *, collection: str
    ) -> dict[str, Any]:
        """Analyse without storing anything: the cloud APIs' synchronous call; the features
        are those of `collection`."""
        analyzers = self.analyzers(collection)
        wanted = resolve_features(features, analyzers, self.defaults(collection))
        with (
            self._analyzing,
            self.decoder.picture(data, max_bytes=self.settings.max_upload_bytes) as picture,
        ):
            results = analyze_once(picture, wanted, analyzers)
        return {
            "image": {
                "sha256": picture.sha256,
                "content_type": picture.content_type,
                "format": picture.format,
                "size": len(picture.data),
                "width": picture.width,
                "height": picture.height,
            },
            "features": results,
        }

    # -- ingest ------------------------------------------------------------------------------

    def ingest(
        self,
        uploads: Sequence[Upload],
        features: Sequence[str] | None = None,
        metadata: str | None = None,
        *,
        collection: str,
    ) -> list[Ingested]:
        """Validate every file first, then store all of them or none, in `collection`."""
        self.check_file_count(len(uploads))
        self.check_space()
        analyzers = self.analyzers(collection)
        run_on_upload = self.features.kept_run_on_upload(collection)
        # Checked before any file is read: an unknown feature needs no decoding to be refused.
        resolve_features(features, analyzers, self._with_configured(collection, run_on_upload))
        client_metadata = self.parse_metadata(metadata)
        pictures, filenames = [], []
        for index, upload in enumerate(uploads):
            try:
                filenames.append(checked_filename(upload.filename))
                # Every byte decoded to catch corrupt files (a JPEG's pixels at 1/8 scale: see
                # `Decoder.picture`), then closed: only the facts are kept while the batch is
                # checked.
                with self.decoder.picture(
                    upload.data, max_bytes=self.settings.max_upload_bytes, analysed=False
                ) as picture:
                    pictures.append(picture)
            except SightlineError as exc:
                self.metrics.upload_rejected(exc.code)
                name_the_file(exc, index, upload.filename, len(uploads))
                raise
        for retry in range(MARK_RETRIES + 1):
            wanted = resolve_features(
                features, analyzers, self._with_configured(collection, run_on_upload)
            )
            # Only a default set relies on the kept classifiers.
            mark = run_on_upload.mark if features is None else None
            try:
                records = self._catalogue(
                    uploads, pictures, filenames, wanted, client_metadata, mark, collection
                )
                break
            except MarkMoved:
                if retry == MARK_RETRIES:
                    raise
                run_on_upload = self.features.run_on_upload(collection)
        self.on_event()
        ingested = [Ingested(record, record.duplicate_of is not None) for record in records]
        for item in ingested:
            self.metrics.upload_accepted(item.image.size, duplicate=item.duplicate)
        return ingested

    def _catalogue(
        self,
        uploads: Sequence[Upload],
        pictures: Sequence[Picture],
        filenames: Sequence[str | None],
        wanted: Sequence[str],
        client_metadata: dict[str, Any],
        mark: ChangeMark | None,
        collection: str,
    ) -> list[ImageRecord]:
        """Store the validated uploads' blobs and catalogue them (`ImageStore.add_images`);
        a failed write leaves no blob it wrote behind. `MarkMoved` when `mark` no longer holds,
        or a feature is gone (a classifier deleted meanwhile)."""
        analyzers = self.analyzers(collection)
        pending = [_pending(name, analyzers) for name in wanted]
        new_images = []
        events = []
        for upload, picture, filename in zip(uploads, pictures, filenames, strict=True):
            image = NewImage(
                id=upload.image_id or new_image_id(),
                sha256=picture.sha256,
                filename=filename,
                content_type=picture.content_type,
                format=picture.format,
                size=len(picture.data),
                width=picture.width,
                height=picture.height,
                client_metadata=client_metadata,
                features=pending,
                collection=collection,
            )
            new_images.append(image)
            events.append(
                cloud_event(
                    EventType.IMAGE_CREATED,
                    image.id,
                    {
                        "id": image.id,
                        "sha256": image.sha256,
                        "filename": image.filename,
                        "content_type": image.content_type,
                        "size": image.size,
                        "width": image.width,
                        "height": image.height,
                        "features": list(wanted),
                        "metadata": client_metadata,
                    },
                    collection=collection,
                )
            )
        keeper = StoreKeeper(self.blobs, {p.sha256: p.data for p in pictures})
        try:
            for picture in pictures:
                self.blobs.put(picture.data, picture.sha256)
            return self.store.add_images(new_images, events, keeper, as_of=mark)
        except Exception:
            self._release([p.sha256 for p in pictures])
            raise

    def _release(self, shas: Sequence[str]) -> None:
        """After a failed catalog write, remove the blobs it wrote that nothing references."""
        try:
            self.store.release_blobs(shas, StoreKeeper(self.blobs))
        except Exception:
            log.exception("Could not remove the blobs of a failed upload: %s", shas)

    # -- analysed before stored --------------------------------------------------------------

    def analyse(self, upload: Upload, features: Sequence[str], *, collection: str) -> Analysed:
        """Analyse a picture that is stored only if its results allow (`add_analysed`), as
        an enrolment photo is only with one face: nothing is written here."""
        analyzers = self.analyzers(collection)
        wanted = resolve_features(features, analyzers, ())
        filename = checked_filename(upload.filename)
        artifacts: dict[str, bytes] = {}

        def keep(artifact: Artifact, _role: str) -> None:
            artifacts[artifact.sha256] = artifact.data

        with (
            self._analyzing,
            self.decoder.picture(upload.data, max_bytes=self.settings.max_upload_bytes) as picture,
        ):
            runs = run_features(picture, wanted, analyzers, keep)
        for run in runs:
            self.metrics.feature_seconds.labels(run.state.feature).observe(run.seconds)
        return Analysed(Upload(upload.data, filename, upload.image_id), picture, runs, artifacts)

    def add_analysed(self, analysed: Analysed, *, collection: str) -> ImageRecord:
        """Store what `analyse` analysed as a new image of `collection`, with its results:
        no job computes them again, so its `image.created` event names no features to
        compute, and its `image.analyzed` event follows at once. A failure once the image is
        catalogued deletes it again."""
        self.check_space()
        upload, picture = analysed.upload, analysed.picture
        (record,) = self._catalogue(
            [upload], [picture], [upload.filename], [], {}, None, collection
        )
        artifacts = analysed.artifacts
        try:
            for sha256, data in artifacts.items():
                self.blobs.put(data, sha256)
            refs = [
                BlobRef(sha256, role)
                for run in analysed.runs
                for role, sha256 in run.artifacts.items()
            ]
            declared = [
                run.analysis.result.index_entries() for run in analysed.runs if run.analysis
            ]
            stored = self.store.finish_features(
                record.id,
                [run.state for run in analysed.runs],
                refs,
                StoreKeeper(self.blobs, artifacts),
                derived_event_id(record.id, "analysed"),
                phash=next((entries.phash for entries in declared if entries.phash), None),
            )
            if stored is None:
                raise ImageNotFound(f"Image {record.id} was deleted as it was stored.")
        except Exception:
            self.discard([record.id])
            raise
        self.on_event()
        self.metrics.upload_accepted(stored.size, duplicate=stored.duplicate_of is not None)
        return stored

    def discard(self, image_ids: Sequence[str]) -> None:
        """Delete images a use case stored and then could not complete with; one that cannot
        be deleted is logged, so the failure that called for this is the one raised."""
        for image_id in image_ids:
            try:
                self.delete(image_id, collection=None)
            except ImageNotFound:
                continue  # already gone
            except Exception:
                log.exception("Could not delete image %s of an incomplete request", image_id)

    def check_file_count(self, count: int, noun: str = "file") -> None:
        """A request's files (`noun`s): at least one, at most `SIGHTLINE_MAX_FILES_PER_REQUEST`."""
        if not count:
            raise InvalidParameter(f"The request contains no {noun}.")
        if count > self.settings.max_files_per_request:
            raise TooManyFiles(
                f"{count} {noun}s in one request; the limit is "
                f"{self.settings.max_files_per_request}."
            )

    def parse_metadata(self, raw: str | None) -> dict[str, Any]:
        return parse_metadata(raw, self.settings.max_metadata_bytes)

    # -- queries -----------------------------------------------------------------------------

    def get(self, image_id: str, *, collection: str | None) -> ImageRecord:
        found = is_image_id(image_id)
        record = self.store.get_image(image_id, collection) if found else None
        if record is None:
            raise ImageNotFound(f"No image with id {image_id!r}.")
        return record

    def version(self, image_id: str, *, collection: str | None) -> ImageVersion:
        """When the image last changed, and its status (`ImageStore.image_version`)."""
        found = self.store.image_version(image_id, collection) if is_image_id(image_id) else None
        if found is None:
            raise ImageNotFound(f"No image with id {image_id!r}.")
        return found

    def list_images(self, query: ImageQuery) -> list[ImageRecord]:
        return self.store.list_images(query)

    def count_images(self, query: ImageQuery) -> int:
        return self.store.count_images(query)

    def open_original(
        self, image_id: str, *, collection: str | None
    ) -> tuple[ImageRecord, BinaryIO]:
        record = self.get(image_id, collection=collection)
        return record, self.blobs.open(record.sha256)

    def thumbnail_blob(self, image_id: str, size: int, *, collection: str | None) -> str:
        """The sha256 of the image's thumbnail of this size."""
        checked_size(size, THUMBNAIL_SIZES, "Thumbnail")
        return self.thumbnail_of(self.get(image_id, collection=collection), size)

    def thumbnail_of(self, record: ImageRecord, size: int) -> str:
        """The sha256 of this image's thumbnail of this size; `NotReady` while there is none."""
        state = record.features.get(ThumbnailAnalyzer.name)
        if state is None or state.result is None:
            raise NotReady(
                f"Image {record.id} has no thumbnail yet "
                f"(thumbnail feature: {state.status if state else 'not requested'})."
            )
        sha256 = ThumbnailResult.model_validate(state.result).blob(size)
        if sha256 is None:
            raise NotReady(f"Image {record.id} has no thumbnail of {size} pixels.")
        return sha256

    def open_blob(self, sha256: str) -> BinaryIO:
        """A stored blob (an original or a thumbnail) by its sha256, for reading."""
        return self.blobs.open(sha256)

    def blob_size(self, sha256: str) -> int:
        return self.blobs.size(sha256)

    def feature_versions(self, collection: str) -> dict[str, str]:
        """Every feature this server computes for the collection's images, with its analyzer's
        version."""
        return {name: analyzer.version for name, analyzer in self.analyzers(collection).items()}

    def presigned_url(
        self, sha256: str, content_type: str, filename: str | None = None
    ) -> str | None:
        """A URL the client may fetch the blob from directly, when the operator enabled that
        (`SIGHTLINE_BLOB_PRESIGN_SECONDS`) and the blob store can sign one."""
        if not self.settings.blob_presign_seconds:
            return None
        return self.blobs.presigned_url(
            sha256,
            expires_seconds=self.settings.blob_presign_seconds,
            filename=filename,
            content_type=content_type,
        )

    def duplicates(
        self, image_id: str, max_distance: int, *, collection: str | None
    ) -> list[tuple[ImageRecord, int]]:
        self.get(image_id, collection=collection)
        near = self.store.near_duplicates(image_id, max_distance, collection)
        others = self.store.get_images([other_id for other_id, _distance in near], collection)
        return [(others[other_id], distance) for other_id, distance in near if other_id in others]

    # -- changes -----------------------------------------------------------------------------

    def delete(self, image_id: str, *, collection: str | None) -> None:
        record = self.get(image_id, collection=collection)
        event = cloud_event(
            EventType.IMAGE_DELETED,
            image_id,
            {
                "id": image_id,
                "sha256": record.sha256,
                "filename": record.filename,
                "metadata": record.client_metadata,
            },
            collection=record.collection,
        )
        if self.store.delete_image(image_id, event, StoreKeeper(self.blobs)) is None:
            raise ImageNotFound(f"No image with id {image_id!r}.")
        self.on_event()

    def reprocess(
        self,
        image_id: str,
        features: Sequence[str] | None,
        outdated_only: bool = False,
        *,
        collection: str | None,
    ) -> ImageRecord:
        """Analyse again: the given features, or all the image has; optionally only those whose
        analyzer version changed since their result was computed."""
        record = self.get(image_id, collection=collection)
        analyzers = self.analyzers(record.collection)
        names = resolve_features(
            features if features is not None else list(record.features) or None,
            analyzers,
            self.defaults(record.collection),
        )
        if outdated_only:
            names = [
                name
                for name in names
                if name not in record.features
                or record.features[name].version != analyzers[name].version
            ]
        if not names:
            return record
        event = cloud_event(
            EventType.IMAGE_REPROCESS_REQUESTED,
            image_id,
            {"id": image_id, "features": names},
            collection=record.collection,
        )
        updated = self.store.request_features(
            image_id, [_pending(name, analyzers) for name in names], event
        )
        if updated is None:
            raise ImageNotFound(f"No image with id {image_id!r}.")
        self.on_event()
        return updated


def _pending(feature: str, analyzers: Mapping[str, Analyzer]) -> FeatureState:
    analyzer = analyzers.get(feature)
    if analyzer is None:
        raise MarkMoved(feature)
    return FeatureState(feature, FeatureStatus.PENDING, analyzer.name, analyzer.version)


def parse_metadata(raw: str | None, max_bytes: int) -> dict[str, Any]:
    """Client metadata: a JSON object of at most `max_bytes` as compact JSON, or
    `InvalidMetadata`; nothing (or blanks) is an empty object."""
    if raw is None or not raw.strip():
        return {}
    if len(raw.encode("utf-8", "surrogatepass")) > max_bytes * 4:
        raise InvalidMetadata("The metadata is larger than allowed.")
    try:
        value = json_input.loads(raw)
    except ValueError as exc:
        raise InvalidMetadata(f"The metadata is not valid JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise InvalidMetadata("The metadata must be a JSON object.")
    compact = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    if len(compact.encode()) > max_bytes:
        raise InvalidMetadata(
            f"The metadata has {len(compact.encode())} bytes as compact JSON; "
            f"the limit is {max_bytes}."
        )
    return value


def name_the_file(exc: SightlineError, index: int, filename: str | None, files: int) -> None:
    """Name the culprit in an error about one file of a request: in a batch the client must know
    which file was refused (a lone file's message needs no "File 1: " before it; details say it
    anyway)."""
    shown = clean_filename(filename)
    if files > 1:
        name = f" ({shown})" if shown else ""
        exc.message = f"File {index + 1}{name}: {exc.message}"
    exc.details.update(file_index=index, filename=shown)


def base_name(filename: str | None) -> str | None:
    """Keep only the base name: a client's folder structure is not ours to store or echo, and
    neither is a name that is itself a step up or a folder (`..`, `.`)."""
    if not filename:
        return None
    name = os.path.basename(filename.replace("\\", "/")).strip()
    name = "".join(ch for ch in name if ch.isprintable())
    return name if name not in ("", ".", "..") else None


def checked_filename(filename: str | None) -> str | None:
    """The name stored for a file a client named, however it sent the name (a multipart part,
    `X-Filename`, a direct upload's JSON): its base name, refused beyond `MAX_FILENAME_LENGTH`
    characters rather than cut, so that what is stored is what the client said."""
    name = base_name(filename)
    if name is not None and len(name) > MAX_FILENAME_LENGTH:
        raise InvalidParameter(
            f"The file name has {len(name)} characters; the limit is {MAX_FILENAME_LENGTH}.",
            limit=MAX_FILENAME_LENGTH,
        )
    return name


def clean_filename(filename: str | None) -> str | None:
    """The base name cut to `MAX_FILENAME_LENGTH` characters: for names no client chose (the
    key of an object dropped into the bucket) and for naming a refused file in a message."""
    name = base_name(filename)
    return name[:MAX_FILENAME_LENGTH] if name else None
