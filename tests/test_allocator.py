"""glibc told to hand large freed blocks back to the system."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

# In a fresh process: glibc's threshold is per process and only ever moves up.
GIVEN_BACK = """
import ctypes, re, sys
from sightline.allocator import return_large_blocks

if sys.argv[1] == "fixed":
    return_large_blocks()
libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
BLOCK = 16 << 20  # one block of Pillow's pixels

def resident_kib():
    with open("/proc/self/status") as status:
        return int(re.search(r"VmRSS:\\s+(\\d+)", status.read()).group(1))

def given_back_kib():
    block = libc.malloc(BLOCK)
    ctypes.memset(block, 1, BLOCK)
    held = resident_kib()
    libc.free(block)
    return held - resident_kib()

given_back_kib()  # unfixed, this first free raises glibc's threshold above the block
print(given_back_kib())
"""


def given_back_kib(mode: str) -> int:
    env = {key: value for key, value in os.environ.items() if key != "MALLOC_MMAP_THRESHOLD_"}
    answer = subprocess.run(
        [sys.executable, "-c", GIVEN_BACK, mode],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        timeout=60,
    )
    return int(answer.stdout)


@pytest.mark.skipif(
    not hasattr(os, "confstr") or os.confstr("CS_GNU_LIBC_VERSION") is None,
    reason="glibc only",
)
def test_a_large_freed_block_goes_back_to_the_system_at_once() -> None:
    # Left to itself, glibc keeps the second block on its heap when it is freed.
    assert given_back_kib("sliding") < 1024
    assert given_back_kib("fixed") >= 16 * 1024
