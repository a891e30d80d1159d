"""The production store until a database is configured: it refuses every query, loudly."""

from __future__ import annotations

from src.application.ports.result_store import ResultStore
from src.domain.errors import ProductionStoreNotConfigured
from src.domain.result_aggregate import ResultAggregate
from src.domain.time_window import TimeWindow


class ProductionPlaceholderStore(ResultStore):
    def aggregate(self, window: TimeWindow | None = None) -> ResultAggregate:
        raise ProductionStoreNotConfigured()
