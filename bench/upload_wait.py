"""`sightline upload --wait` benchmark: N files uploaded and awaited, three ways.

Starts a fresh `sightline serve` with the server's default features and, for each way in
turn (on fresh pictures each, so nothing is skipped as already stored), times from the first
request to the last image analysed:

- `one by one`: upload a file, wait for it, then the next (what `upload --wait` did before);
- `all, then wait`: upload every file, then wait for each in turn;
- `sightline upload --wait`: the command, several files at once, waiting overlapping uploads
  (a few list requests for many images).

    .venv/bin/python bench/upload_wait.py -n 20
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from sightline.cli.batch import Connections
from sightline.cli.remote import Server
from sightline.cli.upload import Uploader
from sightline.client import Client
from sightline.settings import DEFAULT_FEATURES
from upload import generate_images, running_server


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--count", type=int, default=20, help="files per way")
    parser.add_argument("--workers", type=int, default=2, help="server worker threads")
    parser.add_argument("--concurrency", type=int, default=4, help="the command's uploads")
    parser.add_argument(
        "--features", default=",".join(DEFAULT_FEATURES), help="the server's default features"
    )
    parser.add_argument("--startup-timeout", type=float, default=180.0)
    return parser.parse_args(argv)


def one_by_one(base_url: str, files: Sequence[Path]) -> None:
    with Client(base_url, timeout=300) as client:
        for path in files:
            client.wait(client.upload(path)["id"], timeout=300)


def all_then_wait(base_url: str, files: Sequence[Path]) -> None:
    with Client(base_url, timeout=300) as client:
        ids = [client.upload(path)["id"] for path in files]
        for image_id in ids:
            client.wait(image_id, timeout=300)


def overlapped(concurrency: int) -> Callable[[str, Sequence[Path]], None]:
    """What `sightline upload --wait` runs, in this process (its start-up, about a second,
    left out like the client's import for the other ways)."""

    def run(base_url: str, files: Sequence[Path]) -> None:
        connections = Connections(Server(base_url))
        try:
            uploader = Uploader(connections, concurrency=concurrency, wait=True)
            rows = list(uploader.run(files))
        finally:
            connections.close()
        assert all(row["status"] == "done" for row in rows), rows

    return run


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    ways: dict[str, Callable[[str, Sequence[Path]], None]] = {
        "one by one": one_by_one,
        "all, then wait": all_then_wait,
        f"sightline upload --wait (--concurrency {args.concurrency})": overlapped(args.concurrency),
    }
    features = args.features
    with (
        tempfile.TemporaryDirectory(prefix="sightline-bench-") as scratch,
        running_server(args.workers, features, args.startup_timeout, None) as server,
    ):
        with Client(server.base_url, timeout=300) as client:  # models loaded before timing
            client.wait(
                client.upload(generate_images(1, (640, 480), 85, 999)[0])["id"], timeout=300
            )
        print(f"{args.count} files (640x480 JPEG), features: {features}, {args.workers} workers")
        for index, (name, way) in enumerate(ways.items()):
            folder = Path(scratch) / f"way{index}"
            folder.mkdir()
            files = []
            for number, data in enumerate(generate_images(args.count, (640, 480), 85, index)):
                files.append(folder / f"photo-{number:03d}.jpg")
                files[-1].write_bytes(data)
            started = time.perf_counter()
            way(server.base_url, files)
            print(f"  {name:<45} {time.perf_counter() - started:6.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
