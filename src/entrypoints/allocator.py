"""The C allocator's settings for a serving process: numpy's large arrays reused, not mapped anew.

glibc's malloc hands each allocation above its mmap threshold (128 KiB at first, rising only as
such blocks are freed) fresh pages from the kernel, returns them when it is freed, and gives
free memory at the top of its heap back past a trim threshold. An array is then paid twice:
once for its page faults, once for its work. A statistics request makes a few dozen passes over
arrays of some 350,000 bins (a year of daily summaries), each a new array; on a 2-core virtual
machine the page faults cost more than the arithmetic. GET /results/timeseries over a year in
daily buckets, one worker, medians of 11 requests in 3 rounds: 59 ms as glibc comes, 44 ms with
the settings below (1-day stats, dominated by reading rows, unchanged within the rounds' spread).

So a serving process keeps freed memory for reuse: arrays up to MMAP_THRESHOLD come from the
heap, and up to TRIM_THRESHOLD of free memory stays there. The cost is memory: a process keeps
what its largest requests used, at most TRIM_THRESHOLD beyond what it holds. Sharing one arena
between threads as well did no better over HTTP. See mallopt(3).
"""

from __future__ import annotations

import ctypes
import ctypes.util

MMAP_THRESHOLD = 64 << 20
"""Bytes: larger allocations still get pages of their own (a bound on what one array keeps)."""
TRIM_THRESHOLD = 256 << 20
"""Bytes of free memory a process keeps at the top of its heap before giving any back."""

# mallopt(3)'s parameter numbers, from glibc's malloc.h.
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3


def tune_allocator() -> bool:
    """Apply the settings above to this process's C allocator; False where it is not glibc's
    (musl, macOS), which is left as it is. Allocations made before keep their place."""
    name = ctypes.util.find_library("c")
    library = ctypes.CDLL(name) if name else None
    mallopt = getattr(library, "mallopt", None)
    if mallopt is None or not hasattr(library, "gnu_get_libc_version"):
        return False
    settings = ((_M_MMAP_THRESHOLD, MMAP_THRESHOLD), (_M_TRIM_THRESHOLD, TRIM_THRESHOLD))
    # mallopt returns 1 on success.
    return all(mallopt(parameter, value) == 1 for parameter, value in settings)
