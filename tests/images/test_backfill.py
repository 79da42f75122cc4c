"""Re-indexing after a model change: vectors of another version are recomputed in the
background, once per version, and the two versions never share an index."""

from __future__ import annotations

import time

from sqlalchemy import update

from conftest import serve
from sightline import Client
from sightline.app import Sightline
from sightline.events import EventType
from sightline.images.backfill import request_reindex
from sightline.settings import Settings
from sightline.storage import tables as t
from support.garments import garment


def _pretend_an_older_model_made(app: Sightline, image_ids: list[str]) -> None:
    with app.stores.db.write() as conn:
        conn.execute(
            update(t.image_vectors)
            .where(t.image_vectors.c.image_id.in_(image_ids))
            .values(version="0-old")
        )


def _reindex_requests(app: Sightline) -> int:
    events = app.stores.events.events_after(0, limit=10_000)
    return sum(event.envelope["type"] == EventType.INDEX_REBUILD_REQUESTED for event in events)


def test_vectors_of_an_older_model_are_recomputed_in_the_background(settings: Settings) -> None:
    app = Sightline(settings)
    try:
        with serve(app) as running, Client(running.url) as api:
            ids = [
                api.upload(garment("dress", seed), features=["embedding"])["id"]
                for seed in range(3)
            ]
            for image_id in ids:
                assert api.wait(image_id)["status"] == "done"
            current = app.analyzers["embedding"].version
            assert app.stores.vectors.vector_versions("embedding") == {current: 3}

            _pretend_an_older_model_made(app, ids[:2])
            assert app.stores.vectors.vector_versions("embedding") == {current: 1, "0-old": 2}
            assert request_reindex(
                app.stores.vectors, app.stores.events, app.analyzers.bundled
            ) == ["embedding"]
            # Asking again for the same version records nothing new (the re-index already
            # running records other events meanwhile, so only requests are counted).
            assert _reindex_requests(app) == 1
            request_reindex(app.stores.vectors, app.stores.events, app.analyzers.bundled)
            assert _reindex_requests(app) == 1
            app.pool.notify()

            deadline = time.monotonic() + 60
            while app.stores.vectors.vector_versions("embedding") != {current: 3}:
                assert time.monotonic() < deadline, app.stores.vectors.vector_versions("embedding")
                time.sleep(0.1)
            # Only the stale images were analysed again.
            untouched = api.get(ids[2])["features"]["embedding"]["updated_at"]
            assert untouched < api.get(ids[0])["features"]["embedding"]["updated_at"]
    finally:
        app.close()


def test_nothing_is_requested_when_every_vector_is_current(settings: Settings) -> None:
    app = Sightline(settings)
    try:
        assert request_reindex(app.stores.vectors, app.stores.events, app.analyzers.bundled) == []
        assert app.stores.events.last_event_seq() == 0
    finally:
        app.close()
