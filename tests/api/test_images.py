"""The images API over real HTTP, with in-process workers: the happy paths and the contract."""

from __future__ import annotations

import hashlib
import io
import json
from datetime import datetime, timedelta
from urllib.parse import quote

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from conftest import RunningServer
from sightline import ApiError, Client
from sightline.api.images import PERCENT_ESCAPE, _decode_cursor, _encode_cursor, header_filename
from sightline.errors import InvalidParameter
from sightline.ids import is_image_id, new_image_id
from sightline.vision.registry import RESULT_MODELS
from support.imagegen import encode, gif_animation, noise, solid
from support.strategies import any_text, texts

CONTRACT_FIELDS = {
    "id",
    "sha256",
    "status",
    "content_type",
    "size",
    "width",
    "height",
    "created_at",
    "updated_at",
    "features",
}


def test_upload_raw_bytes_is_analysed_with_every_feature(client: Client) -> None:
    data = solid("blue", (80, 60))
    created = client.upload(data, filename="sky.jpg", metadata={"album": "trip"})
    assert created["status"] == "pending"
    assert created["duplicate"] is False
    assert created["links"]["self"] == f"/v1/images/{created['id']}"

    image = client.wait(created["id"])
    assert CONTRACT_FIELDS <= image.keys()
    assert image["status"] == "done"
    assert image["content_type"] == "image/jpeg"
    assert (image["width"], image["height"], image["size"]) == (80, 60, len(data))
    assert image["filename"] == "sky.jpg"
    assert image["metadata"] == {"album": "trip"}
    assert set(image["features"]) == {"metadata", "color", "hash", "thumbnail"}
    for feature in image["features"].values():
        assert feature["status"] == "done"
        assert feature["version"]
        assert "error" not in feature
    assert image["features"]["color"]["result"]["dominant_color_background"] == "blue"
    assert image["features"]["metadata"]["result"]["sha256"] == image["sha256"]


def test_multipart_batch_uploads_every_file(server: RunningServer) -> None:
    files = [("file", (f"n{i}.png", noise(i), "image/png")) for i in range(3)]
    response = httpx.post(
        f"{server.url}/v1/images", files=files, data={"features": "color,hash"}, timeout=30
    )
    assert response.status_code == 202
    images = response.json()["images"]
    assert [image["filename"] for image in images] == ["n0.png", "n1.png", "n2.png"]
    assert len({image["id"] for image in images}) == 3
    for image in images:
        assert set(image["features"]) == {"color", "hash"}


def test_features_select_what_runs(client: Client) -> None:
    image = client.wait(client.upload(solid(), features=["color"])["id"])
    assert set(image["features"]) == {"color"}
    with pytest.raises(ApiError) as error:
        client.thumbnail(image["id"])
    assert (error.value.status, error.value.code) == (409, "NotReady")


def test_same_bytes_share_one_blob_and_are_reported_duplicate(
    server: RunningServer, client: Client
) -> None:
    data = noise(7)
    first = client.upload(data)
    second = client.upload(data)
    assert second["duplicate"] is True
    assert second["duplicate_of"] == first["id"]
    assert second["id"] != first["id"]
    assert first["sha256"] == second["sha256"]
    blob_files = [
        p for p in (server.sightline.settings.data_dir / "blobs").rglob("*") if p.is_file()
    ]
    assert sum(p.name == first["sha256"] for p in blob_files) == 1


def test_get_has_etag_and_answers_304(server: RunningServer, client: Client) -> None:
    image = client.wait(client.upload(solid())["id"])
    url = f"{server.url}/v1/images/{image['id']}"
    first = httpx.get(url)
    etag = first.headers["etag"]
    assert httpx.get(url, headers={"If-None-Match": etag}).status_code == 304
    client.reprocess(image["id"], ["color"])
    assert httpx.get(url, headers={"If-None-Match": etag}).status_code == 200


def test_a_kept_answer_is_replaced_once_the_image_changes(
    server: RunningServer, client: Client
) -> None:
    image = client.wait(client.upload(solid("green"))["id"])
    url = f"{server.url}/v1/images/{image['id']}"
    kept = httpx.get(url).content
    assert httpx.get(url).content == kept  # answered from what was kept
    assert len(server.sightline.image_answers) >= 1

    pending = client.reprocess(image["id"], ["color"])
    changed = httpx.get(url).json()  # pending or done again by now, but not the kept answer
    assert changed["updated_at"] >= pending["updated_at"] > image["updated_at"]
    again = client.wait(image["id"])
    assert again["features"]["color"]["updated_at"] > image["features"]["color"]["updated_at"]
    assert httpx.get(url).json() == again


def test_kept_answers_follow_the_view_asked_for(server: RunningServer, client: Client) -> None:
    image = client.wait(client.upload(solid("blue"))["id"])
    url = f"{server.url}/v1/images/{image['id']}"
    for _ in range(2):
        assert set(httpx.get(url).json()["features"]) == {"metadata", "color", "hash", "thumbnail"}
        only = httpx.get(url, params={"results": "color"}).json()["features"]
        assert only["color"]["result"] is not None and only["hash"]["result"] is None
        statuses = httpx.get(url, params={"results": ""}).json()["features"]
        assert all(feature["result"] is None for feature in statuses.values())


def test_a_kept_answer_is_not_served_after_delete_or_outside_the_collection(
    server: RunningServer, client: Client
) -> None:
    image = client.wait(client.upload(noise(21))["id"])
    url = f"{server.url}/v1/images/{image['id']}"
    assert httpx.get(url).status_code == httpx.get(url).status_code == 200
    elsewhere = httpx.get(url, params={"collection": "other"})
    assert (elsewhere.status_code, elsewhere.json()["error"]["code"]) == (404, "ImageNotFound")
    client.delete(image["id"])
    gone = httpx.get(url)
    assert (gone.status_code, gone.json()["error"]["code"]) == (404, "ImageNotFound")


def test_content_is_the_original_with_ranges(server: RunningServer, client: Client) -> None:
    data = noise(3, fmt="PNG")
    image = client.upload(data)
    url = f"{server.url}/v1/images/{image['id']}/content"
    whole = httpx.get(url)
    assert whole.status_code == 200
    assert whole.content == data
    assert whole.headers["content-type"] == "image/png"
    assert whole.headers["etag"] == f'"{image["sha256"]}"'
    assert whole.headers["accept-ranges"] == "bytes"

    part = httpx.get(url, headers={"Range": "bytes=10-19"})
    assert part.status_code == 206
    assert part.content == data[10:20]
    assert part.headers["content-range"] == f"bytes 10-19/{len(data)}"
    tail = httpx.get(url, headers={"Range": "bytes=-5"})
    assert tail.content == data[-5:]
    open_ended = httpx.get(url, headers={"Range": f"bytes={len(data) - 3}-"})
    assert open_ended.content == data[-3:]

    outside = httpx.get(url, headers={"Range": f"bytes={len(data)}-"})
    assert outside.status_code == 416
    assert outside.json()["error"]["code"] == "RangeNotSatisfiable"
    assert outside.headers["content-range"] == f"bytes */{len(data)}"
    cached = httpx.get(url, headers={"If-None-Match": whole.headers["etag"]})
    assert cached.status_code == 304


def test_thumbnails_by_size(client: Client) -> None:
    image = client.wait(client.upload(noise(1, size=(1000, 500), fmt="JPEG"))["id"])
    for size, expected in ((128, (128, 64)), (256, (256, 128)), (512, (512, 256))):
        thumb = Image.open(io.BytesIO(client.thumbnail(image["id"], size)))
        assert thumb.format == "WEBP"
        assert thumb.size == expected
    with pytest.raises(ApiError) as error:
        client.thumbnail(image["id"], 300)
    assert (error.value.status, error.value.code) == (400, "InvalidParameter")


def test_list_paginates_newest_first_and_filters(client: Client) -> None:
    ids = [client.upload(noise(i))["id"] for i in range(5)]
    png = client.upload(solid(fmt="PNG"))["id"]
    for image_id in [*ids, png]:
        client.wait(image_id)

    first = client.list(limit=4)
    assert [item["id"] for item in first["items"]] == [png, *ids[::-1][:3]]
    second = client.list(limit=4, cursor=first["next_cursor"])
    assert [item["id"] for item in second["items"]] == ids[::-1][3:]
    assert second["next_cursor"] is None
    assert [item["id"] for item in client.iter_images(limit=2)] == [png, *ids[::-1]]

    assert [i["id"] for i in client.list(content_type="image/jpeg")["items"]] == []
    assert len(client.list(content_type="image/png")["items"]) == 6
    assert len(client.list(status="done")["items"]) == 6
    assert client.list(status="pending")["items"] == []
    newest = client.get(png)["created_at"]
    assert [i["id"] for i in client.list(uploaded_after=newest)["items"]] == []
    assert len(client.list(uploaded_before=newest)["items"]) == 5


def test_list_oldest_first_pages_with_its_cursors_and_counts_on_the_first_page(
    server: RunningServer, client: Client
) -> None:
    ids = [client.upload(noise(30 + i), features=["metadata"])["id"] for i in range(5)]
    listing = f"{server.url}/v1/images"
    # Restricted to these uploads: other tests of the module share the server.
    since = {"uploaded_after": _before(client.get(ids[0])["created_at"])}

    def pages(order: str) -> tuple[list[str], list[int | None]]:
        seen: list[str] = []
        totals: list[int | None] = []
        params: dict[str, str | int] = {**since, "order": order, "limit": 2}
        while True:
            page = httpx.get(listing, params=params).json()
            seen += [item["id"] for item in page["items"]]
            totals.append(page["total"])
            if page["next_cursor"] is None:
                return seen, totals
            params["cursor"] = page["next_cursor"]

    assert pages("oldest") == (ids, [5, None, None])
    assert pages("newest") == (ids[::-1], [5, None, None])
    refused = httpx.get(listing, params={"order": "sideways"})
    assert (refused.status_code, refused.json()["error"]["code"]) == (400, "InvalidParameter")


def _before(moment: str) -> str:
    """A moment a millisecond before `moment` (ISO 8601), to include an image's own upload."""
    return (datetime.fromisoformat(moment) - timedelta(milliseconds=1)).isoformat()


def test_list_finds_the_images_of_exact_bytes(server: RunningServer, client: Client) -> None:
    data = noise(11)
    first = client.upload(data)["id"]
    again = client.upload(data)["id"]
    client.upload(noise(12))
    digest = hashlib.sha256(data).hexdigest()
    assert [i["id"] for i in client.list(sha256=digest)["items"]] == [again, first]
    assert client.list(sha256=hashlib.sha256(b"never sent").hexdigest())["items"] == []
    refused = httpx.get(f"{server.url}/v1/images", params={"sha256": "ABC"})
    assert (refused.status_code, refused.json()["error"]["code"]) == (400, "InvalidParameter")


def test_lists_can_leave_out_results_but_keep_every_status(
    server: RunningServer, client: Client
) -> None:
    image_id = client.wait(client.upload(noise(3))["id"])["id"]
    client.wait(client.upload(noise(3))["id"])  # a duplicate of the first
    calls = {
        "list": ("/v1/images", lambda body: body["items"][0]),
        "search": ("/v1/search", lambda body: body["items"][0]["image"]),
        "duplicates": (f"/v1/images/{image_id}/duplicates", lambda body: body["items"][0]["image"]),
    }
    for path, first in calls.values():
        light = first(httpx.get(f"{server.url}{path}", params={"results": "thumbnail"}).json())
        assert light["features"]["thumbnail"]["result"]["sizes"]
        assert light["features"]["color"]["result"] is None
        assert {state["status"] for state in light["features"].values()} == {"done"}
        bare = first(httpx.get(f"{server.url}{path}", params={"results": ""}).json())
        assert set(bare["features"]) == set(light["features"])
        assert all(state["result"] is None for state in bare["features"].values())
        whole = first(httpx.get(f"{server.url}{path}").json())
        assert whole["features"]["color"]["result"]["dominant_color_background"]


def test_image_answers_leave_vectors_out_unless_asked(
    server: RunningServer, client: Client
) -> None:
    features = ["embedding", "color", "hash"]
    image_id = client.wait(client.upload(noise(5), features=features)["id"], timeout=90)["id"]
    client.wait(client.upload(noise(5), features=features)["id"], timeout=90)  # a duplicate
    calls = {
        "get": (f"/v1/images/{image_id}", lambda body: body),
        "list": ("/v1/images", lambda body: body["items"][0]),
        "search": ("/v1/search", lambda body: body["items"][0]["image"]),
        "duplicates": (f"/v1/images/{image_id}/duplicates", lambda body: body["items"][0]["image"]),
        "similar": (f"/v1/images/{image_id}/similar", lambda body: body["items"][0]["image"]),
    }
    for name, (path, first) in calls.items():
        lean = first(httpx.get(f"{server.url}{path}").json())["features"]
        assert all("vector" not in (state["result"] or {}) for state in lean.values()), name
        assert lean["embedding"]["result"]["dimensions"] == 1280
        assert lean["color"]["result"]["dominant_color_background"]
        whole = first(httpx.get(f"{server.url}{path}", params={"include": "vectors"}).json())
        assert len(whole["features"]["embedding"]["result"]["vector"]) == 1280, name
        named = first(httpx.get(f"{server.url}{path}", params={"results": "embedding"}).json())
        assert len(named["features"]["embedding"]["result"]["vector"]) == 1280, name
        assert named["features"]["color"]["result"] is None
    assert (
        len(client.get(image_id, include_vectors=True)["features"]["embedding"]["result"]["vector"])
        == 1280
    )
    refused = httpx.get(f"{server.url}/v1/images/{image_id}", params={"include": "vector"})
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == InvalidParameter.code
    documented = httpx.get(f"{server.url}/openapi.json").json()["paths"]["/v1/images/{image_id}"]
    include = next(p for p in documented["get"]["parameters"] if p["name"] == "include")
    assert "vectors" in include["description"]
    assert InvalidParameter.code in documented["get"]["responses"]["400"]["description"]


def test_delete_removes_image_results_and_unshared_blob(
    server: RunningServer, client: Client
) -> None:
    shared = noise(11)
    keep = client.wait(client.upload(shared)["id"])
    twin = client.wait(client.upload(shared)["id"])
    alone = client.wait(client.upload(noise(12))["id"])
    blobs = server.sightline.blobs

    client.delete(twin["id"])
    assert blobs.exists(keep["sha256"])  # still used by `keep`
    client.delete(alone["id"])
    assert not blobs.exists(alone["sha256"])
    for size in ("128", "256", "512"):
        assert not blobs.exists(alone["features"]["thumbnail"]["result"]["sizes"][size]["sha256"])
    with pytest.raises(ApiError) as error:
        client.get(alone["id"])
    assert error.value.code == "ImageNotFound"
    assert [item["id"] for item in client.list()["items"]] == [keep["id"]]


def test_reprocess_recomputes_features(client: Client) -> None:
    image = client.wait(client.upload(solid("green"))["id"])
    before = image["features"]["color"]["updated_at"]
    pending = client.reprocess(image["id"], ["color"])
    assert pending["features"]["color"]["status"] == "pending"
    assert pending["features"]["hash"]["status"] == "done"
    again = client.wait(image["id"])
    assert again["features"]["color"]["status"] == "done"
    assert again["features"]["color"]["updated_at"] > before
    assert again["features"]["color"]["result"] == image["features"]["color"]["result"]

    unchanged = client.reprocess(image["id"], outdated_only=True)
    assert all(f["status"] == "done" for f in unchanged["features"].values())


def test_reprocessing_tags_alone_keeps_words_from_stored_results(client: Client) -> None:
    """`tags` reuses `color`: recomputed alone, it reads the image's stored colour result
    instead of losing the colour words."""
    image = client.wait(client.upload(solid("red"), features=["color", "tags"])["id"])
    words = {tag["name"]: tag["source"] for tag in image["features"]["tags"]["result"]["tags"]}
    assert words.get("red") == "color"
    client.reprocess(image["id"], ["tags"])
    again = client.wait(image["id"])
    retagged = {tag["name"]: tag["source"] for tag in again["features"]["tags"]["result"]["tags"]}
    assert again["features"]["tags"]["updated_at"] > image["features"]["tags"]["updated_at"]
    assert retagged == words


def test_duplicates_by_perceptual_hash(client: Client) -> None:
    original = noise(21, size=(400, 300), fmt="PNG")
    resized = encode(Image.open(io.BytesIO(original)).resize((200, 150)), "JPEG")
    a = client.wait(client.upload(original)["id"])
    b = client.wait(client.upload(resized)["id"])
    other = client.wait(client.upload(noise(99, size=(400, 300)))["id"])
    found = client.duplicates(a["id"])
    assert [item["image"]["id"] for item in found] == [b["id"]]
    assert found[0]["distance"] <= 6
    assert other["id"] not in {item["image"]["id"] for item in client.duplicates(b["id"])}


def test_animated_gif_keeps_frame_count(client: Client) -> None:
    image = client.wait(client.upload(gif_animation(4))["id"])
    metadata = image["features"]["metadata"]["result"]
    assert image["status"] == "done"
    assert metadata["animated"] is True
    assert metadata["frames"] == 4


def test_openapi_documents_every_route(server: RunningServer) -> None:
    spec = httpx.get(f"{server.url}/openapi.json").json()
    paths = spec["paths"]
    for path in (
        "/v1/images",
        "/v1/images/{image_id}",
        "/v1/images/{image_id}/content",
        "/v1/images/{image_id}/thumbnail",
        "/v1/images/{image_id}/duplicates",
        "/v1/images/{image_id}/reprocess",
        "/v1/events",
        "/healthz",
        "/readyz",
        "/metrics",
    ):
        assert path in paths, path
    assert "multipart/form-data" in paths["/v1/images"]["post"]["requestBody"]["content"]
    assert httpx.get(f"{server.url}/docs").status_code == 200


def test_openapi_describes_every_bundled_features_result(server: RunningServer) -> None:
    spec = httpx.get(f"{server.url}/openapi.json").json()
    schemas = spec["components"]["schemas"]
    result = schemas["FeatureOut"]["properties"]["result"]
    documented = {option.get("$ref", "").split("/")[-1] for option in result["anyOf"]}
    for feature, model in RESULT_MODELS.items():
        name = model.__name__
        assert name in documented and f"`{feature}`: `{name}`" in result["description"]
        assert schemas[name]["properties"], feature
    for extra in ("CustomPrediction", "LabelsResult", "SkippedResult"):
        assert extra in documented and schemas[extra]["properties"]
    assert schemas["TagsResult"]["properties"]["tags"]["items"] == {
        "$ref": "#/components/schemas/Tag"
    }


def test_results_are_answered_as_stored(client: Client, server: RunningServer) -> None:
    image_id = client.wait(client.upload(solid())["id"])["id"]
    answered = httpx.get(f"{server.url}/v1/images/{image_id}").text
    record = server.sightline.stores.images.get_image(image_id)
    assert record is not None and record.features
    for name, state in record.features.items():
        stored = json.dumps(state.result, separators=(",", ":"), ensure_ascii=False)
        assert f'"result":{stored}' in answered, name


def test_health_readiness_and_metrics(server: RunningServer, client: Client) -> None:
    client.wait(client.upload(solid())["id"])
    assert httpx.get(f"{server.url}/healthz").json() == {"status": "ok"}
    ready = httpx.get(f"{server.url}/readyz")
    assert ready.status_code == 200
    assert ready.json() == {
        "status": "ready",
        "checks": {"catalog": "ok", "queue": "ok", "blobs": "ok", "disk": "ok", "models": "ok"},
        "reasons": {},
    }
    text = httpx.get(f"{server.url}/metrics").text
    assert 'sightline_uploads_total{outcome="new"} 1.0' in text
    assert 'sightline_queue_jobs{state="done"} 1.0' in text
    assert 'sightline_images{status="done"} 1.0' in text
    assert 'sightline_jobs_total{kind="analyze",outcome="done"} 1.0' in text
    assert 'sightline_job_duration_seconds_count{kind="analyze"} 1.0' in text
    assert 'sightline_component_up{component="queue"} 1.0' in text
    assert 'sightline_feature_duration_seconds_count{feature="color"} 1.0' in text


def test_metadata_round_trips_unicode(client: Client) -> None:
    meta = {"title": "Café ☕", "tags": ["a", "b"], "nested": {"n": 1.5}}
    image = client.upload(solid(), metadata=meta)
    assert client.get(image["id"])["metadata"] == meta
    assert json.loads(json.dumps(meta)) == meta


def test_upload_with_no_features_is_stored_and_done_at_once(client: Client) -> None:
    image = client.upload(solid("red"), features=[])
    assert image["status"] == "done"
    assert image["features"] == {}
    assert client.content(image["id"]) == solid("red")


@given(any_text)
def test_any_x_filename_is_a_name_or_refused(header: str) -> None:
    try:
        name = header_filename(header)
    except InvalidParameter:
        return
    assert isinstance(name, str)


@given(texts)
def test_a_file_name_arrives_whole_however_it_is_encoded(name: str) -> None:
    assert header_filename(f"UTF-8''{quote(name)}") == name
    if not PERCENT_ESCAPE.search(name) and "'" not in name:
        # Raw UTF-8 in the header reaches the server read as Latin-1.
        assert header_filename(name.encode().decode("latin-1")) == name


@given(any_text)
def test_any_image_cursor_is_an_image_id_or_refused(cursor: str) -> None:
    try:
        assert is_image_id(_decode_cursor(cursor))
    except InvalidParameter:
        pass


@given(st.builds(new_image_id))
def test_an_image_cursor_holds_its_image(image_id: str) -> None:
    assert _decode_cursor(_encode_cursor(image_id)) == image_id
