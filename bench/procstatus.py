"""Memory figures from /proc (Linux), shared by the benchmarks."""

from __future__ import annotations

import re
from pathlib import Path

MIB = 1024 * 1024


def status_kib(pid: int | str, key: str) -> int | None:
    """A `/proc/PID/status` field in KiB (`VmRSS`: resident now, `VmHWM`: peak); None when the
    process is gone or has no such field."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    match = re.search(rf"^{key}:\s+(\d+) kB$", text, re.MULTILINE)
    return int(match.group(1)) if match else None


def memory_mib(key: str) -> float:
    """A memory figure of this process in MiB (0 where /proc does not say)."""
    return (status_kib("self", key) or 0) * 1024 / MIB
