"""`sightline backup` and `sightline restore`: a backup taken while a live server takes uploads
and deletions restores into a deployment that serves every image and checks clean; an image
deleted during the copy costs one more round, not a blob; refusals change nothing."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import delete

from conftest import serve
from maintenance.conftest import analysed, wait_for
from sightline import Client
from sightline.app import Sightline
from sightline.blobs.s3 import S3BlobStore
from sightline.cli import main
from sightline.errors import MaintenanceRefused
from sightline.images.service import Upload
from sightline.maintenance import backup, restore
from sightline.settings import Settings
from sightline.storage import tables
from sightline.storage.database import Database
from support.imagegen import noise, solid
from support.services import Stack


def run(*args: str | Path) -> Result:
    return CliRunner().invoke(main, ["--log-level", "WARNING", *map(str, args)])


def checked_clean(data_dir: Path, **backends: str) -> dict[str, Any]:
    options = [f"--{name.replace('_', '-')}={url}" for name, url in backends.items()]
    result = run("check", "--data-dir", data_dir, "--grace-seconds", "0.001", "--json", *options)
    report: dict[str, Any] = json.loads(result.output)
    assert result.exit_code == 0 and report["left"] == 0, result.output
    return report


@pytest.fixture
def live(settings: Settings) -> Iterator[Client]:
    app = Sightline(settings)
    try:
        with serve(app) as running, Client(running.url, timeout=30) as client:
            yield client
    finally:
        app.close()


def test_a_backup_taken_while_serving_restores_into_a_deployment_that_checks_clean(
    live: Client, settings: Settings, tmp_path: Path
) -> None:
    before = [live.upload(noise(seed))["id"] for seed in range(4)]
    for image_id in before:
        live.wait(image_id)
    stop = threading.Event()
    busy: list[str] = []

    def keep_busy() -> None:
        seed = 100
        while not stop.is_set():
            uploaded = live.upload(noise(seed))["id"]
            if seed % 3 == 0:
                live.delete(uploaded)  # deletions release blobs while the copy runs
            else:
                busy.append(uploaded)
            seed += 1

    uploader = threading.Thread(target=keep_busy)
    uploader.start()
    try:
        wait_for(lambda: len(busy) >= 3)
        copied = run("backup", tmp_path / "backup", "--data-dir", settings.data_dir)
    finally:
        stop.set()
        uploader.join()
    assert copied.exit_code == 0, copied.output
    manifest = json.loads((tmp_path / "backup" / "backup.json").read_text())
    assert manifest["images"] >= len(before) + 3 and manifest["missing"] == []

    restored_dir = tmp_path / "restored"
    restored = run("restore", tmp_path / "backup", "--data-dir", restored_dir)
    assert restored.exit_code == 0, restored.output
    app = Sightline(settings.model_copy(update={"data_dir": restored_dir}))
    try:
        with serve(app) as running, Client(running.url, timeout=30) as client:
            ids = [item["id"] for item in client.iter_images()]
            assert len(ids) == manifest["images"] and set(before) <= set(ids)
            for image_id in ids:  # pending at the copy or not, every image ends analysed
                image = client.wait(image_id)
                assert image["status"] == "done"
                assert client.content(image_id)[:8] == b"\x89PNG\r\n\x1a\n"
                assert client.thumbnail(image_id, size=128)[:4] == b"RIFF"
    finally:
        app.close()
    checked_clean(restored_dir)


def test_an_image_deleted_during_the_copy_costs_a_round_not_a_blob(
    sightline: Sightline, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kept, doomed = sightline.service.ingest(
        [Upload(noise(1)), Upload(noise(2))], collection="default"
    )
    copy_to = sightline.stores.db.copy_to
    copies: list[Path] = []

    def copy_then_delete(target: Path) -> None:
        copy_to(target)
        copies.append(target)
        if len(copies) == 1:  # after the first copy of the catalog, before its blobs
            sightline.service.delete(doomed.image.id, collection=None)

    monkeypatch.setattr(sightline.stores.db, "copy_to", copy_then_delete)
    report = backup(sightline.stores.db, sightline.blobs, tmp_path / "backup")
    assert (report.rounds, report.images, report.blobs, report.missing) == (2, 1, 1, [])
    restore(tmp_path / "backup", Settings(data_dir=tmp_path / "restored"), force=False)
    restored = Sightline(Settings(data_dir=tmp_path / "restored", workers=0))
    try:
        assert restored.stores.images.get_image(doomed.image.id) is None
        [image] = restored.stores.images.get_images([kept.image.id]).values()
        with restored.blobs.open(image.sha256) as blob:
            assert blob.read() == noise(1)
    finally:
        restored.close()
    checked_clean(tmp_path / "restored")


def test_a_blob_caught_between_deletion_and_release_is_swept_at_restore(
    sightline: Sightline, tmp_path: Path
) -> None:
    [image] = sightline.service.ingest([Upload(noise(6))], collection="default", features=[])
    # The moment between an image's deletion and the release of its blob: the blob's row and
    # bytes are still there, nothing references them.
    with sightline.stores.db.write() as conn:
        conn.execute(delete(tables.images).where(tables.images.c.id == image.image.id))
    report = backup(sightline.stores.db, sightline.blobs, tmp_path / "backup")
    assert report.missing == []
    restored = restore(tmp_path / "backup", Settings(data_dir=tmp_path / "restored"), force=False)
    assert (restored.images, restored.swept) == (0, 1)
    checked_clean(tmp_path / "restored")


def test_a_blob_missing_from_the_live_store_is_reported(
    sightline: Sightline, tmp_path: Path
) -> None:
    [lost] = sightline.service.ingest([Upload(noise(3))], collection="default")
    sightline.blobs.delete(lost.image.sha256)
    result = run("backup", tmp_path / "backup", "--data-dir", sightline.settings.data_dir)
    assert result.exit_code == 1
    assert "lacks 1 blobs the catalog references" in result.output
    manifest = json.loads((tmp_path / "backup" / "backup.json").read_text())
    assert manifest["missing"] == [lost.image.sha256]


def test_restore_with_force_replaces_what_was_there(settings: Settings, tmp_path: Path) -> None:
    app = Sightline(settings)
    app.start_workers()
    try:
        [kept] = app.service.ingest([Upload(noise(4))], collection="default")
        wait_for(analysed(app, [kept.image.id]))
        assert run("backup", tmp_path / "backup", "--data-dir", settings.data_dir).exit_code == 0
        [later] = app.service.ingest([Upload(solid("green"))], collection="default")
        wait_for(analysed(app, [later.image.id]))
    finally:
        app.close()
    refused = run("restore", tmp_path / "backup", "--data-dir", settings.data_dir)
    assert refused.exit_code == 1 and "--force" in refused.output
    replaced = run("restore", tmp_path / "backup", "--data-dir", settings.data_dir, "--force")
    assert replaced.exit_code == 0, replaced.output
    assert "Removed 2 blobs no restored image uses." in replaced.output  # the original, its thumb
    app = Sightline(settings.model_copy(update={"workers": 0}))
    try:
        assert app.stores.images.get_image(later.image.id) is None
        assert app.stores.images.get_image(kept.image.id) is not None
        assert not app.blobs.exists(later.image.sha256)
    finally:
        app.close()
    checked_clean(settings.data_dir)


def test_refusals_change_nothing(sightline: Sightline, tmp_path: Path) -> None:
    used = tmp_path / "used"
    used.mkdir()
    (used / "notes.txt").write_text("mine")
    with pytest.raises(MaintenanceRefused, match="not an empty folder"):
        backup(sightline.stores.db, sightline.blobs, used)
    postgres = Database("postgresql://sightline@127.0.0.1:9/catalog")
    with pytest.raises(MaintenanceRefused, match="pg_dump"):
        backup(postgres, sightline.blobs, tmp_path / "elsewhere")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["data", "used"]
    with pytest.raises(MaintenanceRefused, match="not a whole Sightline backup"):
        restore(used, Settings(data_dir=tmp_path / "target"), force=True)
    backup(sightline.stores.db, sightline.blobs, tmp_path / "backup")
    with pytest.raises(MaintenanceRefused, match="pg_dump"):
        restore(tmp_path / "backup", Settings(catalog_url=postgres.url), force=True)
    with pytest.raises(MaintenanceRefused, match="catalog .* exists"):
        restore(tmp_path / "backup", sightline.settings, force=False)


@pytest.mark.s3
def test_blobs_in_a_bucket_are_backed_up_and_restored_into_a_folder(
    settings: Settings, services: Stack, tmp_path: Path
) -> None:
    bucket_url = services.s3.blob_url(services.s3.new_bucket(), "backup-test")
    app = Sightline(settings.model_copy(update={"blob_url": bucket_url}))
    app.start_workers()
    try:
        [image] = app.service.ingest([Upload(noise(5))], collection="default")
        wait_for(analysed(app, [image.image.id]))
        assert isinstance(app.blobs, S3BlobStore)
        report = backup(app.stores.db, app.blobs, tmp_path / "backup")
        assert (report.images, report.blobs, report.missing) == (1, 2, [])
    finally:
        app.close()
    restore(tmp_path / "backup", Settings(data_dir=tmp_path / "restored"), force=False)
    checked_clean(tmp_path / "restored")  # every blob read back and verified
