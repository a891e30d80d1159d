"""Summaries computed with numpy over metric columns: how the JSON store and SQLite answer.

Held to the domain's `summarize`: the same population standard deviation and numpy's linear
percentiles, which the domain's percentile reproduces to the last bit. Means are numpy's pairwise
sums rather than exact sums; they agree with the domain's to about 1e-15 relative.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

import numpy as np
import numpy.typing as npt

from src.application.ports.result_store import SummaryKey
from src.domain.benchmark_result import METRICS
from src.domain.statistics import (
    MILLISECONDS_PER_SECOND,
    MIN_THROUGHPUT_MILLISECONDS,
    OUTPUT_THROUGHPUT,
    STATISTIC_METRICS,
    MetricStats,
    ResultSummary,
    ServiceLevelObjective,
    refuse_oversized_answer,
)

Columns = npt.NDArray[np.float64]
"""One row per result, one column per metric in METRICS order."""

_TOKENS, _TOTAL_TIME = METRICS.index("token_count"), METRICS.index("total_generation_time")


def summarize_columns(
    columns: Columns,
    percentiles: Sequence[float],
    objective: ServiceLevelObjective | None,
    groups: Sequence[str | None] | None = None,
    buckets: npt.NDArray[np.int64] | None = None,
) -> dict[SummaryKey, ResultSummary]:
    """Summaries per (group, bucket) present among the rows; `groups` and `buckets`, when given,
    hold each row's group value and bucket index."""
    if not len(columns):
        return {}
    if groups is None and buckets is None:
        return {(None, None): _summary(columns, percentiles, objective)}
    # Rows are put in key order once; each key's rows are then one contiguous slice. lexsort's
    # last key is its primary one: groups, then buckets within a group.
    keys: list[npt.NDArray[np.int64]] = [] if buckets is None else [buckets]
    names: dict[str | None, int] = {}
    if groups is not None:
        keys.append(np.fromiter((names.setdefault(group, len(names)) for group in groups), np.int64, len(groups)))
    order = np.lexsort(keys)
    changes = np.flatnonzero(np.any([np.diff(key[order]) != 0 for key in keys], axis=0)) + 1
    bounds = [0, *changes.tolist(), len(order)]
    # Before any summary is computed: each costs some tens of microseconds of numpy calls.
    refuse_oversized_answer(len(names), len(bounds) - 1)
    group_of = list(names)
    found: dict[SummaryKey, ResultSummary] = {}
    for first, past in pairwise(bounds):
        row = order[first]
        group = group_of[int(keys[-1][row])] if groups is not None else None
        bucket = int(buckets[row]) if buckets is not None else None
        found[(group, bucket)] = _summary(columns[order[first:past]], percentiles, objective)
    return found


def sorted_columns(columns: Columns) -> dict[str, list[float]]:
    """Every summarised metric's values in ascending order."""
    values = {metric: columns[:, position] for position, metric in enumerate(METRICS)}
    values[OUTPUT_THROUGHPUT] = _throughput(columns)
    return {metric: np.sort(values[metric]).tolist() for metric in STATISTIC_METRICS}


def _summary(columns: Columns, percentiles: Sequence[float], objective: ServiceLevelObjective | None) -> ResultSummary:
    # One copy into column-major order makes every metric a contiguous array, which numpy's
    # reductions and partitions walk faster than a strided column of a row-major block.
    columns = np.asfortranarray(columns)
    metrics = {metric: _describe(columns[:, position], percentiles) for position, metric in enumerate(METRICS)}
    metrics[OUTPUT_THROUGHPUT] = _describe(_throughput(columns), percentiles)
    goodput = None
    if objective is not None:
        met = np.ones(len(columns), dtype=bool)
        for metric, bound in objective.bounds().items():
            met &= columns[:, METRICS.index(metric)] <= bound
        goodput = int(np.count_nonzero(met))
    return ResultSummary(len(columns), metrics, goodput)


def _throughput(columns: Columns) -> npt.NDArray[np.float64]:
    # The same operations as the domain's output_throughput, so the values agree to the bit.
    timed = columns[columns[:, _TOTAL_TIME] >= MIN_THROUGHPUT_MILLISECONDS]
    return timed[:, _TOKENS] / (timed[:, _TOTAL_TIME] / MILLISECONDS_PER_SECOND)


def _describe(values: npt.NDArray[np.float64], percentiles: Sequence[float]) -> MetricStats | None:
    if not len(values):
        return None
    quantiles = np.percentile(values, percentiles).tolist() if percentiles else []
    return MetricStats(
        count=len(values),
        mean=float(values.mean()),
        minimum=float(values.min()),
        maximum=float(values.max()),
        stddev=float(values.std()),
        percentiles=tuple(zip(percentiles, quantiles, strict=True)),
    )
