"""Typed settings, read once from `SIGHTLINE_*` environment variables and CLI flags."""

from __future__ import annotations

import ipaddress
import os
import socket
from pathlib import Path
from typing import Literal, NamedTuple

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Every bundled feature but `objects` (no detector ships) and `adult` (an optional extra).
DEFAULT_FEATURES = (
    "metadata",
    "color",
    "hash",
    "thumbnail",
    "tags",
    "embedding",
    "semantic",
    "read",
    "faces",
    "people",
    "image_type",
    "quality",
    "smart_crop",
)


# Two faces nearer than this cosine distance are taken for the same person. The same face
# through altered copies (flip, JPEG q20, brightness, rotation, blur, half resolution) measured
# under 0.25 apart, different people over 0.50 (tests/vision/test_face_embedding.py); three
# photos of one person against others separated at 0.35-0.40 (README, Faces).
DEFAULT_FACE_MATCH_DISTANCE = 0.35


class Settings(BaseSettings):
    """Every field is documented in the README; `tests/test_docs.py` keeps the two in step."""

    model_config = SettingsConfigDict(env_prefix="SIGHTLINE_", extra="forbid")

    host: str = Field("127.0.0.1", description="Interface the HTTP API binds to.")
    port: int = Field(8080, ge=0, le=65535, description="TCP port of the HTTP API.")
    data_dir: Path = Field(
        Path("./data"), description="Folder of the embedded catalog, queue and blobs."
    )
    catalog_url: str | None = Field(
        None,
        description="Catalog database URL, `sqlite:///…` or `postgresql://…`; default "
        "`sqlite:///DATA_DIR/catalog.db`.",
    )
    blob_url: str | None = Field(
        None,
        description="Blob store URL, `file://…` or `s3://bucket/prefix?endpoint=…`; default "
        "`file://DATA_DIR/blobs`.",
    )
    queue_url: str | None = Field(
        None,
        description="Job queue URL, `sqlite:///…` or `redis://…`; default "
        "`sqlite:///DATA_DIR/queue.db`.",
    )
    workers: int = Field(
        2, ge=0, description="Analysis worker threads per process (`serve` and `worker`)."
    )
    worker_http_host: str = Field(
        "127.0.0.1",
        description="Interface a `sightline worker` process serves `/healthz`, `/readyz` and "
        "`/metrics` on (with a port); `0.0.0.0` in a container. They need no key.",
    )
    worker_http_port: int | None = Field(
        None,
        ge=0,
        le=65535,
        description="TCP port of a `sightline worker` process's `/healthz`, `/readyz` and "
        "`/metrics`; unset: no port.",
    )
    auto_migrate: Literal["auto", "always", "never"] = Field(
        "auto",
        description="Who upgrades the catalog schema besides `sightline migrate` and "
        "`serve --migrate`: `auto`, `serve` and `worker` upgrade an embedded SQLite catalog, "
        "never a PostgreSQL one (any command creates an empty catalog); `always`, they upgrade "
        "any catalog; `never`, no process but those two creates or upgrades it.",
    )
    blob_presign_seconds: int = Field(
        0,
        ge=0,
        description="With an S3 blob store: answer original and thumbnail requests with a "
        "redirect to a presigned URL valid this long; 0 streams them through the API.",
    )
    upload_url_seconds: int = Field(
        900,
        gt=0,
        le=7 * 24 * 3600,
        description="How long a presigned upload from `POST /v1/uploads` stays usable.",
    )
    api_keys: str = Field(
        "",
        description="Comma-separated admin API keys. With these or any key made by "
        "`sightline keys create`, every `/v1` request needs one (`Authorization: Bearer KEY` "
        "or `X-API-Key: KEY`).",
    )
    aws_access_keys: str = Field(
        "",
        description="Comma-separated access keys of the AWS Rekognition facade, each "
        "`ACCESS_KEY_ID:SECRET[:SCOPE[:COLLECTION]]` (scope read, write or admin, default "
        "write; a collection binds the key to it). Requests must carry a valid SigV4 "
        "signature made with one of them; with none and no API key, the facade is open.",
    )
    url_signing_key: str = Field(
        "",
        description="Secret that signs the image links of `GET /v1/images/{id}/links`; "
        "default: one generated on first use and kept in the catalog, shared by every "
        "process on it. Changing it ends every link given out.",
    )
    forwarded_allow_ips: str = Field(
        "127.0.0.1",
        description="Comma-separated addresses of reverse proxies whose X-Forwarded-For and "
        "X-Forwarded-Proto `sightline serve` believes (the client address that failed keys "
        "are counted by; https for the session cookie's Secure flag); `*` believes all.",
    )
    auth_failure_limit: int = Field(
        10,
        ge=0,
        description="Wrong API keys one client address may send within "
        "SIGHTLINE_AUTH_FAILURE_WINDOW_SECONDS before its keyed requests are refused (429) "
        "until the window has room again; 0: no limit. Counted per process.",
    )
    auth_failure_window_seconds: float = Field(
        60.0, gt=0, description="The window of SIGHTLINE_AUTH_FAILURE_LIMIT."
    )
    key_rate_limit: int = Field(
        0,
        ge=0,
        description="Requests per minute each API key may make (bursts up to the same "
        "number), 429 past it; 0: no limit. Counted per process.",
    )
    key_concurrency_limit: int = Field(
        0,
        ge=0,
        description="Requests each API key may have in flight at once (an open event stream "
        "counts), 429 past it; 0: no limit. Counted per process.",
    )
    metrics_require_key: bool = Field(
        False,
        description="`GET /metrics` needs an API key (any scope) like `/v1`; off: it is open, "
        "like the health checks.",
    )
    face_match_distance: float = Field(
        DEFAULT_FACE_MATCH_DISTANCE,
        gt=0,
        lt=2,
        description="Two faces (`face_embedding` descriptors) nearer than this cosine distance "
        "are taken for the same person: by face search unless a request says otherwise, and "
        "when new faces are grouped into clusters and matched to enrolled people. The same face "
        "through altered copies measured under 0.25, different people over 0.35.",
    )
    face_collections: str = Field(
        "",
        description="Comma-separated collections whose uploads get `face_embedding` (and the "
        "`faces` it reads) with the default features: biometric data for those collections "
        "only. A request naming its features still gets just those; for every collection, "
        "add `face_embedding` to SIGHTLINE_DEFAULT_FEATURES instead.",
    )
    max_upload_bytes: int = Field(
        50 * 1024 * 1024, gt=0, description="Largest accepted image file."
    )
    max_pixels: int = Field(
        80_000_000, gt=0, description="Largest accepted width x height (decompression-bomb guard)."
    )
    decode_memory_bytes: int = Field(
        1024 * 1024 * 1024,
        gt=0,
        description="Memory that the pictures being decoded and analysed at once may take, "
        "per process, estimated from each file's header (about 17 bytes a pixel for RGB); a "
        "picture needing more alone is refused (413 `ImageMemoryTooLarge`), others wait "
        "their turn.",
    )
    max_request_bytes: int = Field(
        256 * 1024 * 1024, gt=0, description="Largest upload request, all files together."
    )
    max_files_per_request: int = Field(100, gt=0, description="Most files in one batch upload.")
    min_free_bytes: int = Field(
        100_000_000,
        ge=0,
        description="Uploads are refused (507) while the disk of a local folder (the data "
        "folder, a file:// blob store, an SQLite catalog) has less free space than this; "
        "readiness reports it.",
    )
    max_metadata_bytes: int = Field(
        16 * 1024, gt=0, description="Largest client metadata object, as compact JSON."
    )
    job_lease_seconds: float = Field(
        60.0,
        gt=0,
        description="How long a claimed job stays invisible before another worker may take it.",
    )
    job_max_attempts: int = Field(
        5, ge=1, description="Attempts before a job is dead-lettered with its last error."
    )
    job_backoff_seconds: float = Field(
        2.0, gt=0, description="Base of the exponential retry backoff (with full jitter)."
    )
    body_timeout_seconds: float = Field(
        30.0,
        gt=0,
        description="A request whose body sends nothing for this long is answered 408 "
        "`RequestTimeout`: a slow or stalled client cannot hold a connection forever.",
    )
    header_timeout_seconds: float = Field(
        15.0,
        gt=0,
        description="A connection whose request head is not complete this long after it opened "
        "(or after the previous response) is closed: a client cannot hold one by sending nothing.",
    )
    max_connections_per_client: int = Field(
        64,
        ge=0,
        description="Open connections one client address may hold; more are answered 429 "
        "`TooManyConnections` and closed (0: no cap). The proxies in "
        "SIGHTLINE_FORWARDED_ALLOW_IPS are not counted.",
    )
    sweep_interval_seconds: float = Field(
        3600.0,
        ge=0,
        description="How often each process running workers removes blobs no image "
        "references, parts of writes that never finished and expired Computer Vision Read "
        "operations, and groups faces whose grouping failed (first at start-up); 0: never "
        "(`sightline check --repair` still does).",
    )
    sweep_grace_seconds: float = Field(
        3600.0,
        gt=0,
        description="Blobs and parts younger than this are left alone by sweeps and checks: "
        "the time an upload or analysis in flight has to commit what it wrote.",
    )
    inbox_reconcile_seconds: float = Field(
        60.0,
        ge=0,
        description="With an S3 blob store: how often each process running workers catalogues "
        "the inbox objects whose notification never came and settles the direct uploads past "
        "their expiry (first at start-up); 0: never.",
    )
    inbox_grace_seconds: float = Field(
        120.0,
        gt=0,
        description="Inbox objects younger than this are left to their notification, and "
        "direct uploads are settled (`expired` for good, if no image came) this long after "
        "their expiry.",
    )
    poll_interval_seconds: float = Field(
        0.2, gt=0, description="How often idle workers and the outbox relay look for work."
    )
    event_retention_days: float = Field(
        7.0, gt=0, description="How long relayed events stay readable by `GET /v1/events`."
    )
    default_features: str = Field(
        ",".join(DEFAULT_FEATURES),
        description="Comma-separated features computed when a request names none.",
    )
    semantic_threshold: float = Field(
        0.5,
        ge=0,
        le=1,
        description="Semantic search leaves out hits whose calibrated score (0-1) is under "
        "this; a request's `min_score` overrides it.",
    )
    smart_crop_ratios: str = Field(
        "1:1,4:3,3:4,16:9,9:16",
        description="Aspect ratios the `smart_crop` feature crops to, as W:H or decimals.",
    )
    fetch_allow_private: bool = Field(
        False,
        description="Let `POST /v1/analyze` fetch URLs on loopback, private and link-local "
        "addresses (off: a caller could otherwise probe the server's own network).",
    )
    fetch_timeout_seconds: float = Field(
        10.0, gt=0, description="Time limit for fetching an image URL given to `/v1/analyze`."
    )
    webhook_origin: str = Field(
        "",
        description="The `WebHook-Request-Origin` sent when validating a subscription's "
        "endpoint; default: this machine's host name.",
    )
    webhook_allowed_networks: str = Field(
        "",
        description="Comma-separated CIDRs that webhook endpoints may be on although they are "
        "not public (loopback, private, link-local…); default: none.",
    )
    webhook_timeout_seconds: float = Field(
        10.0, gt=0, description="Time limit for one webhook request, connection included."
    )
    webhook_retry_delays: str = Field(
        "10,30,60,300,600,1800,3600",
        description="Comma-separated seconds between delivery attempts (±20 % jitter); the "
        "last repeats.",
    )
    webhook_concurrency: int = Field(
        32, ge=1, description="Webhook requests in flight at once per process, at most."
    )
    model_dir: Path = Field(
        default_factory=lambda: default_model_dir(),
        description="Folder of prepared and user-added models; default "
        "`$XDG_CACHE_HOME/sightline/models` (`~/.cache/sightline/models`).",
    )
    model_threads: int = Field(
        0,
        ge=0,
        description="Threads each model may use; 0 divides the CPU cores among the workers.",
    )
    image_answer_cache_bytes: int = Field(
        32 * 1024 * 1024,
        ge=0,
        description="Bytes of finished images' encoded `GET /v1/images/{id}` answers each API "
        "process keeps, so a repeat read skips rebuilding them (0 keeps none).",
    )
    warm_models: bool = Field(
        True,
        description="Load the default features' models in the background as a process that "
        "analyses starts, so the first upload does not wait for them; `false` loads each "
        "model on first use.",
    )
    model_idle_seconds: float = Field(
        600.0, ge=0, description="Unload a model unused this long (0 keeps models loaded)."
    )
    model_precision: Literal["int8", "fp32"] = Field(
        "int8",
        description="`int8` runs the face detector and the text detector's first look (is "
        "there any text?) quantized, prepared by `sightline models prepare` (about twice as "
        "fast on a CPU; same results on the measured sets; until prepared, the originals run); "
        "`fp32` runs the original models.",
    )
    model_device: Literal["auto", "cpu"] = Field(
        "auto",
        description="`auto` runs models on a CUDA GPU when onnxruntime-gpu sees one, else on "
        "the CPU; `cpu` always on the CPU.",
    )

    @field_validator("aws_access_keys")
    @classmethod
    def _aws_keys_parse(cls, value: str) -> str:
        parse_aws_access_keys(value)
        return value

    @field_validator("smart_crop_ratios")
    @classmethod
    def _ratios_parse(cls, value: str) -> str:
        parse_ratios(value)
        return value

    @field_validator("webhook_retry_delays")
    @classmethod
    def _delays_parse(cls, value: str) -> str:
        parse_delays(value)
        return value

    @field_validator("webhook_allowed_networks")
    @classmethod
    def _networks_parse(cls, value: str) -> str:
        parse_networks(value)
        return value

    def smart_crop_aspect_ratios(self) -> tuple[float, ...]:
        return parse_ratios(self.smart_crop_ratios)

    def webhook_delays(self) -> tuple[float, ...]:
        return parse_delays(self.webhook_retry_delays)

    def webhook_networks(self) -> tuple[IPNetwork, ...]:
        return parse_networks(self.webhook_allowed_networks)

    def resolved_webhook_origin(self) -> str:
        return self.webhook_origin or socket.getfqdn()

    def resolved_model_threads(self) -> int:
        cores = os.cpu_count() or 1
        return self.model_threads or max(1, cores // max(1, self.workers))

    def resolved_catalog_url(self) -> str:
        return self.catalog_url or f"sqlite:///{self.data_dir.resolve() / 'catalog.db'}"

    def resolved_blob_url(self) -> str:
        return self.blob_url or f"file://{self.data_dir.resolve() / 'blobs'}"

    def resolved_queue_url(self) -> str:
        return self.queue_url or f"sqlite:///{self.data_dir.resolve() / 'queue.db'}"

    def index_dir(self) -> Path:
        """Snapshots of the vector indexes: a cache of the catalog, rebuilt when missing."""
        return self.data_dir.resolve() / "indexes"

    def api_key_set(self) -> frozenset[str]:
        return frozenset(key.strip() for key in self.api_keys.split(",") if key.strip())

    def aws_access_key_list(self) -> tuple[AwsAccessKey, ...]:
        return parse_aws_access_keys(self.aws_access_keys)

    def forwarded_allow_ip_list(self) -> list[str]:
        return [part.strip() for part in self.forwarded_allow_ips.split(",") if part.strip()]


def default_model_dir() -> Path:
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "sightline" / "models"


class AwsAccessKey(NamedTuple):
    """An access key of the AWS facade: SigV4 needs the secret itself on both sides, so it is
    configured here rather than stored hashed like Sightline's own keys."""

    access_key_id: str
    secret: str
    scope: str
    collection: str | None


AWS_KEY_SCOPES = ("read", "write", "admin")


def parse_aws_access_keys(text: str) -> tuple[AwsAccessKey, ...]:
    keys: dict[str, AwsAccessKey] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        fields = item.split(":")
        if not 2 <= len(fields) <= 4 or not all(fields):
            raise ValueError(
                "Each AWS access key is ACCESS_KEY_ID:SECRET[:SCOPE[:COLLECTION]]; "
                f"got one with {len(fields)} fields."
            )
        access_key_id, secret = fields[:2]
        scope = fields[2] if len(fields) > 2 else "write"
        collection = fields[3] if len(fields) > 3 else None
        if scope not in AWS_KEY_SCOPES:
            raise ValueError(f"Unknown AWS access key scope {scope!r}; one of read, write, admin.")
        if access_key_id in keys:
            raise ValueError(f"The AWS access key id {access_key_id!r} is listed twice.")
        keys[access_key_id] = AwsAccessKey(access_key_id, secret, scope, collection)
    return tuple(keys.values())


def parse_delays(text: str) -> tuple[float, ...]:
    """`"10,30,60"` → (10.0, 30.0, 60.0): seconds, at least one, none negative."""
    delays = []
    for part in (part.strip() for part in text.split(",")):
        if not part:
            continue
        try:
            delay = float(part)
        except ValueError:
            raise ValueError(f"{part!r} is not a number of seconds") from None
        if not 0 <= delay < float("inf"):
            raise ValueError(f"{part!r} is not a delay of zero or more seconds")
        delays.append(delay)
    if not delays:
        raise ValueError("at least one retry delay is needed")
    return tuple(delays)


def parse_networks(text: str) -> tuple[IPNetwork, ...]:
    """`"127.0.0.0/8, ::1/128"` → the networks; a bare address is a network of one."""
    networks = []
    for part in (part.strip() for part in text.split(",")):
        if part:
            try:
                networks.append(ipaddress.ip_network(part, strict=False))
            except ValueError as exc:
                raise ValueError(f"{part!r} is not a network like 10.0.0.0/8: {exc}") from None
    return tuple(networks)


def parse_ratios(text: str) -> tuple[float, ...]:
    """`"1:1,16:9,0.75"` → (1.0, 1.777…, 0.75); a ValueError names what is wrong."""
    ratios = []
    for part in (part.strip() for part in text.split(",")):
        if not part:
            continue
        try:
            width, _, height = part.partition(":")
            ratio = float(width) / float(height) if height else float(width)
        except (ValueError, ZeroDivisionError):
            raise ValueError(f"{part!r} is not an aspect ratio like 16:9 or 1.5") from None
        if not ratio > 0 or ratio == float("inf"):
            raise ValueError(f"{part!r} is not a positive aspect ratio")
        ratios.append(ratio)
    if not ratios:
        raise ValueError("at least one aspect ratio is needed")
    return tuple(ratios)
