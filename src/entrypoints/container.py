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
from src.adapters.replicated_store import ReplicatedResultStore
from src.application.average_results import AverageOverAllResults, AverageOverWindow
from src.application.import_results import ImportResults
from src.application.ports.replica_lag import ReplicaLag
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


def open_sql_store(url: str, exact_percentile_results: int, averages_mirror_results: int = 0) -> ResultStore:
    # Imported when chosen: SQLAlchemy and psycopg would add a third of a second to every DEBUG startup.
    from src.adapters.sql_store.database import database_url  # noqa: PLC0415 - imported late on purpose, see above
    from src.adapters.sql_store.stores import open_sql_store as open_store  # noqa: PLC0415 - imported late on purpose, see above

    return open_store(
        database_url(url),
        exact_percentile_results=exact_percentile_results,
        averages_mirror_results=averages_mirror_results,
    )


def open_replica_lag(url: str) -> ReplicaLag:
    # Imported when chosen, as the SQL store is (above).
    from src.adapters.replica_lag import PostgresReplicaLag  # noqa: PLC0415 - imported late on purpose, see above

    return PostgresReplicaLag(url)


class Container(containers.DeclarativeContainer):
    config = providers.Configuration(strict=True)

    # The store every write goes to (the primary), and every read too unless there is a read replica.
    result_store = providers.Selector(
        config.result_store,
        json_file=providers.Singleton(JsonFileResultStore.load, path=config.data_file),
        sql=providers.Singleton(
            open_sql_store,
            url=config.database_url,
            exact_percentile_results=config.exact_percentile_results,
            averages_mirror_results=config.averages_mirror_results,
        ),
        production_placeholder=providers.Singleton(ProductionPlaceholderStore),
    )
    # The store reads go to. Writers, and the import (which reads what its ids already name right
    # after writing), keep to result_store: a replica may not have replayed a write yet.
    read_store = providers.Selector(
        config.read_store,
        primary=result_store,
        replica=providers.Singleton(
            ReplicatedResultStore,
            primary=result_store,
            # A standby cannot LISTEN: the replica answers averages itself, without a copy.
            replica=providers.Singleton(
                open_sql_store,
                url=config.read_database_url,
                exact_percentile_results=config.exact_percentile_results,
            ),
        ),
    )
    replica_lag = providers.Selector(
        config.read_store,
        primary=providers.Object(None),
        replica=providers.Singleton(open_replica_lag, url=config.read_database_url),
    )
    metrics = providers.Singleton(Metrics)
    # What the use cases get: the chosen stores (or those a test put in their place), each call timed.
    measured_store = providers.Singleton(
        MeasuredResultStore, store=result_store, observe=metrics.provided.observe_store_call
    )
    measured_read_store = providers.Singleton(
        MeasuredResultStore, store=read_store, observe=metrics.provided.observe_store_call
    )
    # Use cases hold no state of their own, so one of each serves every request.
    average_over_all = providers.Singleton(AverageOverAllResults, results=measured_read_store)
    average_over_window = providers.Singleton(AverageOverWindow, results=measured_read_store)
    get_result = providers.Singleton(GetResult, results=measured_read_store)
    list_results = providers.Singleton(ListResults, results=measured_read_store)
    describe_results = providers.Singleton(DescribeResults, results=measured_read_store)
    follow_results_over_time = providers.Singleton(FollowResultsOverTime, results=measured_read_store)
    compare_results = providers.Singleton(
        CompareResults, results=measured_read_store, max_results=config.max_statistics_results
    )
    describe_distribution = providers.Singleton(
        DescribeDistribution, results=measured_read_store, max_results=config.max_statistics_results
    )
    check_readiness = providers.Singleton(CheckReadiness, results=measured_store, replica_lag=replica_lag)
    list_runs = providers.Singleton(ListRuns, results=measured_read_store)
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
