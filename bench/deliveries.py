"""Webhook delivery benchmark: 10 subscribers, one of them dead, behind a real `sightline serve`.

Starts a fresh server (with its in-process workers and delivery engine) on a temporary data
dir, subscribes 10 loopback receivers through the API (each passes the validation handshake),
stops one of them (the dead subscriber: connections refused from then on), uploads N generated
JPEGs and waits until the 9 live receivers have every `created` and `analyzed` event. Reports
the latency from each `sightline.image.analyzed` event's time (analysis done) to its receipt,
p50/p95, per subscriber and overall; the delivery throughput (events received per second); what
became of the dead subscriber's deliveries; and the server's peak RSS.

    .venv/bin/python bench/deliveries.py                  # 200 images, 10 subscribers
    .venv/bin/python bench/deliveries.py -n 500 --batch 10 --json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from procstatus import status_kib
from sightline.client import Client
from upload import (
    UploadRun,
    generate_images,
    percentile,
    positive_int,
    running_server,
    upload_all,
)

# The receivers are the test suite's (`tests/webhooks/receiver.py`): one HTTP server per
# subscriber on loopback that accepts the handshake and answers 200.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from webhooks.receiver import Receiver  # noqa: E402

ANALYZED = "sightline.image.analyzed"
ORIGIN = "bench.sightline.example"
Receipt = tuple[float, dict[str, Any]]  # when it was read (time.time()), the event


# -- run -------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Benchmark webhook deliveries to 10 subscribers (one dead).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("-n", "--images", type=positive_int, default=200, help="images to upload")
    parser.add_argument("--subscribers", type=positive_int, default=10, help="one of them dead")
    parser.add_argument("--batch", type=positive_int, default=1, help="max_events_per_batch")
    parser.add_argument("--concurrency", type=positive_int, default=4, help="upload threads")
    parser.add_argument(
        "--rate",
        type=float,
        default=0.0,
        help="upload this many images per second, one at a time (0: all at once, with "
        "--concurrency threads): a paced run measures latency when the server keeps up",
    )
    parser.add_argument("--workers", type=positive_int, default=2, help="analysis threads")
    parser.add_argument(
        "--features", default="metadata,color,hash,thumbnail", help="features each upload gets"
    )
    parser.add_argument(
        "--poll-interval",
        type=float,
        default=0.2,
        help="the server's SIGHTLINE_POLL_INTERVAL_SECONDS (how soon new events are noticed)",
    )
    parser.add_argument("--timeout", type=float, default=300.0, help="give up after this")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    return parser.parse_args(argv)


def upload_paced(base_url: str, images: Sequence[bytes], rate: float) -> UploadRun:
    """One upload every 1/rate seconds (or as soon as the previous one is done)."""
    run = UploadRun()
    with Client(base_url, timeout=120.0) as client:
        run.started = time.perf_counter()
        for index, image in enumerate(images):
            delay = run.started + index / rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            began = time.perf_counter()
            client.upload(image, filename=f"bench-{index}.jpg", content_type="image/jpeg")
            run.latencies_s.append(time.perf_counter() - began)
        run.finished = time.perf_counter()
    return run


def event_time(event: dict[str, Any]) -> float:
    return datetime.fromisoformat(event["time"].replace("Z", "+00:00")).timestamp()


def latency_ms(receipts: Sequence[Receipt]) -> list[float]:
    return sorted(
        (at - event_time(event)) * 1000 for at, event in receipts if event["type"] == ANALYZED
    )


def summary(values: Sequence[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p95": None, "max": None}
    return {
        "p50": round(percentile(values, 0.5), 1),
        "p95": round(percentile(values, 0.95), 1),
        "max": round(values[-1], 1),
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    os.environ.update(
        {
            "SIGHTLINE_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8",
            "SIGHTLINE_WEBHOOK_ORIGIN": ORIGIN,
            "SIGHTLINE_POLL_INTERVAL_SECONDS": str(args.poll_interval),
        }
    )
    print(f"generating {args.images} images ...", file=sys.stderr)
    images = generate_images(args.images, (640, 480), 85, 0)
    receivers = [Receiver().start() for _ in range(args.subscribers)]
    names = {id(receiver): f"subscriber-{index}" for index, receiver in enumerate(receivers)}
    dead, live = receivers[0], receivers[1:]
    try:
        with running_server(args.workers, args.features, 60.0, None) as server:
            with Client(server.base_url) as client:
                subscriptions = [
                    client.create_subscription(
                        receiver.url, name=names[id(receiver)], max_events_per_batch=args.batch
                    )
                    for receiver in receivers
                ]
            dead.stop()  # validated, now gone: every attempt is refused
            print(f"server pid {server.process.pid}; uploading", file=sys.stderr)
            if args.rate > 0:
                uploads = upload_paced(server.base_url, images, args.rate)
            else:
                uploads = upload_all([server.base_url], images, args.concurrency)
            expected = 2 * len(uploads.latencies_s)  # created + analyzed per image
            deadline = time.monotonic() + args.timeout
            while any(len(receiver.received()) < expected for receiver in live):
                if time.monotonic() > deadline:
                    break
                time.sleep(0.25)
            finished = time.time()
            with Client(server.base_url) as client:
                dead_state = client.subscription(subscriptions[0]["id"])["counts"]
                dead_attempts, cursor = 0, None
                while True:
                    page = client.delivery_attempts(
                        subscriptions[0]["id"], limit=200, cursor=cursor
                    )
                    dead_attempts += len(page["attempts"])
                    cursor = page["next_cursor"]
                    if not cursor:
                        break
            peak_kib = status_kib(server.process.pid, "VmHWM")
    finally:
        for receiver in live:
            receiver.stop()
    receipts = {id(receiver): receiver.received() for receiver in live}
    received = [receipt for found in receipts.values() for receipt in found]
    first_upload = time.time() - (time.perf_counter() - uploads.started)
    elapsed = max(at for at, _ in received) - first_upload if received else float("nan")
    return {
        "images": len(images),
        "uploaded": len(uploads.latencies_s),
        "subscribers": args.subscribers,
        "dead_subscribers": 1,
        "max_events_per_batch": args.batch,
        "upload_rate": args.rate or "all at once",
        "poll_interval_s": args.poll_interval,
        "cpus": os.cpu_count(),
        "events_expected_per_live_subscriber": expected,
        "events_received_per_live_subscriber": [len(found) for found in receipts.values()],
        "timed_out": any(len(found) < expected for found in receipts.values()),
        "analyzed_to_receipt_ms": summary(latency_ms(received)),
        "analyzed_to_receipt_ms_by_subscriber": {
            names[key]: summary(latency_ms(found)) for key, found in receipts.items()
        },
        "events_delivered": len(received),
        "seconds_from_first_upload_to_last_receipt": round(elapsed, 2),
        "seconds_from_first_upload_to_last_analysis": round(
            max(
                (event_time(event) for _, event in received if event["type"] == ANALYZED),
                default=first_upload,
            )
            - first_upload,
            2,
        ),
        "events_delivered_per_s": round(len(received) / elapsed, 1) if elapsed else None,
        "dead_subscriber": {"counts": dead_state, "attempts_logged": dead_attempts},
        "seconds_after_uploads": round(finished - first_upload, 2),
        "server_peak_rss_mib": round(peak_kib / 1024, 1) if peak_kib else None,
        "load_average_1m": round(os.getloadavg()[0], 2),
    }


def args_rate(report: dict[str, Any]) -> bool:
    return not isinstance(report["upload_rate"], str)


def format_report(report: dict[str, Any]) -> str:
    latency = report["analyzed_to_receipt_ms"]
    per_subscriber = report["analyzed_to_receipt_ms_by_subscriber"].values()
    p50s = [entry["p50"] for entry in per_subscriber if entry["p50"] is not None]
    rows = [
        ("images", f"{report['uploaded']} uploaded (640x480 JPEG), {report['cpus']} CPUs"),
        (
            "subscribers",
            f"{report['subscribers']} ({report['dead_subscribers']} dead), batches of "
            f"{report['max_events_per_batch']}, server poll {report['poll_interval_s']} s, "
            f"uploads {report['upload_rate']}" + (" per s" if args_rate(report) else ""),
        ),
        (
            "received",
            f"{report['events_delivered']} events; per live subscriber "
            f"{min(report['events_received_per_live_subscriber'])}"
            f"-{max(report['events_received_per_live_subscriber'])} of "
            f"{report['events_expected_per_live_subscriber']}"
            + (" (TIMED OUT)" if report["timed_out"] else ""),
        ),
        (
            "analyzed -> receipt",
            f"p50 {latency['p50']} ms, p95 {latency['p95']} ms, max {latency['max']} ms "
            f"(per-subscriber p50 {min(p50s, default=0)}-{max(p50s, default=0)} ms)",
        ),
        (
            "throughput",
            f"{report['events_delivered_per_s']} events/s delivered "
            f"({report['seconds_from_first_upload_to_last_receipt']} s from first upload "
            f"to last receipt; analysis ended at "
            f"{report['seconds_from_first_upload_to_last_analysis']} s)",
        ),
        (
            "dead subscriber",
            f"{report['dead_subscriber']['counts']}, "
            f"{report['dead_subscriber']['attempts_logged']} attempts logged",
        ),
        ("server peak RSS", f"{report['server_peak_rss_mib']} MiB (VmHWM)"),
        ("host load (1 min)", f"{report['load_average_1m']}"),
    ]
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    report = run(args)
    print(json.dumps(report, indent=2) if args.json else format_report(report))
    return 1 if report["timed_out"] else 0


if __name__ == "__main__":
    sys.exit(main())
