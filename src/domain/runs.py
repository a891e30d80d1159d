"""Runs: the results one load test produced, named by their `run` label (importers set it)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from src.domain.benchmark_result import BenchmarkResult

RUN_LABEL = "run"
TOOL_LABEL = "tool"


@dataclass(frozen=True, slots=True, order=True)
class RunKey:
    """Runs are listed newest first: by their last result's timestamp, then by name, descending.
    A page resumes after its predecessor's last key."""

    last: datetime
    run: str


@dataclass(frozen=True, slots=True)
class RunSummary:
    """One run: how many of its results succeeded (`count`) and failed, the timestamps of its
    first and last result, the model when all its results name the same one (else None), and the
    labels every one of its results carries (the run's settings; per-request labels drop out)."""

    run: str
    count: int
    failed: int
    first: datetime
    last: datetime
    model: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)

    @property
    def tool(self) -> str | None:
        """The tool that wrote the run's files, as its importer labelled it."""
        return self.labels.get(TOOL_LABEL)

    @property
    def key(self) -> RunKey:
        return RunKey(self.last, self.run)


def summarize_runs(results: Iterable[BenchmarkResult]) -> list[RunSummary]:
    """The reference: every run among `results` (those without a `run` label belong to none),
    newest first. Stores compute the same where their data lives."""
    members: dict[str, list[BenchmarkResult]] = {}
    for result in results:
        run = result.labels.get(RUN_LABEL)
        if run is not None:
            members.setdefault(run, []).append(result)
    summaries = []
    for run, found in members.items():
        models = {result.model for result in found}
        common = dict(found[0].labels)
        for result in found[1:]:
            common = {key: value for key, value in common.items() if result.labels.get(key) == value}
        failed = sum(not result.succeeded for result in found)
        summaries.append(
            RunSummary(
                run=run,
                count=len(found) - failed,
                failed=failed,
                first=min(result.timestamp for result in found),
                last=max(result.timestamp for result in found),
                model=models.pop() if len(models) == 1 else None,
                labels=dict(sorted(common.items())),
            )
        )
    return sorted(summaries, key=lambda summary: summary.key, reverse=True)
