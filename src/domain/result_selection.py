"""Which results a question is about (window, model, labels), and how they are grouped."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from src.domain.benchmark_result import (
    LABEL_SEPARATOR,
    MAX_LABEL_KEY_LENGTH,
    MAX_LABEL_VALUE_LENGTH,
    MAX_LABELS,
    BenchmarkResult,
    storable_text,
)
from src.domain.errors import InvalidStatisticsQuery, shown
from src.domain.time_window import TimeWindow


@dataclass(frozen=True, slots=True)
class ResultFilter:
    """Results in the window (all time if None), of the model (any if None), carrying every label."""

    window: TimeWindow | None = None
    model: str | None = None
    labels: tuple[tuple[str, str], ...] = ()

    @property
    def selects_nothing(self) -> bool:
        """True when the model or a label names a text no stored result holds (NUL): then no result
        matches, whatever the store, and a store need not ask a database that would refuse the text."""
        texts = [text for key, value in self.labels for text in (key, value)]
        return not all(map(storable_text, texts if self.model is None else [self.model, *texts]))

    def matches(self, result: BenchmarkResult) -> bool:
        return (self.window is None or result.timestamp in self.window) and self.admits(result.model, result.labels)

    def admits(self, model: str | None, labels: Mapping[str, str] | None) -> bool:
        """Whether a result of this model carrying these labels (None: no labels) passes the
        model and label filters; the window is checked apart."""
        return (self.model is None or model == self.model) and all(
            labels is not None and labels.get(key) == value for key, value in self.labels
        )


def parse_label(text: str, parameter: str = "label") -> tuple[str, str]:
    """A label filter written key:value; the value may itself hold colons, the key may not."""
    key, separator, value = text.partition(LABEL_SEPARATOR)
    if not separator or not key:
        raise InvalidStatisticsQuery(parameter, f"{shown(text)} is not of the form key:value")
    if len(key) > MAX_LABEL_KEY_LENGTH or len(value) > MAX_LABEL_VALUE_LENGTH:
        raise InvalidStatisticsQuery(
            parameter, f"keys hold at most {MAX_LABEL_KEY_LENGTH} characters and values {MAX_LABEL_VALUE_LENGTH}"
        )
    return key, value


def parse_labels(texts: list[str], parameter: str = "label") -> tuple[tuple[str, str], ...]:
    """Several label filters, all of which a result must carry."""
    if len(texts) > MAX_LABELS:
        raise InvalidStatisticsQuery(parameter, f"at most {MAX_LABELS} label filters, not {len(texts)}")
    labels = dict(parse_label(text, parameter) for text in texts)
    if len(labels) < len(texts):
        raise InvalidStatisticsQuery(parameter, "a label key is given twice; a result carries one value per key")
    return tuple(sorted(labels.items()))


@dataclass(frozen=True, slots=True)
class Grouping:
    """Results grouped by their model, or by the value of one label; None is the group of results
    without a model, or without that label."""

    label_key: str | None = None
    """The label whose values form the groups; None groups by model."""

    @classmethod
    def parse(cls, text: str) -> Grouping:
        """ "model" or "label:<key>"."""
        if text == "model":
            return cls()
        kind, _, key = text.partition(LABEL_SEPARATOR)
        if kind == "label" and key and LABEL_SEPARATOR not in key and len(key) <= MAX_LABEL_KEY_LENGTH:
            return cls(key)
        raise InvalidStatisticsQuery("group_by", f"{shown(text)} is neither model nor label:<key>")

    @property
    def always_none(self) -> bool:
        """True when the label named holds a text no stored result's label key holds (NUL): every
        result then falls in the None group."""
        return self.label_key is not None and not storable_text(self.label_key)

    @property
    def name(self) -> str:
        return "model" if self.label_key is None else f"label{LABEL_SEPARATOR}{self.label_key}"

    def key_of(self, result: BenchmarkResult) -> str | None:
        return self.key_among(result.model, result.labels)

    def key_among(self, model: str | None, labels: Mapping[str, str] | None) -> str | None:
        """The group of a result of this model carrying these labels (None: no labels)."""
        if self.label_key is None:
            return model
        return None if labels is None else labels.get(self.label_key)
