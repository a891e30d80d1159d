"""The composition root: which store and which use cases, chosen from settings."""

from __future__ import annotations

from dependency_injector import containers, providers

from src.adapters.json_store.store import JsonFileResultStore
from src.adapters.production_placeholder import ProductionPlaceholderStore
from src.application.average_results import AverageOverAllResults, AverageOverWindow


class Container(containers.DeclarativeContainer):
    config = providers.Configuration(strict=True)

    result_store = providers.Selector(
        config.result_store,
        json_file=providers.Singleton(JsonFileResultStore.load, path=config.data_file),
        production_placeholder=providers.Singleton(ProductionPlaceholderStore),
    )

    # Use cases hold no state of their own, so one of each serves every request.
    average_over_all = providers.Singleton(AverageOverAllResults, results=result_store)
    average_over_window = providers.Singleton(AverageOverWindow, results=result_store)
