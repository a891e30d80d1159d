"""Memory settings of a serving or importing process: the C allocator's (numpy's large arrays
reused, not mapped anew) and the cyclic garbage collector's (an import's results not scanned over
and over).

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

Python's cyclic collector runs a young-generation pass every 700 net allocations, a middle one
every 10 of those, and a full pass of every tracked object when enough objects have survived. An
import keeps a few batches of results alive (each result, its labels and its row survive the
young passes), so the middle and full passes came every few thousand results and scanned them
all again: 300,000 results imported in-process took 9.0 s, 6.9 s with the collector off, and 6.9 s
with middle passes every 100 young ones (COLLECTOR_MIDDLE_THRESHOLD). Cycles are still collected,
later; nothing in the service lives by them.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc

MMAP_THRESHOLD = 64 << 20
"""Bytes: larger allocations still get pages of their own (a bound on what one array keeps)."""
TRIM_THRESHOLD = 256 << 20
"""Bytes of free memory a process keeps at the top of its heap before giving any back."""

COLLECTOR_MIDDLE_THRESHOLD = 100
"""Young-generation passes of the garbage collector between two middle ones (Python's default: 10)."""

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


def tune_memory() -> None:
    """Both settings above, as every serving or importing process takes them."""
    tune_allocator()
    tune_collector()


def tune_collector() -> tuple[int, int, int]:
    """Space the garbage collector's middle and full passes as above (the young pass is left as
    Python sets it); the thresholds now in force."""
    young, _, full = gc.get_threshold()
    gc.set_threshold(young, COLLECTOR_MIDDLE_THRESHOLD, full)
    return gc.get_threshold()
