"""Mergeable summaries of metric values: exact moments beside DDSketch bins, for many groups at once.

A summary of some results holds how many succeeded and failed and, per summarised metric
(STATISTIC_METRICS order), the count, mean, spread (M2, the sum of squared deviations from the
mean), minimum and maximum of its defined values, and a DDSketch (Masson, Rim and Lee, "DDSketch:
a fast and fully-mergeable quantile sketch with relative-error guarantees", VLDB 2019) of them.
Summaries of disjoint sets merge into the summary of their union: the moments by Chan, Golub and
LeVeque's pairwise rule ("Updating formulae and a pairwise algorithm for computing sample
variances", 1979), which never subtracts two large sums and so keeps the spread from cancelling;
the sketches by adding bin counts. Count, mean, minimum, maximum and standard deviation are thus
exact (to float rounding) for any union; percentiles are within RELATIVE_ACCURACY of numpy's.

Everything is vectorised over groups: a Summaries holds G groups as arrays, so that merging a
year's buckets or answering 365 of them costs numpy calls, not Python loops.

The bin of a positive value x is key = ceil(log_gamma(x)) with gamma = (1 + a) / (1 - a), the
`ddsketch` package's LogarithmicMapping; its `value(key)` is within a of every x in the bin.
Zero has a bin of its own, estimated as 0. The tests hold the keys computed here to the package's.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import numpy as np
import numpy.typing as npt
from ddsketch.mapping import LogarithmicMapping

from src.adapters.column_statistics import Columns, throughput, timed_rows
from src.domain.statistics import STATISTIC_METRICS, MetricStats

RELATIVE_ACCURACY = 0.01
"""Every sketched percentile is within this fraction of the exact one (for values above 1e-300)."""
MAPPING = LogarithmicMapping(RELATIVE_ACCURACY)

Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]

_METRICS = len(STATISTIC_METRICS)
# A bin's code packs its metric and key into one integer, so that sorting codes sorts bins by
# metric, then by value. Keys of positive doubles lie within about +-37,300 at 1% accuracy.
_KEY_BITS = 17
_KEY_BIAS = 1 << (_KEY_BITS - 1)
_ZERO_KEY = -_KEY_BIAS
"""The key of the bin of zeros, below every positive value's."""
_CODE_BITS = 20  # room for the metric (3 bits) above the key
_LOG2_GAMMA = math.log2(MAPPING.gamma)
_BIN_VALUE_FACTOR = 2.0 / (1.0 + MAPPING.gamma)


_GROUP_FIELDS = ("count", "failed", "n", "mean", "m2", "minimum", "maximum")
"""The fields of Summaries with one entry per group."""


@dataclass(frozen=True, slots=True)
class Summaries:
    """G summaries as arrays. Per group g: `count[g]` successful and `failed[g]` failed results;
    per metric m: `n[g, m]` defined values with `mean`, `m2` (sum of squared deviations),
    `minimum` and `maximum` (+inf and -inf where n is 0); the sketch bins of every group as
    parallel arrays sorted by (group, code), `bin_code` packing metric and key."""

    count: Ints
    failed: Ints
    n: Ints
    mean: Floats
    m2: Floats
    minimum: Floats
    maximum: Floats
    bin_group: Ints
    bin_code: Ints
    bin_count: Ints

    @property
    def size(self) -> int:
        return len(self.count)

    @classmethod
    def empty(cls, size: int) -> Summaries:
        """`size` summaries of nothing."""
        zeros = np.zeros(size, dtype=np.int64)
        per_metric = (size, _METRICS)
        nothing = np.zeros(0, dtype=np.int64)
        return cls(
            zeros,
            zeros.copy(),
            np.zeros(per_metric, dtype=np.int64),
            np.zeros(per_metric),
            np.zeros(per_metric),
            np.full(per_metric, np.inf),
            np.full(per_metric, -np.inf),
            nothing,
            nothing.copy(),
            nothing.copy(),
        )


def bin_keys(values: Floats) -> Ints:
    """The DDSketch key of each non-negative value (MAPPING's, with zero's own key)."""
    keys = np.full(len(values), _ZERO_KEY, dtype=np.int64)
    positive = values > 0
    keys[positive] = np.ceil(np.log2(values[positive]) / _LOG2_GAMMA).astype(np.int64)
    return keys


def bin_values(keys: Ints) -> Floats:
    """The value that stands for each key's bin: MAPPING.value(key), and 0 for the bin of zeros."""
    estimates = np.power(MAPPING.gamma, keys.astype(np.float64)) * _BIN_VALUE_FACTOR
    return np.where(keys == _ZERO_KEY, 0.0, estimates)


def metric_columns(stored: Columns) -> Floats:
    """Rows of the stored metrics (STORED_METRICS order, NaN where undefined) with the derived
    output throughput appended: the STATISTIC_METRICS columns, NaN where undefined."""
    rates = np.full(len(stored), np.nan)
    rates[timed_rows(stored)] = throughput(stored)
    return np.column_stack([stored, rates]) if len(stored) else np.zeros((0, _METRICS))


def summarize_rows(values: Floats, failed: npt.NDArray[np.bool_], groups: Ints, size: int) -> Summaries:
    """The summaries of `size` groups from rows: `values` (R x STATISTIC_METRICS, NaN where
    undefined), `failed` flags (a failed row's values are never read) and each row's group."""
    succeeded = ~failed
    count = np.bincount(groups[succeeded], minlength=size).astype(np.int64)
    failures = np.bincount(groups[failed], minlength=size).astype(np.int64)
    summaries = Summaries.empty(size)
    codes: list[Ints] = []
    bin_groups: list[Ints] = []
    for metric in range(_METRICS):
        column = values[:, metric]
        defined = succeeded & ~np.isnan(column)
        group, value = groups[defined], column[defined]
        n = np.bincount(group, minlength=size)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.bincount(group, weights=value, minlength=size) / n
        deviation = value - mean[group]
        summaries.n[:, metric] = n
        summaries.mean[:, metric] = np.where(n > 0, mean, 0.0)
        summaries.m2[:, metric] = np.bincount(group, weights=deviation * deviation, minlength=size)
        np.minimum.at(summaries.minimum[:, metric], group, value)
        np.maximum.at(summaries.maximum[:, metric], group, value)
        codes.append((metric << _KEY_BITS) | (bin_keys(value) + _KEY_BIAS))
        bin_groups.append(group)
    bins = _binned(np.concatenate(bin_groups), np.concatenate(codes), None)
    return Summaries(
        count, failures, summaries.n, summaries.mean, summaries.m2, summaries.minimum, summaries.maximum, *bins
    )


def merge(parts: Summaries, targets: Ints, size: int) -> Summaries:
    """`size` summaries, the g-th part merged into summary `targets[g]` (Chan et al.'s rule)."""

    def added(values: npt.NDArray[Any]) -> Floats:
        """Per target, the sum of its parts' `values` (one column per metric when 2-D)."""
        if values.ndim == 1:
            return np.bincount(targets, weights=values, minlength=size).astype(np.float64, copy=False)
        return np.column_stack([added(values[:, metric]) for metric in range(values.shape[1])])

    n = np.rint(added(parts.n.astype(np.float64))).astype(np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(n > 0, added(parts.n * parts.mean) / n, 0.0)
    # The parts' own spreads, plus how far each part's mean lies from the union's.
    shift = parts.mean - mean[targets]
    m2 = added(parts.m2 + parts.n * shift * shift)
    minimum = np.full((size, _METRICS), np.inf)
    np.minimum.at(minimum, targets, parts.minimum)
    maximum = np.full((size, _METRICS), -np.inf)
    np.maximum.at(maximum, targets, parts.maximum)
    count = np.rint(added(parts.count.astype(np.float64))).astype(np.int64)
    failed = np.rint(added(parts.failed.astype(np.float64))).astype(np.int64)
    bins = _binned(targets[parts.bin_group], parts.bin_code, parts.bin_count)
    return Summaries(count, failed, n, mean, m2, minimum, maximum, *bins)


def select(summaries: Summaries, groups: Ints) -> Summaries:
    """The summaries of `groups` (positions in `summaries`, ascending), in that order, as they are."""
    position = np.full(summaries.size, -1, dtype=np.int64)
    position[groups] = np.arange(len(groups), dtype=np.int64)
    renumbered = position[summaries.bin_group]
    kept = renumbered >= 0
    # Ascending positions keep the bins sorted by (group, code).
    return Summaries(
        **{name: getattr(summaries, name)[groups] for name in _GROUP_FIELDS},
        bin_group=renumbered[kept],
        bin_code=summaries.bin_code[kept],
        bin_count=summaries.bin_count[kept],
    )


def concatenate(pieces: Sequence[Summaries]) -> Summaries:
    """One Summaries holding every piece's groups, in order."""
    offsets = np.cumsum([0, *(piece.size for piece in pieces)])
    fields = {
        name: np.concatenate([getattr(piece, name) for piece in pieces]).reshape(
            -1, *getattr(pieces[0], name).shape[1:]
        )
        for name in _GROUP_FIELDS
    }
    return Summaries(
        **fields,
        bin_group=np.concatenate([piece.bin_group + offset for piece, offset in zip(pieces, offsets, strict=False)]),
        bin_code=np.concatenate([piece.bin_code for piece in pieces]),
        bin_count=np.concatenate([piece.bin_count for piece in pieces]),
    )


def percentiles(summaries: Summaries, fractions: Sequence[float]) -> Floats:
    """G x STATISTIC_METRICS x len(fractions) percentiles from the sketches, NaN where a metric has no value.

    The rank rule is numpy's linear one: at rank r = q (n - 1), the values of order floor(r) and
    ceil(r) are interpolated. Each comes from its bin within the relative accuracy, so their
    weighted mean is within it of numpy's; clamping into [minimum, maximum] only brings it nearer.
    """
    size, wanted = summaries.size, len(fractions)
    answer = np.full((size, _METRICS, wanted), np.nan)
    if not wanted or not len(summaries.bin_count):
        return answer
    # Bins are sorted by (group, metric, key): a running count over all of them, and where each
    # (group, metric)'s bins begin in it, find the bin of any order statistic by binary search.
    running = np.cumsum(summaries.bin_count)
    segment = summaries.bin_group * _METRICS + (summaries.bin_code >> _KEY_BITS)
    before = np.concatenate(([0], running))[np.searchsorted(segment, np.arange(size * _METRICS), side="left")]
    n = summaries.n.reshape(-1)
    ranks = np.maximum(n - 1, 0)[:, None] * np.asarray(fractions)[None, :]
    low, high = np.floor(ranks), np.ceil(ranks)
    keys = (summaries.bin_code & ((1 << _KEY_BITS) - 1)) - _KEY_BIAS

    def order_statistic(order: Floats) -> Floats:
        position = np.searchsorted(running, before[:, None] + order, side="right")
        return bin_values(keys[np.minimum(position, len(keys) - 1)])

    estimate = order_statistic(low) + (ranks - low) * (order_statistic(high) - order_statistic(low))
    bounded = np.clip(estimate, summaries.minimum.reshape(-1, 1), summaries.maximum.reshape(-1, 1))
    answer[:] = np.where(n[:, None] > 0, bounded, np.nan).reshape(size, _METRICS, wanted)
    return answer


def metric_stats(summaries: Summaries, asked: Sequence[float]) -> list[dict[str, MetricStats | None]]:
    """Each group's MetricStats per metric (None where it has no value), with its sketched
    percentiles for the percentiles `asked` (numbers in (0, 100))."""
    quantiles = percentiles(summaries, [q / 100 for q in asked]).tolist()
    # Plain lists first: indexing numpy arrays value by value costs more than the summaries.
    with np.errstate(invalid="ignore", divide="ignore"):
        spread = np.sqrt(np.maximum(summaries.m2, 0.0) / summaries.n).tolist()
    counts, means = summaries.n.tolist(), summaries.mean.tolist()
    lows, highs = summaries.minimum.tolist(), summaries.maximum.tolist()
    return [
        {
            name: MetricStats(
                count=counts[group][metric],
                mean=means[group][metric],
                minimum=lows[group][metric],
                maximum=highs[group][metric],
                stddev=spread[group][metric],
                percentiles=tuple(zip(asked, quantiles[group][metric], strict=True)),
            )
            if counts[group][metric]
            else None
            for metric, name in enumerate(STATISTIC_METRICS)
        }
        for group in range(summaries.size)
    ]


_HEADER = np.dtype(
    [
        ("count", "<i8"),
        ("failed", "<i8"),
        ("n", "<i8", (_METRICS,)),
        ("mean", "<f8", (_METRICS,)),
        ("m2", "<f8", (_METRICS,)),
        ("minimum", "<f8", (_METRICS,)),
        ("maximum", "<f8", (_METRICS,)),
    ]
)
_BIN_BYTES = 4 + 8  # a code as int32, a count as int64


def encode(summaries: Summaries) -> list[bytes]:
    """Each group's summary as bytes: a fixed header of counts and moments (little-endian), then
    its k bins' codes (int32) and counts (int64). `decode` reads them back."""
    headers = np.zeros(summaries.size, dtype=_HEADER)
    for name in _GROUP_FIELDS:
        headers[name] = getattr(summaries, name)
    bounds = np.searchsorted(summaries.bin_group, np.arange(summaries.size + 1), side="left").tolist()
    codes = summaries.bin_code.astype("<i4")
    counts = summaries.bin_count.astype("<i8")
    return [
        headers[group].tobytes() + codes[first:past].tobytes() + counts[first:past].tobytes()
        for group, (first, past) in enumerate(pairwise(bounds))
    ]


def decode(blobs: Sequence[bytes]) -> Summaries:
    """The summaries `encode` wrote, one group per blob, in order."""
    if not blobs:
        return Summaries.empty(0)
    size = _HEADER.itemsize
    headers = np.frombuffer(b"".join(blob[:size] for blob in blobs), dtype=_HEADER)
    lengths = [(len(blob) - size) // _BIN_BYTES for blob in blobs]
    codes = np.frombuffer(
        b"".join(blob[size : size + 4 * k] for blob, k in zip(blobs, lengths, strict=True)), dtype="<i4"
    )
    counts = np.frombuffer(b"".join(blob[size + 4 * k :] for blob, k in zip(blobs, lengths, strict=True)), dtype="<i8")
    return Summaries(
        **{name: np.array(headers[name]) for name in _GROUP_FIELDS},
        bin_group=np.repeat(np.arange(len(blobs), dtype=np.int64), lengths),
        bin_code=codes.astype(np.int64),
        bin_count=counts.astype(np.int64),
    )


def _binned(groups: Ints, codes: Ints, counts: Ints | None) -> tuple[Ints, Ints, Ints]:
    """Bins (group, code, count) added up per (group, code), sorted, empty ones dropped; each
    (group, code) counts once per occurrence when `counts` is None."""
    joined = (groups.astype(np.int64) << _CODE_BITS) | codes
    found, inverse = np.unique(joined, return_inverse=True)
    total = (
        np.bincount(inverse, weights=counts, minlength=len(found))
        if counts is not None
        else np.bincount(inverse, minlength=len(found))
    )
    total = np.rint(total).astype(np.int64)
    kept = total != 0
    found = found[kept]
    return found >> _CODE_BITS, found & ((1 << _CODE_BITS) - 1), total[kept]
