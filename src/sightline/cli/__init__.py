"""`sightline`: run the service or workers, analyse files, talk to a running server.

One module per command group: `serve` (serve, worker, migrate), `analyze`, `queue`, `keys`,
`models` work in this process; `images` (upload, get, list, delete, search) and `classifiers`
talk to a running server. `options`, `local` and `remote` hold what they share.
"""

from sightline.cli.root import main

__all__ = ["main"]
