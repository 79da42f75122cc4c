"""The hostile corpus (tests/support/hostile.py) on every route that takes an image: each file is
refused with its documented 4xx and stable code, storing nothing, or accepted and analysed
without a failed feature; never a 5xx, and the server keeps serving.

One server per module, with a low pixel limit (the near-bombs sit just under and over it, cheap
to analyse) and the model-free features; the classifier routes add the embedding model, the
inbox a bucket on the session's SeaweedFS. Hundreds of variants: listed in tests/support/slow.py.
"""

from __future__ import annotations

import http.server
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_plus

import botocore.exceptions
import httpx
import pytest

from conftest import TEST_SETTINGS, RunningServer, serve
from sightline import Client
from sightline.app import Sightline
from sightline.settings import Settings
from sightline.storage.records import ImageStatus
from support.apicheck import assert_error, footprint
from support.garments import garment
from support.hostile import (
    ACCEPTED,
    HOSTILE_FILENAMES,
    HOSTILE_METADATA,
    HostileFile,
    Refused,
    corpus,
    zeros_compressed,
)
from support.imagegen import noise
from support.services import Stack

# Pillow warns about each piece of damage it skips (a corrupt EXIF tag); under pytest warnings
# are errors, also in the server's threads, where a service only logs them.
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning:PIL.TiffImagePlugin")

MAX_PIXELS = 1_000_000
FILES = {file.name: file for file in corpus(MAX_PIXELS)}
CLASSIFIER = "hostile"
TIMEOUT = 60


@dataclass
class Hostile:
    server: RunningServer
    http: httpx.Client
    api: Client
    origin: str


class Origin(http.server.BaseHTTPRequestHandler):
    """Serves the corpus for `/v1/analyze` by URL, with each file's claimed content type."""

    def do_GET(self) -> None:  # noqa: N802 (the standard library's name)
        asked = httpx.URL(self.path)
        if asked.path == "/gzip-bomb":
            body, headers = zeros_compressed(16 << 20), {"Content-Encoding": "gzip"}
        else:
            file = FILES[asked.params["name"]]
            body, headers = file.data, {"Content-Type": file.content_type}
        self.send_response(200)
        for header, value in headers.items():
            self.send_header(header, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hostile]:
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("hostile") / "data",
        max_pixels=MAX_PIXELS,
        fetch_allow_private=True,  # the corpus is served from loopback
        **TEST_SETTINGS,  # type: ignore[arg-type]
    )
    origin = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Origin)
    threading.Thread(target=origin.serve_forever, daemon=True).start()
    app = Sightline(settings)
    try:
        with (
            serve(app) as running,
            httpx.Client(base_url=running.url, timeout=TIMEOUT) as http_client,
            Client(running.url, timeout=TIMEOUT) as api,
        ):
            yield Hostile(running, http_client, api, f"http://127.0.0.1:{origin.server_address[1]}")
    finally:
        app.close()
        origin.shutdown()
        origin.server_close()


# -- what each route answers --------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """A route's verdict on one file: refused with a code, or the features' final states."""

    refused: Refused | None = None
    features: dict[str, str] | None = None


def refusal(response: httpx.Response) -> Answer:
    """The error envelope's code; whether it is the one expected is `check`'s to say."""
    assert response.status_code < 500, response.text
    code = response.json()["error"]["code"]
    assert_error(response, response.status_code, code)
    return Answer(refused=Refused(response.status_code, code))


def stored(hostile: Hostile, response: httpx.Response) -> Answer:
    if response.status_code != 202:
        return refusal(response)
    image_id = response.json()["images"][0]["id"]
    image = hostile.api.wait(image_id, timeout=TIMEOUT, interval=0.02)
    return Answer(features={name: state["status"] for name, state in image["features"].items()})


def inline(response: httpx.Response) -> Answer:
    if response.status_code != 200:
        return refusal(response)
    features = response.json()["features"]
    return Answer(features={name: state["status"] for name, state in features.items()})


def multipart(file: HostileFile) -> dict[str, Any]:
    return {"files": {"file": ("upload", file.data, file.content_type)}}


def raw(file: HostileFile) -> dict[str, Any]:
    return {"content": file.data, "headers": {"Content-Type": file.content_type}}


def images_multipart(hostile: Hostile, file: HostileFile) -> Answer:
    return stored(hostile, hostile.http.post("/v1/images", **multipart(file)))


def images_raw(hostile: Hostile, file: HostileFile) -> Answer:
    return stored(hostile, hostile.http.post("/v1/images", **raw(file)))


def analyze_multipart(hostile: Hostile, file: HostileFile) -> Answer:
    return inline(hostile.http.post("/v1/analyze", **multipart(file)))


def analyze_raw(hostile: Hostile, file: HostileFile) -> Answer:
    return inline(hostile.http.post("/v1/analyze", **raw(file)))


def analyze_url(hostile: Hostile, file: HostileFile) -> Answer:
    url = str(httpx.URL(f"{hostile.origin}/file", params={"name": file.name}))
    return inline(hostile.http.post("/v1/analyze", json={"url": url}))


PLAIN_ROUTES: dict[str, Callable[[Hostile, HostileFile], Answer]] = {
    "POST /v1/images multipart": images_multipart,
    "POST /v1/images raw": images_raw,
    "POST /v1/analyze multipart": analyze_multipart,
    "POST /v1/analyze raw": analyze_raw,
    "POST /v1/analyze url": analyze_url,
}


def check(
    hostile: Hostile, file: HostileFile, route: Callable[[Hostile, HostileFile], Answer]
) -> Answer:
    before = footprint(hostile.server)
    answer = route(hostile, file)
    if answer.refused is not None:
        assert answer.refused in file.expect, f"{file.name}: refused with {answer.refused}"
        assert footprint(hostile.server) == before, "a refused file left something behind"
    else:
        assert answer.features is not None
        assert ACCEPTED in file.expect, f"{file.name}: accepted, expected {set(file.expect)}"
        failed = {name: status for name, status in answer.features.items() if status == "failed"}
        assert not failed, f"{file.name}: features failed: {failed}"
        assert set(answer.features.values()) <= {"done", "skipped"}, answer.features
    assert hostile.http.get("/healthz").status_code == 200
    return answer


@pytest.mark.parametrize("route", list(PLAIN_ROUTES))
@pytest.mark.parametrize("name", list(FILES))
def test_every_file_is_refused_cleanly_or_analysed(hostile: Hostile, route: str, name: str) -> None:
    check(hostile, FILES[name], PLAIN_ROUTES[route])


def test_a_gzip_bomb_behind_a_url_is_refused_unread(hostile: Hostile) -> None:
    before = footprint(hostile.server)
    response = hostile.http.post("/v1/analyze", json={"url": f"{hostile.origin}/gzip-bomb"})
    assert_error(response, 422, "UrlFetchFailed")
    assert footprint(hostile.server) == before


@pytest.mark.parametrize(
    "content_type", ["text/html", "image", "multipart/mixed", "application/zip"]
)
@pytest.mark.parametrize(
    "path", ["/v1/images", "/v1/analyze", f"/v1/classifiers/{CLASSIFIER}/predict"]
)
def test_a_body_that_says_it_is_no_image_is_415(
    hostile: Hostile, path: str, content_type: str
) -> None:
    before = footprint(hostile.server)
    body = FILES["png claiming to be a jpeg"].data
    response = hostile.http.post(path, content=body, headers={"Content-Type": content_type})
    assert_error(response, 415, "UnsupportedMediaType")
    assert footprint(hostile.server) == before


# -- what travels with a file -------------------------------------------------------------------

PNG = noise(31, (32, 32))


# A URL is no place for a megabyte: the HTTP server refuses long request lines before Sightline
# reads them, so only the short values travel as a query parameter too.
SHORT_METADATA = [case for case, value in HOSTILE_METADATA.items() if len(value) < 4096]


@pytest.mark.parametrize("case", list(HOSTILE_METADATA))
def test_hostile_metadata_in_a_form_is_refused(hostile: Hostile, case: str) -> None:
    before = footprint(hostile.server)
    response = hostile.http.post(
        "/v1/images", files={"file": ("a.png", PNG)}, data={"metadata": HOSTILE_METADATA[case]}
    )
    assert_error(response, 400, "InvalidMetadata")
    assert footprint(hostile.server) == before


def test_a_form_field_over_a_megabyte_is_refused(hostile: Hostile) -> None:
    before = footprint(hostile.server)
    metadata = '{"note": "' + "x" * (1 << 20) + '"}'
    response = hostile.http.post(
        "/v1/images", files={"file": ("a.png", PNG)}, data={"metadata": metadata}
    )
    assert_error(response, 400, "InvalidParameter")
    assert footprint(hostile.server) == before


@pytest.mark.parametrize("case", SHORT_METADATA)
def test_hostile_metadata_in_the_query_is_refused(hostile: Hostile, case: str) -> None:
    before = footprint(hostile.server)
    response = hostile.http.post(
        "/v1/images",
        content=PNG,
        headers={"Content-Type": "image/png"},
        params={"metadata": HOSTILE_METADATA[case]},
    )
    assert_error(response, 400, "InvalidMetadata")
    assert footprint(hostile.server) == before


def stored_filename(hostile: Hostile, response: httpx.Response) -> str | None:
    assert response.status_code == 202, response.text
    image = response.json()["images"][0]
    # Analysed before the next test counts what a refusal leaves: its events come meanwhile.
    assert hostile.api.wait(image["id"], interval=0.02)["filename"] == image["filename"]
    name: str | None = image["filename"]
    return name


def assert_clean(name: str | None) -> None:
    if name is None:
        return
    assert 0 < len(name) <= 255
    assert "/" not in name and "\\" not in name and name not in (".", "..")
    assert name.isprintable(), repr(name)


# A name past 255 characters is refused, not cut: what is stored is what the client said.
TOO_LONG = "very long"


@pytest.mark.parametrize("case", list(HOSTILE_FILENAMES))
def test_hostile_filenames_in_a_form_are_stored_clean(hostile: Hostile, case: str) -> None:
    before = footprint(hostile.server)
    raw_name = HOSTILE_FILENAMES[case]
    boundary = "hostile-boundary"
    body = (
        f"--{boundary}\r\n".encode()
        + b'Content-Disposition: form-data; name="file"; filename="'
        # As browsers send it: quotes and line breaks escaped, every other byte as it is.
        + raw_name.replace(b'"', b"%22").replace(b"\r", b"%0D").replace(b"\n", b"%0A")
        + b'"\r\nContent-Type: image/png\r\n\r\n'
        + noise(40 + len(raw_name) % 50, (24, 24))
        + f"\r\n--{boundary}--\r\n".encode()
    )
    response = hostile.http.post(
        "/v1/images",
        content=body,
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    if case == TOO_LONG:
        assert_error(response, 400, "InvalidParameter")
        assert footprint(hostile.server) == before
        return
    assert_clean(stored_filename(hostile, response))


@pytest.mark.parametrize("case", list(HOSTILE_FILENAMES))
def test_hostile_filenames_in_a_header_are_stored_clean(hostile: Hostile, case: str) -> None:
    before = footprint(hostile.server)
    raw_name = HOSTILE_FILENAMES[case]
    # Percent-encoded, as RFC 8187 has it: every byte reaches the server as sent.
    header = "".join(f"%{byte:02X}" for byte in raw_name)
    response = hostile.http.post(
        "/v1/images",
        content=noise(90 + len(raw_name) % 50, (24, 24)),
        headers={"Content-Type": "image/png", "X-Filename": header},
    )
    # A header carries text: X-Filename must decode as UTF-8.
    if case in ("not UTF-8", TOO_LONG):
        assert_error(response, 400, "InvalidParameter")
        assert footprint(hostile.server) == before
        return
    assert_clean(stored_filename(hostile, response))


# -- classifiers: examples and predictions --------------------------------------------------------


@pytest.fixture(scope="module")
def published(hostile: Hostile) -> str:
    """A classifier trained on a few garment photos and published, so predictions run."""
    api = hostile.api
    api.create_classifier(CLASSIFIER, "multiclass")
    for kind in ("dress", "shirt"):
        report = api.upload_examples(CLASSIFIER, [garment(kind, seed) for seed in range(5)], kind)
        assert report["failed"] == 0
    version = api.train(CLASSIFIER)
    assert api.wait_for_version(CLASSIFIER, version["number"])["status"] == "ready"
    api.publish(CLASSIFIER, version["number"])
    return CLASSIFIER


def examples_upload(hostile: Hostile, file: HostileFile) -> Answer:
    count = hostile.api.classifier(CLASSIFIER)["example_count"]
    response = hostile.http.post(
        f"/v1/classifiers/{CLASSIFIER}/examples", params={"labels": "dress"}, **multipart(file)
    )
    assert response.status_code == 207, response.text
    item = response.json()["items"][0]
    if item["status"] >= 400:
        assert item["image_id"] is None
        assert hostile.api.classifier(CLASSIFIER)["example_count"] == count
        return Answer(refused=Refused(item["status"], item["error"]["code"]))
    assert hostile.api.classifier(CLASSIFIER)["example_count"] == count + 1
    image = hostile.api.wait(item["image_id"], timeout=TIMEOUT, interval=0.02)
    return Answer(features={name: state["status"] for name, state in image["features"].items()})


def predict_raw(hostile: Hostile, file: HostileFile) -> Answer:
    response = hostile.http.post(f"/v1/classifiers/{CLASSIFIER}/predict", **raw(file))
    if response.status_code != 200:
        return refusal(response)
    assert response.json()["predicted"] in (["dress"], ["shirt"], [])
    return Answer(features={"prediction": "done"})


CLASSIFIER_ROUTES: dict[str, Callable[[Hostile, HostileFile], Answer]] = {
    "POST /v1/classifiers/{key}/examples multipart": examples_upload,
    "POST /v1/classifiers/{key}/predict raw": predict_raw,
}


@pytest.mark.parametrize("route", list(CLASSIFIER_ROUTES))
@pytest.mark.parametrize("name", list(FILES))
def test_classifier_routes_refuse_cleanly_or_use_every_file(
    hostile: Hostile, published: str, route: str, name: str
) -> None:
    check(hostile, FILES[name], CLASSIFIER_ROUTES[route])


# -- direct uploads: objects dropped into the S3 inbox ------------------------------------------

INBOX_PREFIX = "hostile"


@dataclass
class Inbox:
    server: RunningServer
    http: httpx.Client
    api: Client
    s3: Any  # a boto3 client
    bucket: str

    def drop(self, name: str, data: bytes) -> str:
        key = f"{INBOX_PREFIX}/incoming/{name}"
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=data)
        return key

    def notify(self, key: str) -> httpx.Response:
        record = {
            "eventName": "ObjectCreated:Put",
            "s3": {"bucket": {"name": self.bucket}, "object": {"key": quote_plus(key)}},
        }
        return self.http.post("/v1/storage/events", json={"Records": [record]})

    def keys(self) -> list[str]:
        listed = self.s3.list_objects_v2(Bucket=self.bucket, Prefix=f"{INBOX_PREFIX}/")
        return sorted(entry["Key"] for entry in listed.get("Contents", []))


@pytest.fixture(scope="module")
def inbox(services: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Inbox]:
    """A server whose blobs are in a bucket of the session's SeaweedFS, without a notification
    of its own: each test drops an object and delivers the S3 event record itself."""
    bucket = services.s3.new_bucket()
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("inbox") / "data",
        blob_url=services.s3.blob_url(bucket, INBOX_PREFIX),
        max_pixels=MAX_PIXELS,
        **TEST_SETTINGS,  # type: ignore[arg-type]
    )
    app = Sightline(settings)
    try:
        with (
            serve(app) as running,
            httpx.Client(base_url=running.url, timeout=TIMEOUT) as http_client,
            Client(running.url, timeout=TIMEOUT) as api,
        ):
            yield Inbox(running, http_client, api, services.s3.client(), bucket)
    finally:
        app.close()


@pytest.mark.parametrize("name", list(FILES))
def test_a_dropped_object_is_rejected_and_removed_or_analysed(inbox: Inbox, name: str) -> None:
    file = FILES[name]
    images = sum(inbox.server.sightline.stores.images.status_counts().values())
    stored = inbox.keys()
    key = inbox.drop(f"drop/{list(FILES).index(name)}.bin", file.data)
    response = inbox.notify(key)
    assert response.status_code == 200, response.text
    [outcome] = response.json()["records"]
    if outcome["status"] == "rejected":
        codes = {expected.code for expected in file.expect if isinstance(expected, Refused)}
        assert outcome["error"]["code"] in codes, outcome
        assert sum(inbox.server.sightline.stores.images.status_counts().values()) == images
        assert inbox.keys() == stored, "a rejected object left something behind"
        return
    assert outcome["status"] == "catalogued", outcome
    assert ACCEPTED in file.expect, f"{name}: accepted, expected {set(file.expect)}"
    image = inbox.api.wait(outcome["image_id"], timeout=TIMEOUT, interval=0.02)
    assert image["status"] == "done", image["features"]
    assert key not in inbox.keys()


@pytest.mark.parametrize("case", list(HOSTILE_FILENAMES))
def test_hostile_object_names_are_catalogued_clean_or_passed_over(inbox: Inbox, case: str) -> None:
    """Named in a notification whether or not the store took the object: a notification is
    only a claim, so a key the store refused is `gone`, one outside the inbox `ignored`."""
    name = HOSTILE_FILENAMES[case].decode("utf-8", errors="replace")
    key = f"{INBOX_PREFIX}/incoming/drop/{name}"
    try:
        inbox.s3.put_object(Bucket=inbox.bucket, Key=key, Body=noise(200 + len(name) % 50))
        written = True
    except botocore.exceptions.ClientError:  # too long, or a name SeaweedFS will not store
        written = False
    response = inbox.notify(key)
    assert response.status_code == 200, response.text
    [outcome] = response.json()["records"]
    if not written or outcome["status"] == "ignored":
        assert outcome["status"] in ("ignored", "gone"), outcome
        return
    assert outcome["status"] == "catalogued", outcome
    assert_clean(inbox.api.wait(outcome["image_id"], interval=0.02)["filename"])


def test_the_server_still_serves_after_the_corpus(hostile: Hostile) -> None:
    image = hostile.api.wait(hostile.api.upload(noise(99))["id"], timeout=TIMEOUT)
    assert image["status"] == "done"
    assert hostile.http.get("/readyz").status_code == 200
    counts = hostile.server.sightline.stores.images.status_counts()
    assert counts[ImageStatus.FAILED] == 0 and counts[ImageStatus.PENDING] == 0, counts
