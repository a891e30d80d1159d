"""Summaries computed with numpy over metric columns: how the JSON store and SQLite answer.

Held to the domain's `summarize`: metrics over the successful results only, each over those that
have it (an undefined value is NaN in its column), the same population standard deviation, and
numpy's linear percentiles, which the domain's percentile reproduces to the last bit. Means are
numpy's pairwise sums rather than exact sums; they agree with the domain's to about 1e-15 relative.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

import numpy as np
import numpy.typing as npt

from src.application.ports.result_store import SummaryKey
from src.domain.benchmark_result import STORED_METRICS
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
"""One row per result, one column per metric in STORED_METRICS order; NaN where a metric is undefined."""
Failed = npt.NDArray[np.bool_]
"""One flag per row of some Columns: True where the result failed. Its metrics are then never read,
whatever they hold; None stands for no failed result."""

_TOKENS, _TOTAL_TIME = STORED_METRICS.index("token_count"), STORED_METRICS.index("total_generation_time")


def summarize_columns(
    columns: Columns,
    percentiles: Sequence[float],
    objective: ServiceLevelObjective | None,
    groups: Sequence[str | None] | None = None,
    buckets: npt.NDArray[np.int64] | None = None,
    *,
    failed: Failed | None = None,
) -> dict[SummaryKey, ResultSummary]:
    """Summaries per (group, bucket) present among the rows, failed ones included (a key holding
    only failures has count 0 and no metric); `groups` and `buckets`, when given, hold each row's
    group value and bucket index, and `failed` which rows are failed results."""
    if not len(columns):
        return {}
    _check_shape(columns, failed)
    if failed is not None and not failed.any():
        failed = None
    if groups is None and buckets is None:
        if failed is None:
            return {(None, None): _summary(columns, 0, percentiles, objective)}
        failures = int(np.count_nonzero(failed))
        return {(None, None): _summary(columns[~failed], failures, percentiles, objective)}
    # Rows are put in key order once; each key's rows are then one contiguous slice. lexsort's
    # last key is its primary one: groups, then buckets within a group, then, within a key, the
    # successes before the failures, so that a key's successes are a slice too.
    keys: list[npt.NDArray[np.int64]] = [] if buckets is None else [buckets]
    names: dict[str | None, int] = {}
    if groups is not None:
        keys.append(np.fromiter((names.setdefault(group, len(names)) for group in groups), np.int64, len(groups)))
    order = np.lexsort(keys if failed is None else [failed, *keys])
    changes = np.flatnonzero(np.any([np.diff(key[order]) != 0 for key in keys], axis=0)) + 1
    bounds = [0, *changes.tolist(), len(order)]
    # Before any summary is computed: each costs some tens of microseconds of numpy calls.
    refuse_oversized_answer(len(names), len(bounds) - 1)
    # How many rows up to each position in key order are failures: a key's failures are a difference.
    failures_before = None if failed is None else np.concatenate(([0], np.cumsum(failed[order]))).tolist()
    group_of = list(names)
    found: dict[SummaryKey, ResultSummary] = {}
    for first, past in pairwise(bounds):
        row = order[first]
        group = group_of[int(keys[-1][row])] if groups is not None else None
        bucket = int(buckets[row]) if buckets is not None else None
        failures = 0 if failures_before is None else failures_before[past] - failures_before[first]
        found[(group, bucket)] = _summary(columns[order[first : past - failures]], failures, percentiles, objective)
    return found


def sorted_columns(columns: Columns, *, failed: Failed | None = None) -> dict[str, list[float]]:
    """Every summarised metric's values in ascending order, over the successful results that have it."""
    if not len(columns):
        return {metric: [] for metric in STATISTIC_METRICS}
    _check_shape(columns, failed)
    if failed is not None and failed.any():
        columns = columns[~failed]
    values = {metric: _defined(columns[:, position]) for position, metric in enumerate(STORED_METRICS)}
    values[OUTPUT_THROUGHPUT] = throughput(columns)
    return {metric: np.sort(values[metric]).tolist() for metric in STATISTIC_METRICS}


def sorted_metric(columns: Columns, metric: str, *, failed: Failed | None = None) -> tuple[list[float], int]:
    """One summarised metric's values in ascending order over the successful results that have it,
    and how many rows are failed results."""
    if not len(columns):
        return [], 0
    _check_shape(columns, failed)
    failures = 0 if failed is None else int(np.count_nonzero(failed))
    if failed is not None and failures:
        columns = columns[~failed]
    values = throughput(columns) if metric == OUTPUT_THROUGHPUT else _defined(columns[:, STORED_METRICS.index(metric)])
    return np.sort(values).tolist(), failures


def metric_sources(metric: str) -> tuple[str, ...]:
    """The stored metrics a summarised metric is computed from."""
    return ("token_count", "total_generation_time") if metric == OUTPUT_THROUGHPUT else (metric,)


def _check_shape(columns: Columns, failed: Failed | None) -> None:
    if columns.ndim != 2 or columns.shape[1] != len(STORED_METRICS):
        raise ValueError(f"expected one column per stored metric ({len(STORED_METRICS)}), got shape {columns.shape}")
    if failed is not None and failed.shape != (len(columns),):
        raise ValueError(f"expected one failed flag per row ({len(columns)}), got shape {failed.shape}")


def _summary(
    columns: Columns, failures: int, percentiles: Sequence[float], objective: ServiceLevelObjective | None
) -> ResultSummary:
    """The summary of successful results' `columns`, beside `failures` failed ones."""
    # One copy into column-major order makes every metric a contiguous array, which numpy's
    # reductions and partitions walk faster than a strided column of a row-major block.
    columns = np.asfortranarray(columns)
    metrics = {
        metric: _describe(_defined(columns[:, position]), percentiles) for position, metric in enumerate(STORED_METRICS)
    }
    metrics[OUTPUT_THROUGHPUT] = _describe(throughput(columns), percentiles)
    goodput = None
    if objective is not None:
        met = np.ones(len(columns), dtype=bool)
        for metric, bound in objective.bounds().items():
            # An undefined value (NaN) compares False: a bound on a metric a result lacks is not met.
            met &= columns[:, STORED_METRICS.index(metric)] <= bound
        goodput = int(np.count_nonzero(met))
    return ResultSummary(len(columns), metrics, goodput, failures)


def _defined(values: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """The values that are defined (not NaN); the same array when all are."""
    undefined = np.isnan(values)
    return values[~undefined] if undefined.any() else values


def throughput(columns: Columns) -> npt.NDArray[np.float64]:
    """Each row's output throughput in tokens/s, for the rows that have one (see `timed_rows`)."""
    # The same operations as the domain's output_throughput, so the values agree to the bit.
    tokens, total = columns[:, _TOKENS], columns[:, _TOTAL_TIME]
    timed = timed_rows(columns)
    return tokens[timed] / (total[timed] / MILLISECONDS_PER_SECOND)


def timed_rows(columns: Columns) -> npt.NDArray[np.bool_]:
    """Which rows have an output throughput: a token count and a time of at least
    MIN_THROUGHPUT_MILLISECONDS (NaN compares False, so a row missing either has none)."""
    return (columns[:, _TOTAL_TIME] >= MIN_THROUGHPUT_MILLISECONDS) & ~np.isnan(columns[:, _TOKENS])


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
