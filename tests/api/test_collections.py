"""Collections through the HTTP API (issue 13): a caller bound to one collection sees nothing of
another on any route. Every route of the served OpenAPI document is called by a caller bound to
one collection with the other's ids; search (text and semantic), `/similar`, `/duplicates`,
`duplicate_of`, the event stream and webhooks are checked from both sides; a bound caller naming
another collection is refused; and classifiers, `custom:NAME` and run-on-upload stay in theirs.

Until API keys carry a collection, the requests of this module are bound through the seam the
keys will use: `collection_scope` is overridden to read the `X-Test-Collection` header.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import numpy as np
import pytest
from fastapi import Request
from PIL import Image
from skimage import data

from conftest import TEST_SETTINGS, serve
from sightline import ApiError, Client
from sightline.api.scope import CollectionScope, collection_scope
from sightline.app import Sightline
from sightline.client import models as answers
from sightline.ids import new_image_id
from sightline.images.uploads import UploadRecord
from sightline.settings import Settings
from support.apicheck import assert_error
from support.garments import garment
from support.imagegen import encode
from webhooks.receiver import Receiver

A = "tenant-alpha"
B = "tenant-beta"
BOUND = "X-Test-Collection"
FEATURES = ["metadata", "hash", "thumbnail", "tags", "embedding", "semantic"]
WEBHOOKS: dict[str, Any] = {
    "webhook_allowed_networks": "127.0.0.0/8",
    "webhook_origin": "tests.sightline.example",
    "webhook_retry_delays": "0.05",
}
# Request bodies that reach past validation to the resource the path names (any other route
# gets `{}` when it takes a body); "{b_image}" stands for the other collection's image id.
BODIES: dict[tuple[str, str], Any] = {
    ("post", "/v1/classifiers"): {"name": "made-by-the-sweep", "kind": "multiclass"},
    ("post", "/v1/classifiers/{key}/examples"): {
        "examples": [{"image_id": "{b_image}", "labels": ["dress"]}]
    },
    ("post", "/v1/classifiers/{key}/predict"): {"image_id": "{b_image}"},
    ("post", "/v1/faces/search"): {"face_id": "{b_face}"},
    ("post", "/v1/faces/clusters/{cluster_id}/name"): {"name": "made-by-the-sweep"},
    ("post", "/v1/faces/clusters/{cluster_id}/merge"): {"cluster_ids": ["{b_cluster}"]},
    ("post", "/v1/faces/clusters/{cluster_id}/split"): {"face_ids": ["{b_face}"]},
    ("post", "/v1/people"): {"name": "made-by-the-sweep", "face_ids": ["{b_face}"]},
    ("patch", "/v1/people/{person_id}"): {"name": "made-by-the-sweep"},
    ("post", "/v1/people/{person_id}/faces"): {"face_ids": ["{b_face}"]},
}
FACES = ["faces", "face_embedding"]
# Routes that serve every collection at once: a bound caller is refused.
SERVER_WIDE = {("post", "/v1/storage/events")}


def bound_by_header(request: Request) -> CollectionScope:
    return CollectionScope(request.headers.get(BOUND))


class Bound(httpx.HTTPTransport):
    """Sends every request as a caller bound to `collection`."""

    def __init__(self, collection: str) -> None:
        super().__init__()
        self.collection = collection

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.headers[BOUND] = self.collection
        return super().handle_request(request)


def astronaut() -> Image.Image:
    return Image.fromarray(data.astronaut())


def photo(image: np.ndarray, quality: int = 95) -> bytes:
    return encode(Image.fromarray(np.asarray(image)).convert("RGB"), "JPEG", quality=quality)


@dataclass
class World:
    """Two collections with images, classifiers, subscriptions, uploads and events; clients
    bound to each, and one bound to none."""

    url: str
    app: Sightline
    alpha: Client
    beta: Client
    admin: Client
    receivers: dict[str, Receiver]
    images: dict[str, answers.Image] = field(default_factory=dict)  # by file name
    classifiers: dict[str, answers.Classifier] = field(default_factory=dict)  # "alpha:shop"…
    subscriptions: dict[str, answers.Subscription] = field(default_factory=dict)  # by receiver
    uploads: dict[str, str] = field(default_factory=dict)  # by collection
    faces: dict[str, dict[str, Any]] = field(default_factory=dict)  # by collection
    people: dict[str, dict[str, Any]] = field(default_factory=dict)  # by collection

    def ids(self, collection: str) -> set[str]:
        return {image["id"] for image in self.images.values() if image["collection"] == collection}

    def upload(self, client: Client, name: str, raw: bytes, **options: Any) -> answers.Image:
        image = client.upload(raw, filename=name, features=options.pop("features", FEATURES))
        self.images[name] = client.wait(image["id"], timeout=120)
        assert self.images[name]["status"] == "done", self.images[name]
        return self.images[name]

    def beta_markers(self) -> set[str]:
        """What must never reach a caller bound to alpha: beta's ids, file names, the bytes'
        hashes only beta has, its classifiers, subscription, deliveries, upload and events."""
        alpha_hashes = {i["sha256"] for i in self.images.values() if i["collection"] == A}
        markers = {B}
        for image in self.images.values():
            if image["collection"] == B:
                markers |= {image["id"], image["filename"]}
                if image["sha256"] not in alpha_hashes:
                    markers.add(image["sha256"])
        # Names are no markers: alpha has a `shop` too, and the other name holds B.
        markers |= {c["id"] for key, c in self.classifiers.items() if key.startswith("beta:")}
        subscription = self.subscriptions["beta"]
        markers |= {subscription["id"], subscription["secret"], subscription["endpoint"]}
        deliveries = self.admin.deliveries(subscription["id"])["deliveries"]
        markers |= {delivery["id"] for delivery in deliveries}
        markers.add(self.uploads[B])
        face, person = self.faces[B], self.people[B]
        markers |= {face["id"], face["cluster_id"], person["id"], person["name"]}
        markers |= {
            event.envelope["id"] for event in self.app.stores.events.events_after(0, 10_000, B)
        }
        return markers


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("collections") / "data",
        **{**TEST_SETTINGS, **WEBHOOKS},
    )
    app = Sightline(settings)
    server = serve(app)
    server.app.dependency_overrides[collection_scope] = bound_by_header
    with (
        server as running,
        Receiver() as to_alpha,
        Receiver() as to_beta,
        Receiver() as to_all,
        Client(running.url, transport=Bound(A), timeout=60) as alpha,
        Client(running.url, transport=Bound(B), timeout=60) as beta,
        Client(running.url, timeout=60) as admin,
        Client(running.url, collection=B, timeout=60) as admin_in_beta,
    ):
        world = World(running.url, app, alpha, beta, admin, {"alpha": to_alpha, "beta": to_beta})
        world.receivers["all"] = to_all
        world.subscriptions["alpha"] = alpha.create_subscription(to_alpha.url)
        world.subscriptions["beta"] = beta.create_subscription(to_beta.url)
        world.subscriptions["all"] = admin.create_subscription(to_all.url)

        cat = photo(data.chelsea())
        world.upload(alpha, "tenant-alpha-cat.jpg", cat)
        world.upload(alpha, "tenant-alpha-coffee.jpg", photo(data.coffee()))
        # The same bytes in beta, uploaded by a caller bound to none that names beta; then again.
        world.upload(admin_in_beta, "tenant-beta-cat.jpg", cat)
        world.upload(beta, "tenant-beta-cat-again.jpg", cat)
        world.upload(beta, "tenant-beta-cat-near.jpg", photo(data.chelsea(), quality=30))
        world.upload(beta, "tenant-beta-zebra-rocket.jpg", photo(data.rocket()))

        # A classifier of the same name in each; beta's trained, published and run on uploads.
        world.classifiers["alpha:shop"] = alpha.create_classifier("shop")
        world.classifiers["beta:shop"] = beta.create_classifier("shop")
        world.classifiers["beta:private"] = beta.create_classifier("tenant-beta-private")
        examples = []
        for kind in ("dress", "shirt"):
            for seed in range(5):
                image = world.upload(
                    beta,
                    f"tenant-beta-{kind}-{seed}.png",
                    garment(kind, seed),
                    features=["embedding"],
                )
                examples.append((image["id"], kind))
        assert beta.add_examples("shop", examples)["failed"] == 0
        beta.train("shop")
        assert beta.wait_for_version("shop", 1)["status"] == "ready"
        beta.publish("shop", 1)
        beta.update_classifier("shop", run_on_upload=True)
        # With the default features, which beta's attached classifier joins.
        world.upload(alpha, "tenant-alpha-after.png", garment("dress", 50), features=None)
        world.upload(beta, "tenant-beta-after.png", garment("dress", 51), features=None)

        # The same face in each: a person in beta.
        for client, collection in ((alpha, A), (beta, B)):
            image = world.upload(
                client, f"{collection}-astronaut.png", encode(astronaut(), "PNG"), features=FACES
            )
            faces = httpx.get(f"{running.url}/v1/faces", params={"image_id": image["id"]})
            (world.faces[collection],) = faces.json()["items"]
        world.people[B] = httpx.post(
            f"{running.url}/v1/people",
            json={"name": "tenant-beta-person", "face_ids": [world.faces[B]["id"]]},
            headers={BOUND: B},
        ).json()

        now = datetime.now(UTC)
        for collection in (A, B):
            record = UploadRecord(
                id=new_image_id(),
                inbox_key=f"incoming/{collection}/photo.jpg",
                filename=f"{collection}-upload.jpg",
                features=[],
                client_metadata={},
                created_at=now,
                expires_at=now + timedelta(hours=1),
                collection=collection,
            )
            app.stores.uploads.create(record)
            world.uploads[collection] = record.id

        # Every event so far delivered to the subscription of every collection.
        wanted = {stored.envelope["id"] for stored in app.stores.events.events_after(0, 10_000)}
        to_all.wait(lambda r: wanted <= {event["id"] for event in r.delivered()}, timeout=60)
        yield world
    app.close()


def text(response: httpx.Response) -> str:
    return json.dumps(dict(response.headers)) + response.text


def leaked(markers: set[str], answer: str, sent: str) -> set[str]:
    """The markers in an answer, but for those the request itself carried (an echo of what the
    caller sent tells it nothing)."""
    return {marker for marker in markers if marker in answer and marker not in sent}


def call(
    client: httpx.Client, method: str, path: str, params: dict[str, Any], body: Any
) -> tuple[int, str]:
    """One request; an event stream is read for a few seconds, then left."""
    chunks: list[str] = []
    with client.stream(
        method.upper(),
        path,
        params=params,
        json=body,
        timeout=httpx.Timeout(60, read=3),
    ) as response:
        streaming = response.headers.get("content-type", "").startswith("text/event-stream")
        try:
            for chunk in response.iter_text():
                chunks.append(chunk)
        except httpx.ReadTimeout:
            assert streaming, f"{method} {path} stalled"
        return response.status_code, json.dumps(dict(response.headers)) + "".join(chunks)


def operations(world: World) -> Iterator[tuple[str, str, dict[str, Any]]]:
    spec = httpx.get(f"{world.url}/openapi.json").json()
    for path, methods in spec["paths"].items():
        for method, operation in methods.items():
            yield method, path, operation


def test_no_route_shows_a_caller_bound_to_one_collection_anything_of_another(
    world: World,
) -> None:
    markers = world.beta_markers()
    beta = world.subscriptions["beta"]
    path_ids = {
        "image_id": world.images["tenant-beta-zebra-rocket.jpg"]["id"],
        "key": world.classifiers["beta:private"]["id"],
        "number": "1",
        "subscription_id": beta["id"],
        "delivery_id": world.admin.deliveries(beta["id"])["deliveries"][0]["id"],
        "upload_id": world.uploads[B],
        "face_id": world.faces[B]["id"],
        "cluster_id": world.faces[B]["cluster_id"],
        "person_id": world.people[B]["id"],
    }
    called = set()
    with httpx.Client(base_url=world.url, headers={BOUND: A}) as alpha:
        for method, path, operation in operations(world):
            if path.startswith("/v1/keys"):
                # Keys belong to no collection; a bound key is refused there by the
                # authentication (tests/api/test_access.py), which this test's binding skips.
                continue
            called.add((method, path))
            query: dict[str, Any] = {"since": 0} if path == "/v1/events" else {}
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "query" and parameter.get("required"):
                    query[parameter["name"]] = path_ids[parameter["name"]]
            body = None
            if "requestBody" in operation or (method, path) in BODIES:
                raw = json.dumps(BODIES.get((method, path), {}))
                for name, value in (
                    ("{b_image}", path_ids["image_id"]),
                    ("{b_face}", path_ids["face_id"]),
                    ("{b_cluster}", path_ids["cluster_id"]),
                ):
                    raw = raw.replace(name, value)
                body = json.loads(raw)
            url = path.format(**path_ids)
            status, answer = call(alpha, method, url, query, body)
            sent = url + json.dumps(query) + json.dumps(body)
            assert not leaked(markers, answer, sent), (method, path, status, answer)
            # 501: direct uploads need an S3 store, which this server has not.
            assert status < 500 or status == 501, (method, path, status, answer)
            if "{" in path:
                assert status == 404, (method, path, status, answer)
            if (method, path) in SERVER_WIDE:
                assert status == 403, (method, path, status, answer)
    assert set(BODIES) <= called
    assert ("get", "/v1/events") in called and ("get", "/v1/images/{image_id}/similar") in called

    # Nothing of beta's was changed or removed by the requests above.
    assert world.admin.get(path_ids["image_id"])["status"] == "done"
    assert world.admin.classifier(path_ids["key"])["collection"] == B
    assert world.admin.subscription(beta["id"])["collection"] == B
    assert world.beta.upload_status(world.uploads[B])["status"] == "waiting"
    with httpx.Client(base_url=world.url, headers={BOUND: B}) as beta_client:
        person = beta_client.get(f"/v1/people/{path_ids['person_id']}").json()
        assert person["name"] == "tenant-beta-person" and person["faces"] == 1
        assert beta_client.get(f"/v1/faces/{path_ids['face_id']}").status_code == 200


def test_faces_match_only_within_their_collection(world: World) -> None:
    """The same face in both collections: each side's search finds only its own."""
    picture = encode(astronaut().transpose(Image.Transpose.FLIP_LEFT_RIGHT), "PNG")
    for collection in (A, B):
        with httpx.Client(base_url=world.url, headers={BOUND: collection}) as client:
            found = client.post(
                "/v1/faces/search", content=picture, headers={"Content-Type": "image/png"}
            ).json()
            (face,) = found["faces"]
            matched = {match["face"]["id"] for match in face["matches"]}
            assert matched == {world.faces[collection]["id"]}


def test_a_bound_caller_naming_another_collection_is_refused_on_every_route(
    world: World,
) -> None:
    refused = 0
    with httpx.Client(base_url=world.url, headers={BOUND: A}) as alpha:
        for method, path, operation in operations(world):
            names = {parameter["name"] for parameter in operation.get("parameters", [])}
            if "collection" not in names:
                continue
            # Ids of no resource: the refusal comes before anything is looked up.
            url = path.format_map({name: "x" for name in names})
            body: dict[str, Any] | None = {} if "requestBody" in operation else None
            response = alpha.request(method.upper(), url, params={"collection": B}, json=body)
            assert_error(response, 403, "CollectionForbidden")
            refused += 1
        assert refused > 30
        own = alpha.get("/v1/images", params={"collection": A}).json()["items"]
        assert {image["id"] for image in own} == world.ids(A)
    assert_error(
        httpx.get(f"{world.url}/v1/images", params={"collection": "Not A Slug"}),
        400,
        "InvalidCollection",
    )


def test_lists_and_searches_hold_only_the_callers_collection(world: World) -> None:
    def found(answer: answers.ImagePage | answers.SearchPage) -> set[str]:
        return {item["image"]["id"] if "image" in item else item["id"] for item in answer["items"]}

    assert found(world.alpha.list(limit=200)) == world.ids(A)
    assert found(world.beta.list(limit=200)) == world.ids(B)
    assert found(world.admin.list(limit=200)) == world.ids(A) | world.ids(B)
    assert found(world.admin.list(limit=200, collection=B)) == world.ids(B)

    # Beta's zebra stays out: no word matches in alpha, which answers by meaning, alpha's own.
    zebra = world.alpha.search("zebra")
    assert zebra["strategy"] == "semantic" and found(zebra) <= world.ids(A)
    assert found(world.admin.search("zebra")) == {
        world.images["tenant-beta-zebra-rocket.jpg"]["id"]
    }
    cats = {image["id"] for name, image in world.images.items() if "-cat" in name}
    assert found(world.alpha.search("cat")) == cats & world.ids(A)
    assert found(world.admin.search("cat")) >= cats

    alpha_meaning = found(world.alpha.search("kitten", mode="semantic", limit=50))
    assert alpha_meaning and alpha_meaning <= world.ids(A)
    everyone = found(world.admin.search("kitten", mode="semantic", limit=50))
    assert everyone & world.ids(B)


def test_similar_and_duplicates_stay_in_the_callers_collection(world: World) -> None:
    cat = world.images["tenant-alpha-cat.jpg"]["id"]
    copies = {world.images[f"tenant-beta-cat{suffix}.jpg"]["id"] for suffix in ("", "-again")}

    similar = world.alpha.similar(cat, limit=50)
    assert {item["image"]["id"] for item in similar["items"]} <= world.ids(A) - {cat}
    assert similar["items"]
    everyone = world.admin.similar(cat, limit=50)
    assert copies <= {item["image"]["id"] for item in everyone["items"]}

    assert world.alpha.duplicates(cat) == []
    near = world.images["tenant-beta-cat-near.jpg"]["id"]
    assert copies | {near} <= {item["image"]["id"] for item in world.admin.duplicates(cat)}
    beta_cat = world.images["tenant-beta-cat.jpg"]["id"]
    assert {item["image"]["id"] for item in world.beta.duplicates(beta_cat)} >= {near}


def test_duplicate_of_links_only_to_a_copy_in_the_same_collection(world: World) -> None:
    first, again = (world.images[f"tenant-beta-cat{suffix}.jpg"] for suffix in ("", "-again"))
    alpha_cat = world.images["tenant-alpha-cat.jpg"]
    assert first["sha256"] == again["sha256"] == alpha_cat["sha256"]
    assert first["duplicate_of"] is None  # alpha's copy came first, and stays unnamed
    assert again["duplicate_of"] == first["id"]
    repeat = world.alpha.upload(photo(data.chelsea()), features=["hash"])
    assert repeat["duplicate"] and repeat["duplicate_of"] == alpha_cat["id"]
    world.alpha.delete(repeat["id"])


def test_the_event_stream_of_a_bound_caller_has_only_its_collections_events(
    world: World,
) -> None:
    def stream(client: httpx.Client, **params: Any) -> list[dict[str, Any]]:
        _status, answer = call(client, "get", "/v1/events", {"since": 0, **params}, None)
        return [
            json.loads(line.removeprefix("data: "))
            for line in answer.splitlines()
            if line.startswith("data: ")
        ]

    with (
        httpx.Client(base_url=world.url, headers={BOUND: A}) as alpha,
        httpx.Client(base_url=world.url) as admin,
    ):
        mine = stream(alpha)
        beta = stream(admin, collection=B)
        everything = stream(admin)
    assert {event["collection"] for event in mine} == {A}
    assert world.ids(A) <= {event["data"].get("id") for event in mine}
    assert {event["collection"] for event in beta} == {B}
    assert len(everything) >= len(mine) + len(beta)


def test_a_collections_subscription_receives_only_that_collections_events(world: World) -> None:
    def created(receiver: Receiver) -> set[str]:
        return {
            event["data"]["id"]
            for event in receiver.delivered()
            if event["type"] == "sightline.image.created"
        }

    world.receivers["alpha"].wait(lambda receiver: world.ids(A) <= created(receiver))
    received = {name: receiver.delivered() for name, receiver in world.receivers.items()}
    assert {event["collection"] for event in received["alpha"]} == {A}
    assert {event["collection"] for event in received["beta"]} == {B}
    assert {event["collection"] for event in received["all"]} == {A, B}
    # Every alpha event the log holds reached alpha's subscriber; none of beta's did.
    alpha_events = {e.envelope["id"] for e in world.app.stores.events.events_after(0, 10_000, A)}
    assert {event["id"] for event in received["alpha"]} <= alpha_events

    assert [s["id"] for s in world.alpha.subscriptions()] == [world.subscriptions["alpha"]["id"]]
    assert world.alpha.subscriptions()[0]["collection"] == A
    assert world.admin.subscription(world.subscriptions["all"]["id"])["collection"] is None


def test_classifiers_names_features_and_uploads_stay_in_their_collection(world: World) -> None:
    alpha_shop, beta_shop = world.classifiers["alpha:shop"], world.classifiers["beta:shop"]
    assert alpha_shop["id"] != beta_shop["id"]
    assert world.alpha.classifier("shop")["id"] == alpha_shop["id"]
    assert world.beta.classifier("shop")["id"] == beta_shop["id"]
    assert {c["id"] for c in world.alpha.classifiers()} >= {alpha_shop["id"]}
    assert all(c["collection"] == A for c in world.alpha.classifiers())
    with pytest.raises(ApiError) as taken:
        world.beta.create_classifier("shop")
    assert taken.value.code == "ClassifierExists"

    # Beta's published classifier runs on beta's uploads only, and is a feature of beta only.
    assert "custom:shop" in world.images["tenant-beta-after.png"]["features"]
    assert "custom:shop" not in world.images["tenant-alpha-after.png"]["features"]
    with httpx.Client(base_url=world.url, headers={BOUND: A}) as alpha:
        features = {item["name"] for item in alpha.get("/v1/features").json()["items"]}
        assert "custom:shop" not in features
        refused = alpha.post(
            "/v1/images",
            params={"features": "custom:shop"},
            content=photo(data.coffee()),
            headers={"Content-Type": "image/jpeg"},
        )
        assert_error(refused, 400, "InvalidFeature")
    with httpx.Client(base_url=world.url, headers={BOUND: B}) as beta:
        features = {item["name"] for item in beta.get("/v1/features").json()["items"]}
        assert "custom:shop" in features
        # Another collection's image is no example and gets no prediction.
        cat = world.images["tenant-alpha-cat.jpg"]["id"]
        labelled = beta.post(
            "/v1/classifiers/shop/examples",
            json={"examples": [{"image_id": cat, "labels": ["dress"]}]},
        ).json()
        assert labelled["items"][0]["status"] == 404
        assert_error(
            beta.post("/v1/classifiers/shop/predict", json={"image_id": cat}),
            404,
            "ImageNotFound",
        )
