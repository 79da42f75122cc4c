"""Direct-to-bucket ingestion: presigned form uploads and objects dropped into the inbox, made
images by the store's own notification (a real SeaweedFS filer webhook), plus presigned GETs."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import RunningServer, serve
from sightline import ApiError, Client
from sightline.app import Sightline
from sightline.client.models import Image, UploadTicket
from sightline.images.service import MAX_FILENAME_LENGTH
from sightline.settings import Settings
from support.imagegen import solid
from support.services import SeaweedS3, free_port
from support.tcp_proxy import tcp_proxy

API_KEY = "key-for-the-store"
PREFIX = "library/"


@dataclass
class Bucketed:
    server: RunningServer
    s3: SeaweedS3
    bucket: str
    api: Client

    def inbox(self, key: str) -> str:
        return f"{PREFIX}incoming/{key}"

    def objects(self) -> list[str]:
        listed = self.s3.client().list_objects_v2(Bucket=self.bucket, Prefix=f"{PREFIX}incoming/")
        return [entry["Key"] for entry in listed.get("Contents", [])]

    def notify(self, body: Any, *, key: str | None = API_KEY) -> httpx.Response:
        headers = {"authorization": f"Bearer {key}"} if key else {}
        return httpx.post(
            f"{self.server.url}/v1/storage/events", json=body, headers=headers, timeout=30
        )


def wait_for(condition: Callable[[], Any], timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("condition not reached in time")


@pytest.fixture(scope="module")
def seaweed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SeaweedS3, int]]:
    """A SeaweedFS of its own whose filer notifies a Sightline port chosen in advance."""
    port = free_port()
    s3 = SeaweedS3(
        tmp_path_factory.mktemp("webhook"),
        webhook=f"http://127.0.0.1:{port}/v1/storage/events",
        token=API_KEY,
    ).start()
    yield s3, port
    s3.kill()


@pytest.fixture
def bucketed(seaweed: tuple[SeaweedS3, int], tmp_path: Path) -> Iterator[Bucketed]:
    s3, port = seaweed
    bucket = s3.new_bucket()
    settings = Settings(
        data_dir=tmp_path / "data",
        blob_url=s3.blob_url(bucket, PREFIX.rstrip("/")),
        api_keys=API_KEY,
        workers=1,
        poll_interval_seconds=0.02,
        default_features="metadata,color,hash,thumbnail",
        blob_presign_seconds=120,
    )
    app = Sightline(settings)
    try:
        with serve(app, port=port) as running, Client(running.url, api_key=API_KEY) as api:
            yield Bucketed(running, s3, bucket, api)
    finally:
        app.close()


def post_form(ticket: UploadTicket, data: bytes, filename: str = "x.png") -> httpx.Response:
    """What a browser's form does: the fields as given, then the file."""
    return httpx.post(
        ticket["url"], data=ticket["fields"], files={"file": (filename, data)}, timeout=30
    )


def get(bucketed: Bucketed, path: str) -> httpx.Response:
    """Without following redirects: presigned ones are what some tests look at."""
    return httpx.get(
        bucketed.server.url + path, headers={"authorization": f"Bearer {API_KEY}"}, timeout=30
    )


def catalogued(bucketed: Bucketed, upload_id: str, status: str = "catalogued") -> Any:
    return wait_for(lambda: (s := bucketed.api.upload_status(upload_id))["status"] == status and s)


def test_a_presigned_upload_becomes_an_analysed_image(bucketed: Bucketed) -> None:
    ticket = bucketed.api.create_upload(
        "../../red dress.png", features=["color"], metadata={"sku": 7}
    )
    assert ticket["status"] == "waiting" and ticket["image_id"] is None
    assert ticket["filename"] == "red dress.png"
    assert get(bucketed, f"/v1/images/{ticket['id']}").status_code == 404

    assert post_form(ticket, solid("red", fmt="PNG")).status_code in (200, 201, 204)

    state = catalogued(bucketed, ticket["id"])
    assert state["image_id"] == ticket["id"]
    image = bucketed.api.wait(ticket["id"])
    assert image["status"] == "done"
    assert list(image["features"]) == ["color"]
    assert image["features"]["color"]["result"]["dominant_colors"] == ["red"]
    assert image["filename"] == "red dress.png"
    assert image["metadata"] == {"sku": 7}
    assert bucketed.objects() == []  # the inbox is emptied once catalogued

    # The store delivering the same notification again changes nothing.
    again = bucketed.notify(
        {"Records": [_record(bucketed.bucket, bucketed.inbox(_inbox_key(ticket)))]}
    ).json()
    assert [r["status"] for r in again["records"]] in (["duplicate"], ["gone"])
    assert bucketed.api.list()["items"][0]["id"] == ticket["id"]
    assert len(bucketed.api.list()["items"]) == 1


def test_a_presigned_upload_goes_to_the_collection_it_was_reserved_for(bucketed: Bucketed) -> None:
    with Client(bucketed.server.url, api_key=API_KEY, collection="shop-b") as shop:
        ticket = shop.create_upload("shelf.png")
        assert ticket["collection"] == "shop-b"
        assert post_form(ticket, solid("green", fmt="PNG")).status_code in (200, 201, 204)
        wait_for(lambda: shop.upload_status(ticket["id"])["status"] == "catalogued")
        assert shop.wait(ticket["id"])["collection"] == "shop-b"
    # Another collection finds neither the upload nor its image.
    assert get(bucketed, f"/v1/uploads/{ticket['id']}?collection=shop-a").status_code == 404
    assert get(bucketed, f"/v1/images/{ticket['id']}?collection=shop-a").status_code == 404


def _inbox_key(ticket: UploadTicket) -> str:
    return str(ticket["fields"]["key"]).split("incoming/", 1)[1]


def _record(bucket: str, key: str, event: str = "ObjectCreated:Put") -> dict[str, Any]:
    return {"eventName": event, "s3": {"bucket": {"name": bucket}, "object": {"key": key}}}


def test_an_object_another_system_drops_in_the_inbox_is_catalogued(bucketed: Bucketed) -> None:
    bucketed.s3.client().put_object(
        Bucket=bucketed.bucket, Key=bucketed.inbox("camera-7/shot 1.png"), Body=solid("blue")
    )
    [item] = wait_for(lambda: bucketed.api.list()["items"])
    image = bucketed.api.wait(item["id"])
    assert image["status"] == "done"
    assert image["filename"] == "shot 1.png"
    assert image["features"]["color"]["result"]["dominant_colors"] == ["blue"]
    wait_for(lambda: bucketed.objects() == [])


def test_an_object_notified_several_times_at_once_is_catalogued_once(bucketed: Bucketed) -> None:
    key = bucketed.inbox("camera-9/burst.png")
    bucketed.s3.client().put_object(Bucket=bucketed.bucket, Key=key, Body=solid("olive"))
    record = {"Records": [_record(bucketed.bucket, key)]}
    with ThreadPoolExecutor(3) as pool:  # besides the store's own notification
        answers = list(pool.map(lambda _: bucketed.notify(record), range(3)))
    assert all(answer.status_code == 200 for answer in answers), [a.text for a in answers]
    statuses = [answer.json()["records"][0]["status"] for answer in answers]
    assert set(statuses) <= {"catalogued", "duplicate", "gone"}
    wait_for(lambda: bucketed.objects() == [])
    time.sleep(0.5)  # the store's own delivery, if still on its way
    [image] = bucketed.api.list()["items"]
    assert image["filename"] == "burst.png"


def test_a_bad_object_is_rejected_and_removed(bucketed: Bucketed) -> None:
    ticket = bucketed.api.create_upload("notes.png")
    assert post_form(ticket, b"this is not an image").status_code in (200, 201, 204)

    state = catalogued(bucketed, ticket["id"], "rejected")
    assert state["error"]["code"] == "InvalidImageFormat"
    assert state["image_id"] is None
    wait_for(lambda: bucketed.objects() == [])
    events = bucketed.server.sightline.stores.events.events_after(0, 100)
    rejected = [e.envelope for e in events if e.envelope["type"] == "sightline.upload.rejected"]
    assert [e["data"]["upload_id"] for e in rejected] == [ticket["id"]]
    assert bucketed.api.list()["items"] == []


def test_s3_event_records_are_decoded_and_objects_outside_the_inbox_ignored(
    bucketed: Bucketed,
) -> None:
    client = bucketed.s3.client()
    # Written where no notification is wanted: this test delivers the records itself.
    client.put_object(Bucket=bucketed.bucket, Key="elsewhere/a.png", Body=solid("green"))
    answer = bucketed.notify(
        {
            "Records": [
                _record(bucketed.bucket, "elsewhere/a.png"),
                _record("another-bucket", bucketed.inbox("b.png")),
                _record(bucketed.bucket, bucketed.inbox("x.png"), "ObjectRemoved:Delete"),
                _record(bucketed.bucket, bucketed.inbox("never/written.png")),
            ]
        }
    )
    assert answer.status_code == 200, answer.text
    assert [(r["key"], r["status"]) for r in answer.json()["records"]] == [
        ("elsewhere/a.png", "ignored"),
        (bucketed.inbox("b.png"), "ignored"),
        (bucketed.inbox("never/written.png"), "gone"),
    ]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"{not json", "InvalidStorageEvent"),
        (b'{"hello": "world"}', "InvalidStorageEvent"),
        (b'{"Records": [{"eventName": "ObjectCreated:Put"}]}', "InvalidStorageEvent"),
        (
            b'{"Records": [{"eventName": "ObjectCreated:Put", "s3": {"bucket": {}}}]}',
            "InvalidStorageEvent",
        ),
    ],
)
def test_malformed_notifications_are_refused(bucketed: Bucketed, body: bytes, code: str) -> None:
    answer = httpx.post(
        f"{bucketed.server.url}/v1/storage/events",
        content=body,
        headers={"authorization": f"Bearer {API_KEY}", "content-type": "application/json"},
    )
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == code


def test_notifications_need_an_api_key(bucketed: Bucketed) -> None:
    answer = bucketed.notify({"Records": []}, key=None)
    assert answer.status_code == 401
    assert bucketed.notify({"Records": []}, key="wrong").status_code == 401


def test_presigned_form_refuses_a_file_over_the_limit(bucketed: Bucketed) -> None:
    ticket = bucketed.api.create_upload()
    too_big = b"\0" * (ticket["max_bytes"] + 1)
    assert post_form(ticket, too_big).status_code >= 400
    assert bucketed.api.upload_status(ticket["id"])["status"] == "waiting"


def test_unknown_uploads_and_bad_requests(bucketed: Bucketed) -> None:
    missing = get(bucketed, "/v1/uploads/img_000000000000ffffffffffffffff")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "UploadNotFound"
    with pytest.raises(ApiError) as unknown:
        bucketed.api.create_upload(features=["telepathy"])
    assert (unknown.value.status, unknown.value.code) == (400, "InvalidFeature")
    bad = httpx.post(
        f"{bucketed.server.url}/v1/uploads",
        json={"metadata": "not an object"},
        headers={"authorization": f"Bearer {API_KEY}"},
    )
    assert bad.status_code == 400


def test_a_direct_upload_holds_its_file_name_to_the_upload_limit(bucketed: Bucketed) -> None:
    with pytest.raises(ApiError) as long_name:
        bucketed.api.create_upload(filename="a" * MAX_FILENAME_LENGTH + ".jpg")
    assert (long_name.value.status, long_name.value.code) == (400, "InvalidParameter")
    whole = "a" * (MAX_FILENAME_LENGTH - 4) + ".jpg"
    assert bucketed.api.create_upload(filename=whole)["filename"] == whole


def test_content_and_thumbnails_redirect_to_presigned_urls(bucketed: Bucketed) -> None:
    image: Image = bucketed.api.upload(solid("red"), filename="pic.jpg")
    image = bucketed.api.wait(image["id"])
    content = get(bucketed, f"/v1/images/{image['id']}/content")
    assert content.status_code == 307
    fetched = httpx.get(content.headers["location"])
    assert fetched.status_code == 200
    assert fetched.content == solid("red")
    assert fetched.headers["content-type"] == "image/jpeg"
    thumb = get(bucketed, f"/v1/images/{image['id']}/thumbnail?size=128")
    assert thumb.status_code == 307
    assert httpx.get(thumb.headers["location"]).headers["content-type"] == "image/webp"


def test_direct_uploads_need_an_s3_store(server: RunningServer) -> None:
    answer = httpx.post(f"{server.url}/v1/uploads", json={})
    assert answer.status_code == 501
    assert answer.json()["error"]["code"] == "DirectUploadsUnavailable"
    notified = httpx.post(f"{server.url}/v1/storage/events", json={"Records": []})
    assert notified.status_code == 501


def test_forms_and_redirects_name_the_public_endpoint(
    seaweed: tuple[SeaweedS3, int], tmp_path: Path
) -> None:
    """Browsers reach the store at another address than Sightline does (here a proxy's port)."""
    s3, port = seaweed
    bucket = s3.new_bucket()
    with tcp_proxy(s3.ports["s3"]) as public_port:
        public = f"http://localhost:{public_port}"
        settings = Settings(
            data_dir=tmp_path / "data",
            blob_url=f"{s3.blob_url(bucket, PREFIX.rstrip('/'))}&public_endpoint={public}",
            api_keys=API_KEY,
            workers=1,
            poll_interval_seconds=0.02,
            default_features="metadata,color,hash,thumbnail",
            blob_presign_seconds=120,
        )
        app = Sightline(settings)
        try:
            with serve(app, port=port) as running, Client(running.url, api_key=API_KEY) as api:
                bucketed = Bucketed(running, s3, bucket, api)
                ticket = api.create_upload("shelf.png")
                assert ticket["url"].startswith(f"{public}/")
                assert post_form(ticket, solid("red", fmt="PNG")).status_code in (200, 201, 204)
                catalogued(bucketed, ticket["id"])
                api.wait(ticket["id"])
                for path in ("content", "thumbnail?size=128"):
                    redirect = get(bucketed, f"/v1/images/{ticket['id']}/{path}")
                    assert redirect.status_code == 307
                    assert redirect.headers["location"].startswith(f"{public}/")
                    assert httpx.get(redirect.headers["location"]).status_code == 200
        finally:
            app.close()


def test_an_upload_notified_while_the_api_is_down_is_catalogued_by_the_workers(
    seaweed: tuple[SeaweedS3, int], tmp_path: Path
) -> None:
    """Nothing listens where the store sends its notification (the API is down; the store
    drops what it cannot deliver): a worker process's reconciliation catalogues the upload.
    Last in this module, so that the store's retries meet no other test's server."""
    s3, _port_of_the_api_that_is_down = seaweed
    bucket = s3.new_bucket()
    settings = Settings(
        data_dir=tmp_path / "data",
        blob_url=s3.blob_url(bucket, PREFIX.rstrip("/")),
        workers=1,
        poll_interval_seconds=0.02,
        default_features="metadata,color,hash,thumbnail",
        inbox_reconcile_seconds=0.2,
        inbox_grace_seconds=0.5,
    )
    app = Sightline(settings)
    try:
        ticket = app.uploads.create("lost.png", ["color"], None, collection="default")
        answer = httpx.post(
            ticket.url, data=ticket.fields, files={"file": ("lost.png", solid("red", fmt="PNG"))}
        )
        assert answer.status_code in (200, 201, 204), answer.text
        app.start_workers()  # `sightline worker`: no API in this process
        image = wait_for(
            lambda: (
                (found := app.stores.images.get_image(ticket.upload.id))
                and found.status == "done"
                and found
            )
        )
        assert image.filename == "lost.png"
        assert app.uploads.state(ticket.upload.id, collection=None)[1] == "catalogued"
        listed = s3.client().list_objects_v2(Bucket=bucket, Prefix=f"{PREFIX}incoming/")
        assert listed.get("Contents", []) == []
    finally:
        app.close()
