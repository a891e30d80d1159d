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
    return Summaries(count, failed, n, mean, m2, minimum, maximum, *_merged_bins(parts, targets, size))


_MOST_SPLICED = 256
"""Up to this many targets taking several parts are added up one slice each; beyond it, in one
sort of every bin (which a Python loop over thousands of slices would cost more than)."""


def _merged_bins(parts: Summaries, targets: Ints, size: int) -> tuple[Ints, Ints, Ints]:
    """The parts' bins added up per target, sorted by (target, code).

    Each part's bins are sorted already. Put in target order (a time series' stored buckets come
    so; a window's edges are moved next to their bucket), each target's bins lie together, so
    only targets that take several parts need their bins added up, and the rest pass through:
    a year's 365 days merge in about a millisecond where sorting every bin took 18.
    """
    bounds = np.searchsorted(parts.bin_group, np.arange(parts.size + 1))
    lengths = np.diff(bounds)
    codes, counts = parts.bin_code, parts.bin_count
    # Only parts with bins have a place in the bin arrays; empty ones (failures only) have none.
    order = np.flatnonzero(lengths)
    if np.any(np.diff(targets[order]) < 0):
        order = order[np.argsort(targets[order], kind="stable")]
        # Gather the parts' bin ranges in target order: each bin's index is its part's first
        # bin plus its rank inside the part.
        moved = lengths[order]
        index = np.repeat(bounds[order] - (np.cumsum(moved) - moved), moved) + np.arange(int(moved.sum()))
        codes, counts = codes[index], counts[index]
    groups = np.repeat(targets[order], lengths[order])
    shared = np.flatnonzero(np.bincount(targets, weights=lengths > 0, minlength=size) > 1)
    if not len(shared):
        return groups, codes, counts
    if len(shared) > _MOST_SPLICED:
        return _binned(groups, codes, counts)
    # Each shared target's bins are one slice: added up there, spliced between the others.
    starts, pasts = np.searchsorted(groups, shared, "left").tolist(), np.searchsorted(groups, shared, "right").tolist()
    columns = (groups, codes, counts)
    pieces: list[tuple[Ints, ...]] = []
    done = 0
    for first, past in zip(starts, pasts, strict=True):
        pieces.append(tuple(column[done:first] for column in columns))
        pieces.append(_binned(*(column[first:past] for column in columns)))
        done = past
    pieces.append(tuple(column[done:] for column in columns))
    merged_groups, merged_codes, merged_counts = (np.concatenate(column) for column in zip(*pieces, strict=True))
    return merged_groups, merged_codes, merged_counts


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

    def order_statistic(order: Floats) -> Floats:
        position = np.searchsorted(running, before[:, None] + order, side="right")
        # Keys decoded at the bins found only, not at every bin of a year.
        codes = summaries.bin_code[np.minimum(position, len(running) - 1)]
        return bin_values((codes & ((1 << _KEY_BITS) - 1)) - _KEY_BIAS)

    below = order_statistic(low)
    estimate = below + (ranks - low) * (order_statistic(high) - below)
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
    # Positional arguments: a year's 365 buckets build 2,190 of them, and keywords cost a frozen
    # dataclass twice the time.
    return [
        {
            name: MetricStats(n, mean, low, high, stddev, tuple(zip(asked, values, strict=True))) if n else None
            for name, n, mean, low, high, stddev, values in zip(STATISTIC_METRICS, *group_columns, strict=True)
        }
        for group_columns in zip(counts, means, lows, highs, spread, quantiles, strict=True)
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
BIN_COUNT_TYPE = "<u4"
"""How a bin's count is stored: 4 bytes (from schema revision 0005; 8 before, a third more data
to read and decode). A count past 2^32 - 1 is stored as several bins of the same key."""
_MOST_IN_A_BIN = np.iinfo(BIN_COUNT_TYPE).max


def encode(summaries: Summaries) -> list[bytes]:
    """Each group's summary as bytes: a fixed header of counts and moments (little-endian), then
    its k bins' codes (int32) and counts (BIN_COUNT_TYPE). `decode` reads them back."""
    headers = np.zeros(summaries.size, dtype=_HEADER)
    for name in _GROUP_FIELDS:
        headers[name] = getattr(summaries, name)
    groups, codes, counts = summaries.bin_group, summaries.bin_code, summaries.bin_count
    if len(counts) and int(counts.max()) > _MOST_IN_A_BIN:
        # Rare (4.3 billion values within 1% of each other in one bucket): each such bin becomes
        # several full ones and the rest, which add back up wherever bins are merged.
        pieces = -(-counts // _MOST_IN_A_BIN)
        last = np.cumsum(pieces) - 1
        groups, codes = np.repeat(groups, pieces), np.repeat(codes, pieces)
        counts = np.full(len(codes), _MOST_IN_A_BIN, dtype=np.int64)
        counts[last] = summaries.bin_count - (pieces - 1) * _MOST_IN_A_BIN
    bounds = np.searchsorted(groups, np.arange(summaries.size + 1), side="left").tolist()
    stored_codes, stored_counts = codes.astype("<i4"), counts.astype(BIN_COUNT_TYPE)
    return [
        headers[group].tobytes() + stored_codes[first:past].tobytes() + stored_counts[first:past].tobytes()
        for group, (first, past) in enumerate(pairwise(bounds))
    ]


def decode(blobs: Sequence[bytes], count_type: str = BIN_COUNT_TYPE) -> Summaries:
    """The summaries `encode` wrote, one group per blob, in order; `count_type` "<i8" reads those
    of schema revision 0004."""
    if not blobs:
        return Summaries.empty(0)
    # Every field is a whole number of 4-byte words: the blobs are read as one array of words,
    # each word labelled header, code or count by numpy. Slicing each blob in Python cost 3 us a
    # blob, which a compaction of some 600,000 small parts felt.
    header_words, count_words = _HEADER.itemsize // 4, np.dtype(count_type).itemsize // 4
    words = np.frombuffer(b"".join(blobs), "<u4")
    lengths = np.fromiter(map(len, blobs), np.int64, len(blobs)) // 4
    bins = (lengths - header_words) // (1 + count_words)
    segments = np.column_stack([np.full(len(blobs), header_words), bins, bins * count_words]).reshape(-1)
    kind = np.repeat(np.tile(np.arange(3, dtype=np.uint8), len(blobs)), segments)
    headers = words[kind == 0].view(_HEADER)
    return Summaries(
        **{name: np.array(headers[name]) for name in _GROUP_FIELDS},
        bin_group=np.repeat(np.arange(len(blobs), dtype=np.int64), bins),
        bin_code=words[kind == 1].view("<i4").astype(np.int64),
        bin_count=words[kind == 2].view(count_type).astype(np.int64, copy=False),
    )


def result_count(blobs: Sequence[bytes]) -> int:
    """How many results (successful and failed) the encoded summaries hold together, read from
    their headers alone."""
    headers = _headers(blobs)
    return int(headers["count"].sum() + headers["failed"].sum())


def _headers(blobs: Sequence[bytes]) -> npt.NDArray[np.void]:
    """The fixed headers (_HEADER) of encoded summaries, one record each."""
    return np.frombuffer(b"".join(blob[: _HEADER.itemsize] for blob in blobs), dtype=_HEADER)


def _binned(groups: Ints, codes: Ints, counts: Ints | None) -> tuple[Ints, Ints, Ints]:
    """Bins (group, code, count) added up per (group, code), sorted, empty ones dropped; each
    (group, code) counts once per occurrence when `counts` is None."""
    joined = (groups.astype(np.int64) << _CODE_BITS) | codes
    # A stable sort (timsort for 64-bit integers) runs in about linear time over the sorted runs
    # that stored summaries' bins arrive in: merging a year's days cost 16 ms in np.unique's
    # quicksort and 1 ms so. On unordered rows it costs about what quicksort does.
    order = np.argsort(joined, kind="stable")
    ordered = joined[order]
    starts = np.flatnonzero(np.concatenate(([True], ordered[1:] != ordered[:-1]))) if len(ordered) else order
    found = ordered[starts]
    total = (
        np.add.reduceat(counts[order], starts)
        if counts is not None and len(starts)
        else np.diff(np.append(starts, len(ordered)))
    )
    total = total.astype(np.int64, copy=False)
    kept = total != 0
    found = found[kept]
    return found >> _CODE_BITS, found & ((1 << _CODE_BITS) - 1), total[kept]
