"""The serving process's allocator settings take on glibc, and are skipped elsewhere."""

from __future__ import annotations

import platform

import pytest

from src.entrypoints.allocator import tune_allocator


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
def test_glibc_takes_every_setting() -> None:
    assert tune_allocator() is True
