"""PostgresReplicaLag: how far a PostgreSQL hot standby's replayed data trails its primary."""

from __future__ import annotations

import psycopg

from src.adapters.sql_store.database import CONNECT_TIMEOUT_SECONDS, database_url, driver_reason
from src.application.ports.replica_lag import ReplicaLag
from src.domain.errors import StoreUnavailable

# A standby that has replayed everything it received is as current as it can be: 0, however long
# ago the primary last committed. Otherwise the time since the last replayed commit, which is what
# a reader of the standby misses at most. NULL on a server that is no standby, or that has replayed
# no transaction since it started.
LAG_QUERY = """
SELECT CASE
    WHEN NOT pg_is_in_recovery() THEN NULL
    WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
    ELSE EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())
END
"""


class PostgresReplicaLag(ReplicaLag):
    """Asks on a connection of its own, opened per question: the readiness probe asks every few
    seconds at most, and a fresh connection has no broken state to recover from after an outage."""

    def __init__(self, url: str) -> None:
        # psycopg takes the URL without SQLAlchemy's driver name (postgresql+psycopg://...).
        self._conninfo = database_url(url).set(drivername="postgresql").render_as_string(hide_password=False)

    def seconds(self) -> float | None:
        try:
            with psycopg.connect(
                self._conninfo,
                autocommit=True,
                connect_timeout=CONNECT_TIMEOUT_SECONDS,
                application_name="superbenchmark",
            ) as connection:
                row = connection.execute(LAG_QUERY).fetchone()
        except psycopg.Error as error:
            raise StoreUnavailable(driver_reason(error)) from error
        lag = None if row is None else row[0]
        # now() is the standby's clock, the replay timestamp the primary's: a standby clock a little
        # behind would make a lag below 0.
        return None if lag is None else max(0.0, float(lag))
