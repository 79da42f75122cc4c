"""The composition root: settings in, a wired application out. Only the CLI imports this."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path

from fastapi import FastAPI

from sightline import facades, web
from sightline.allocator import return_large_blocks
from sightline.api import Services, create_api
from sightline.api.image_answers import ImageAnswers
from sightline.blobs import open_blob_store
from sightline.blobs.local import LocalBlobStore
from sightline.classifiers.features import FeatureSet
from sightline.classifiers.jobs import TrainJob
from sightline.classifiers.service import ClassifierService
from sightline.disk_space import FreeSpaceFloor
from sightline.events import JobKind
from sightline.faces.service import FACE_PROBES, FaceService
from sightline.faces.service import FEATURE as FACE_FEATURE
from sightline.health import Component, Degraded, readiness
from sightline.images.analysis import Analyst
from sightline.images.backfill import RequestFeatureJob, request_reindex
from sightline.images.inbox import DirectUploads
from sightline.images.service import ImageService
from sightline.keys import AccessLimits, KeyService
from sightline.maintenance import Checker, Schedule, Sweeper
from sightline.memory_budget import MemoryBudget
from sightline.metrics import Metrics
from sightline.models import Models
from sightline.models.specs import PREPARE_HINT
from sightline.queue import RetryPolicy, open_queue
from sightline.queue.sqlite import SQLiteQueue
from sightline.search.service import SearchService
from sightline.search.vectors import VectorSearch
from sightline.settings import Settings
from sightline.storage.migrate import SchemaChanges
from sightline.stores import catalog_indexer, open_stores
from sightline.vision import Analyzer, Decoder
from sightline.vision.registry import build_analyzers
from sightline.vision.tags import EmbeddingAnalyzer, classifier
from sightline.warmup import ModelWarmup
from sightline.webhooks import Dispatcher, SubscriptionService
from sightline.worker import OutboxRelay, WorkerPool
from sightline.worker_http import ProbeServer

log = logging.getLogger(__name__)
# A sweep or reconciliation stops at its next item; one stuck on a slow store is not waited for
# longer than this.
SCHEDULE_STOP_SECONDS = 10.0
WARMUP_AFTER_STARTUP_SECONDS = 0.5


def schema_changes(settings: Settings, *, runs_service: bool) -> SchemaChanges:
    """What opening the catalog may do to its schema (`SIGHTLINE_AUTO_MIGRATE`). An embedded
    SQLite catalog lives on one machine with one installed version, so the service upgrades it
    on start (`make run` stays one command); a shared PostgreSQL one is upgraded only by
    `sightline migrate` (or `serve --migrate`), never by a replica during a rolling update.
    One-off commands never upgrade: they must not change what they inspect or back up."""
    if settings.auto_migrate == "never":
        return SchemaChanges.NONE
    embedded = settings.resolved_catalog_url().startswith("sqlite")
    if runs_service and (settings.auto_migrate == "always" or embedded):
        return SchemaChanges.UPGRADE
    return SchemaChanges.CREATE


class Sightline:
    """Every part of one Sightline process, built from settings and closed together."""

    def __init__(
        self,
        settings: Settings,
        analyzers: Mapping[str, Analyzer] | None = None,
        *,
        runs_service: bool = True,
    ) -> None:
        """`runs_service`: this process serves or works (`serve`, `worker`), rather than running
        one command; only such a process may upgrade the catalog (`schema_changes`)."""
        # Pictures decoded here take hundreds of MB each: when freed, back to the system.
        return_large_blocks()
        self.settings = settings
        self.metrics = Metrics()
        self.stores = open_stores(
            settings.resolved_catalog_url(),
            catalog_indexer(settings.model_dir),
            schema_changes(settings, runs_service=runs_service),
        )
        self.blobs = open_blob_store(settings.resolved_blob_url())
        self.queue = open_queue(
            settings.resolved_queue_url(),
            lease_seconds=settings.job_lease_seconds,
            retry=RetryPolicy(settings.job_max_attempts, settings.job_backoff_seconds),
        )
        self.disk_space = FreeSpaceFloor(self._local_folders(), settings.min_free_bytes)
        self.models = Models.from_settings(settings)
        bundled = (
            dict(analyzers)
            if analyzers is not None
            else build_analyzers(self.models, settings.smart_crop_aspect_ratios())
        )
        # Custom classifiers read the embedding: they share its model and must match its version.
        embedding_model = classifier(self.models)
        embedding_version = EmbeddingAnalyzer(self.models).version
        self.analyzers = FeatureSet(bundled, self.stores.classifiers, embedding_version)

        def wake_relay() -> None:
            # The services wake the pool's relay, and the pool's jobs call the services.
            self.pool.notify()
            self.dispatcher.notify()

        # One budget for every picture this process decodes: uploads, analyses, predictions.
        decoder = Decoder(settings.max_pixels, MemoryBudget(settings.decode_memory_bytes))
        self.service = ImageService(
            settings,
            self.stores.images,
            self.blobs,
            self.analyzers,
            self.metrics,
            decoder,
            wake_relay,
            check_space=self.disk_space.check,
        )
        # Started with the workers: the models their uploads' default features need, with the
        # face models where a collection opted into them.
        self.warmup = ModelWarmup(
            bundled,
            [*self.service.default_features, *self.service.face_features]
            if settings.warm_models
            else [],
        )
        self.classifiers = ClassifierService(
            self.stores.classifiers,
            self.stores.events,
            self.stores.vectors,
            self.service,
            embedding_model,
            embedding_version,
            wake_relay,
        )
        # Snapshots of the vector indexes: a restart loads them and reads only newer vectors.
        self.vectors = VectorSearch(self.stores.vectors, settings.index_dir())
        self.search = SearchService(
            self.stores.images,
            self.stores.text,
            self.stores.vectors,
            self.vectors,
            self.models,
            self.analyzers.bundled,
            semantic_threshold=settings.semantic_threshold,
        )
        # Where pgvector answers face searches (`faces.sql`) this keeps no index: the probes and
        # the snapshot folder are then unused.
        self.face_index = VectorSearch(
            self.stores.faces, settings.index_dir() / "faces", probes=FACE_PROBES
        )
        self.faces = FaceService(
            self.stores.faces, self.face_index, self.service, settings.face_match_distance
        )
        # Webhooks: sent from every process that runs workers, by its dispatcher.
        self.dispatcher = Dispatcher(settings, self.stores.subscriptions, self.metrics)
        self.subscriptions = SubscriptionService(
            settings, self.stores.subscriptions, self.dispatcher.notify
        )
        self.keys = KeyService(settings, self.stores.keys)
        self.image_answers = ImageAnswers(settings.image_answer_cache_bytes)
        features = RequestFeatureJob(self.stores.images, self.stores.vectors, self.service)
        self.pool = WorkerPool(
            settings,
            self.queue,
            OutboxRelay(self.stores.events, self.queue, settings),
            self.stores.events,
            {
                JobKind.ANALYZE: Analyst(
                    self.stores.images,
                    self.blobs,
                    self.analyzers,
                    self.metrics,
                    decoder,
                    on_analysed=self.faces.on_analysed,
                ),
                JobKind.TRAIN: TrainJob(
                    self.stores.classifiers, self.stores.vectors, self.service, embedding_model
                ),
                JobKind.BACKFILL: features,
                JobKind.REINDEX: features,
            },
            self.metrics,
            threads=settings.workers,
        )
        self.uploads = DirectUploads(
            self.service, self.stores.images, self.stores.uploads, self.stores.events, self.blobs
        )
        # Sweeps and reconciliations run where workers run: API replicas only serve.
        self.sweeper = Sweeper(self.stores.images, self.blobs, settings.sweep_grace_seconds)
        self.schedules = [
            Schedule("sweep", self.sweeper.sweep, settings.sweep_interval_seconds),
            Schedule(
                "inbox reconciliation",
                partial(self.uploads.reconcile, settings.inbox_grace_seconds),
                settings.inbox_reconcile_seconds,
            ),
            # Faces an analysis stored but could not group (its grouping failed).
            Schedule(
                "face grouping",
                lambda _stop: self.faces.group_new(),
                settings.sweep_interval_seconds,
            ),
            Schedule(
                "expired Read operations",
                lambda _stop: self.stores.read_operations.forget_expired(),
                settings.sweep_interval_seconds,
            ),
        ]
        self.checker = Checker(self.sweeper, self.stores.events, self.queue, self.service)
        self.metrics.watch(
            "sightline_queue_jobs", "Jobs in the queue by state.", "state", self.queue.depth
        )
        self.metrics.watch(
            "sightline_images",
            "Catalogued images by status.",
            "status",
            self.stores.images.status_counts,
        )
        self.metrics.watch(
            "sightline_webhook_deliveries",
            "Webhook deliveries kept, by status, over all subscriptions.",
            "status",
            self.subscriptions.delivery_counts,
        )
        self.metrics.watch(
            "sightline_decode_memory_bytes",
            "Memory reserved by the pictures this process holds decoded, and asked for by "
            "those waiting their turn (SIGHTLINE_DECODE_MEMORY_BYTES).",
            "state",
            lambda: {"reserved": decoder.budget.reserved, "waiting": decoder.budget.waiting},
        )
        self.metrics.watch(
            "sightline_models_loaded",
            "Models loaded in this process (unloaded after SIGHTLINE_MODEL_IDLE_SECONDS idle).",
            "model",
            lambda: dict.fromkeys(self.models.loaded(), 1),
        )
        # What this process's readiness checks: an API's by default, a worker's once it serves
        # probes of its own (`probe_server`).
        self.components = self.api_components()
        self.metrics.watch(
            "sightline_component_up",
            "1 while a component this process depends on is ok, 0 while it is degraded or "
            "down (/readyz says why).",
            "component",
            lambda: readiness(self.components).up(),
        )

    def _local_folders(self) -> list[Path]:
        """The folders on this machine's disks that Sightline writes to: the data folder, and
        the blob store's, catalog's and queue's when they are local (file://, sqlite://)."""
        folders = [self.settings.data_dir.resolve()]
        if isinstance(self.blobs, LocalBlobStore):
            folders.append(self.blobs.root)
        databases = [self.stores.db, self.queue.db if isinstance(self.queue, SQLiteQueue) else None]
        folders.extend(db.folder for db in databases if db is not None and db.folder is not None)
        return folders

    def api(self, *, run_workers: bool) -> FastAPI:
        @asynccontextmanager
        async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
            if run_workers:
                self.start_workers()
                # Loading models takes the cores and, at times, the interpreter for a second
                # or more: it starts once the server listens (uvicorn binds right after this
                # start-up), so that readiness answers first.
                asyncio.get_running_loop().call_later(
                    WARMUP_AFTER_STARTUP_SECONDS, self.warmup.start
                )
            self.warm_indexes()
            try:
                yield
            finally:
                # Closing here, not after the server returns: uvicorn re-raises the SIGTERM it
                # caught once the lifespan ends, so code after `uvicorn.run` may never run.
                self.close()

        services = Services(
            settings=self.settings,
            images=self.service,
            classifiers=self.classifiers,
            faces=self.faces,
            search=self.search,
            uploads=self.uploads,
            subscriptions=self.subscriptions,
            keys=self.keys,
            limits=AccessLimits.from_settings(self.settings),
            events=self.stores.events,
            metrics=self.metrics,
            models=self.models.registry,
            readiness=self.components,
            image_answers=self.image_answers,
        )
        if run_workers:  # this process analyses: its models' warm-up is part of its readiness
            self.components.append(self.models_component())
        app = create_api(services, lifespan)
        # The cloud services' contracts, beside `/v1`.
        facades.install(
            app,
            facades.FacadeStores(self.stores.custom_vision_tags, self.stores.read_operations),
        )
        app.include_router(web.router)  # the web app at `/`; it signs in for itself
        return app

    def api_components(self) -> list[Component]:
        """What an API needs to take uploads: the catalog, the blob store and disk space. Without
        the queue, uploads wait in the outbox until it is back."""
        return [
            Component("catalog", self.stores.events.last_event_seq),
            Component("queue", self.queue.depth, required=False),
            Component("blobs", lambda: self.blobs.exists("0" * 64)),
            Component("disk", self.disk_space.check),
        ]

    def worker_components(self) -> list[Component]:
        """What a worker needs to take jobs: the catalog, the queue and the blob store; without
        its prepared models it still runs every other feature."""
        return [
            Component("catalog", self.stores.events.last_event_seq),
            Component("queue", self.queue.depth),
            Component("blobs", lambda: self.blobs.exists("0" * 64)),
            self.models_component(),
        ]

    def models_component(self) -> Component:
        """The models of a process that analyses: degraded while they warm up (`warmup`) or
        when some are not prepared; never required, as the other features run without them."""
        return Component(
            "models", lambda: self.warmup.check() or self._prepared_models(), required=False
        )

    def _prepared_models(self) -> Degraded | None:
        missing = [
            status.spec.name
            for status in self.models.registry.status()
            if status.spec.prepared and not status.ready
        ]
        if not missing:
            return None
        return Degraded(
            f"not prepared, their features are skipped: {', '.join(missing)}. {PREPARE_HINT}"
        )

    def probe_server(self, host: str, port: int) -> ProbeServer:
        """A worker process's `/healthz`, `/readyz` and `/metrics`, started; its readiness and
        `sightline_component_up` are then about taking jobs."""
        self.components = self.worker_components()
        server = ProbeServer(host, port, self.metrics, self.components)
        server.start()
        return server

    def warm_indexes(self) -> None:
        """Catch the current vector indexes up in the background, so that the first search
        after a restart does not wait for a large index to be built or loaded."""

        def warm() -> None:
            spaces = [
                (self.vectors, "embedding"),
                (self.vectors, "semantic"),
                (self.face_index, FACE_FEATURE),
            ]
            for index, feature in spaces:
                analyzer = self.analyzers.bundled.get(feature)
                if analyzer is not None:
                    try:
                        index.refresh(feature, analyzer.version)
                    except Exception:
                        log.exception("Warming the %s vector index failed", feature)

        threading.Thread(target=warm, name="sightline-warm-indexes", daemon=True).start()

    def start_workers(self) -> None:
        """Start the pool, first asking for any re-index a model change made necessary. (The
        caller starts `warmup`, the models' loading, once it answers.)"""
        if request_reindex(self.stores.vectors, self.stores.events, self.analyzers.bundled):
            self.pool.notify()
        self.pool.start()
        self.dispatcher.start()
        for schedule in self.schedules:
            schedule.start()

    def close(self) -> None:
        """Warm shutdown, safe to repeat: running jobs get one lease to finish (past that they
        would be handed to another worker anyway), then the backends are closed."""
        self.warmup.stop()
        self.pool.stop(timeout=self.settings.job_lease_seconds)
        for schedule in self.schedules:
            schedule.stop(timeout=SCHEDULE_STOP_SECONDS)
        # Requests in flight get their timeout to end; unrecorded ones are sent again later.
        self.dispatcher.stop(timeout=self.settings.webhook_timeout_seconds + 10)
        self.queue.close()
        self.vectors.close()
        self.face_index.close()
        self.stores.close()
        self.models.close()
