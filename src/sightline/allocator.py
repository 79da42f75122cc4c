"""glibc's allocator told to hand large freed blocks back to the system at once.

glibc serves a large allocation from its own mapping (`mmap`) and unmaps it when freed, but
each such free raises the size it counts as large, up to 32 MiB. Pillow allocates pixels in
16 MiB blocks, so after the first large picture the pixels of every later one come from the
heap of whichever thread decoded them, and stay there when freed: four 8900x8900 pictures
left a server 1.3 GB larger for good. A fixed threshold ends that adjustment; freed pixels
return to the system (`bench/decode_memory.py` measures both).
"""

from __future__ import annotations

import ctypes
import logging
import os

M_MMAP_THRESHOLD = -3  # mallopt's parameter number, from glibc's malloc.h
# Well under Pillow's 16 MiB blocks and any full-size picture; well over model inputs and
# thumbnails (about 0.6 and 1 MiB), which stay on the faster heap.
MMAP_THRESHOLD = 4 * 1024 * 1024
log = logging.getLogger(__name__)


def return_large_blocks() -> None:
    """Fix glibc's mmap threshold for this process; nothing elsewhere (musl, macOS) or when
    `MALLOC_MMAP_THRESHOLD_` is set (the operator's choice stands)."""
    if "MALLOC_MMAP_THRESHOLD_" in os.environ or not _glibc():
        return
    if ctypes.CDLL(None).mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) != 1:
        log.warning("glibc refused mallopt(M_MMAP_THRESHOLD, %d)", MMAP_THRESHOLD)


def _glibc() -> bool:
    try:
        return os.confstr("CS_GNU_LIBC_VERSION") is not None
    except (AttributeError, ValueError, OSError):  # no confstr, or a name it does not know
        return False
