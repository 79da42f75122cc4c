"""The container image's HEALTHCHECK: GET /healthz on the port of the role the container runs.

The image has no curl. The role and port come from the command line of the container's main
process (PID 1): `serve` answers on --port or SIGHTLINE_PORT (8080), `worker` on --http-port or
SIGHTLINE_WORKER_HTTP_PORT (9090). Exit status 0 when it answers 200, 1 otherwise.

    python3 healthcheck.py [PID]
"""

import os
import sys
import urllib.request

# role: (its port's flag, its port's variable, the default port)
ROLES = {
    "serve": ("--port", "SIGHTLINE_PORT", 8080),
    "worker": ("--http-port", "SIGHTLINE_WORKER_HTTP_PORT", 9090),
}


def command_line(pid: str) -> list[str]:
    with open(f"/proc/{pid}/cmdline", "rb") as file:
        return [arg.decode() for arg in file.read().split(b"\0") if arg]


def health_url(argv: list[str], environ: dict[str, str]) -> str:
    role = next((arg for arg in argv if arg in ROLES), None)
    if role is None:
        raise SystemExit(f"no HTTP role in {' '.join(argv)!r}")
    flag, variable, default = ROLES[role]
    port = environ.get(variable, str(default))
    for i, arg in enumerate(argv):
        if arg == flag and i + 1 < len(argv):
            port = argv[i + 1]
        elif arg.startswith(flag + "="):
            port = arg.split("=", 1)[1]
    return f"http://127.0.0.1:{port}/healthz"


def main() -> None:
    pid = sys.argv[1] if len(sys.argv) > 1 else "1"
    argv = command_line(pid)
    url = health_url(argv, dict(os.environ))
    try:
        with urllib.request.urlopen(url, timeout=4) as response:
            healthy = response.status == 200
    except OSError as error:
        raise SystemExit(f"{url}: {error}") from None
    raise SystemExit(0 if healthy else f"{url}: HTTP {response.status}")


if __name__ == "__main__":
    main()
