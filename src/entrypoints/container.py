"""The composition root: which store and which use cases, chosen from settings."""

from __future__ import annotations

from dependency_injector import containers, providers

from src.adapters.importers.aiperf import AiperfReader
from src.adapters.importers.genai_perf import GenaiPerfReader
from src.adapters.importers.guidellm import GuidellmReader
from src.adapters.importers.llm_load_test import LlmLoadTestReader
from src.adapters.importers.llmperf import LlmperfReader
from src.adapters.importers.seed_formats import NdjsonReader, SeedReader
from src.adapters.importers.sglang import SglangReader
from src.adapters.importers.vllm import VllmReader
from src.adapters.json_store.store import JsonFileResultStore
from src.adapters.measured_store import MeasuredResultStore
from src.adapters.production_placeholder import ProductionPlaceholderStore
from src.application.average_results import AverageOverAllResults, AverageOverWindow
from src.application.import_results import ImportResults
from src.application.ports.result_store import ResultStore
from src.application.read_results import CheckReadiness, GetResult, ListResults
from src.application.result_statistics import (
    CompareResults,
    DescribeDistribution,
    DescribeResults,
    FollowResultsOverTime,
)
from src.application.runs import DeleteRun, ListRuns
from src.application.store_results import StoreResults
from src.entrypoints.metrics import Metrics


def open_sql_store(url: str) -> ResultStore:
    # Imported when chosen: SQLAlchemy and psycopg would add a third of a second to every DEBUG startup.
    from src.adapters.sql_store.database import database_url  # noqa: PLC0415 - imported late on purpose, see above
    from src.adapters.sql_store.store import SqlResultStore  # noqa: PLC0415 - imported late on purpose, see above

    return SqlResultStore.open(database_url(url))


class Container(containers.DeclarativeContainer):
    config = providers.Configuration(strict=True)

    result_store = providers.Selector(
        config.result_store,
        json_file=providers.Singleton(JsonFileResultStore.load, path=config.data_file),
        sql=providers.Singleton(open_sql_store, url=config.database_url),
        production_placeholder=providers.Singleton(ProductionPlaceholderStore),
    )
    metrics = providers.Singleton(Metrics)
    # What the use cases get: the chosen store (or the one a test put in its place), each call timed.
    measured_store = providers.Singleton(
        MeasuredResultStore, store=result_store, observe=metrics.provided.observe_store_call
    )
    # Use cases hold no state of their own, so one of each serves every request.
    average_over_all = providers.Singleton(AverageOverAllResults, results=measured_store)
    average_over_window = providers.Singleton(AverageOverWindow, results=measured_store)
    get_result = providers.Singleton(GetResult, results=measured_store)
    list_results = providers.Singleton(ListResults, results=measured_store)
    describe_results = providers.Singleton(
        DescribeResults, results=measured_store, max_results=config.max_statistics_results
    )
    follow_results_over_time = providers.Singleton(
        FollowResultsOverTime, results=measured_store, max_results=config.max_statistics_results
    )
    compare_results = providers.Singleton(
        CompareResults, results=measured_store, max_results=config.max_statistics_results
    )
    describe_distribution = providers.Singleton(
        DescribeDistribution, results=measured_store, max_results=config.max_statistics_results
    )
    check_readiness = providers.Singleton(CheckReadiness, results=measured_store)
    list_runs = providers.Singleton(ListRuns, results=measured_store)
    delete_run = providers.Singleton(DeleteRun, results=measured_store)
    store_results = providers.Singleton(StoreResults, results=measured_store)
    # Auto-detection tries the readers in this order; each recognizes its format by leading keys.
    readers = providers.List(
        providers.Singleton(SeedReader),
        providers.Singleton(NdjsonReader),
        providers.Singleton(VllmReader),
        providers.Singleton(SglangReader),
        providers.Singleton(LlmLoadTestReader),
        providers.Singleton(LlmperfReader),
        providers.Singleton(AiperfReader),
        providers.Singleton(GenaiPerfReader),
        providers.Singleton(GuidellmReader),
    )
    import_results = providers.Singleton(
        ImportResults, results=measured_store, readers=readers, batch_rows=config.import_batch_rows
    )
