"""The serving process's memory settings: the allocator's take on glibc (and are skipped elsewhere),
the garbage collector's everywhere."""

from __future__ import annotations

import gc
import platform
from collections.abc import Iterator

import pytest

from src.entrypoints.allocator import COLLECTOR_MIDDLE_THRESHOLD, tune_allocator, tune_collector


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
def test_glibc_takes_every_setting() -> None:
    assert tune_allocator() is True


@pytest.fixture
def thresholds() -> Iterator[tuple[int, int, int]]:
    before = gc.get_threshold()
    yield before
    gc.set_threshold(*before)


def test_the_collector_spaces_its_middle_passes_and_keeps_the_others(thresholds: tuple[int, int, int]) -> None:
    young, middle, full = thresholds
    assert middle != COLLECTOR_MIDDLE_THRESHOLD
    assert tune_collector() == (young, COLLECTOR_MIDDLE_THRESHOLD, full) == gc.get_threshold()
