"""Use cases over runs: list them (newest first, a page at a time) and delete one."""

from __future__ import annotations

from src.application.ports.result_store import ResultStore, RunPage, RunQuery
from src.domain.errors import RunNotFound


class ListRuns:
    """GET /runs: every run the selected results form, newest first."""

    def __init__(self, results: ResultStore) -> None:
        self._results = results

    def __call__(self, query: RunQuery) -> RunPage:
        return self._results.runs(query)


class DeleteRun:
    """DELETE /runs/{run}: remove a run's results; how many. Raises RunNotFound for an unknown run."""

    def __init__(self, results: ResultStore) -> None:
        self._results = results

    def __call__(self, run: str) -> int:
        removed = self._results.delete_run(run)
        if not removed:
            raise RunNotFound(run)
        return removed
