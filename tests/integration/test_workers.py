"""Two worker processes on one PostgreSQL: concurrent writers and readers get consistent answers,
and one scrape of /metrics counts the requests of both workers."""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from src.entrypoints.metrics import build_version
from tests.databases import scratch_database
from tests.integration.test_metrics_http import samples, total, value
from tests.processes import Server, running_server
from tests.support import record

KEY = "workers-key-0123456789"
WRITER = {"Authorization": f"Bearer {KEY}"}
LOAD_SECONDS = 4
# Bounds on each client's loop, whatever the machine's speed.
MOST_REQUESTS_PER_CLIENT = 400
BATCH = 10


class Clients:
    """HTTP clients of one server that count every answer they get; each request on a new connection,
    so that the kernel hands them to either worker."""

    def __init__(self, server: Server) -> None:
        self.url = server.url
        self.answers = 0
        self.statuses: set[int] = set()
        self._lock = threading.Lock()
        self._local = threading.local()
        self._opened: list[httpx.Client] = []

    def request(self, method: str, path: str, **options: Any) -> httpx.Response:
        client = getattr(self._local, "client", None)
        if client is None:
            no_reuse = httpx.Limits(max_keepalive_connections=0)
            client = self._local.client = httpx.Client(base_url=self.url, limits=no_reuse, timeout=60)
            with self._lock:
                self._opened.append(client)
        response = client.request(method, path, **options)
        with self._lock:
            self.answers += 1
            self.statuses.add(response.status_code)
        return response

    def close(self) -> None:
        for client in self._opened:
            client.close()


def results(prefix: str, first: int) -> list[dict[str, Any]]:
    moment = 1_717_200_000 + first
    return [
        record(f"{prefix}-{first + index:06d}", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(moment + index)))
        for index in range(BATCH)
    ]


def test_two_workers_answer_consistently_and_one_scrape_counts_both(tmp_path: Path) -> None:
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    with scratch_database("postgresql", tmp_path) as url:
        # TMPDIR: where the server makes its directory of metrics files, seen here.
        environment = {"SUPERBENCHMARK_DATABASE_URL": url, "SUPERBENCHMARK_API_KEYS": KEY, "TMPDIR": str(temporary)}
        with running_server(environment, tmp_path, "--workers", "2", "--log-level", "warning") as server:
            clients = Clients(server)
            before = samples(clients.request("GET", "/metrics").text)
            counted_before = clients.answers
            stored: list[int] = []
            counts: dict[str, list[int]] = {}
            end = time.monotonic() + LOAD_SECONDS

            def post_results(name: str) -> None:
                for turn in range(MOST_REQUESTS_PER_CLIENT):
                    if time.monotonic() > end:
                        return
                    answer = clients.request("POST", "/results", json=results(name, turn * BATCH), headers=WRITER)
                    stored.append(answer.json()["stored"] if answer.status_code == 201 else 0)

            def import_results(name: str) -> None:
                for turn in range(MOST_REQUESTS_PER_CLIENT):
                    if time.monotonic() > end:
                        return
                    body = b"".join(json.dumps(line).encode() + b"\n" for line in results(name, turn * BATCH))
                    headers = WRITER | {"Content-Type": "application/x-ndjson"}
                    answer = clients.request("POST", "/results/import", content=body, headers=headers)
                    stored.append(answer.json()["stored"] if answer.status_code == 200 else 0)

            def read_averages(name: str) -> None:
                seen = counts.setdefault(name, [])
                for _ in range(MOST_REQUESTS_PER_CLIENT):
                    if time.monotonic() > end:
                        return
                    answer = clients.request("GET", "/results/average")
                    if answer.status_code == 200:
                        seen.append(answer.json()["count"])

            def read_statistics(_name: str) -> None:
                for _ in range(MOST_REQUESTS_PER_CLIENT):
                    if time.monotonic() > end:
                        return
                    clients.request("GET", "/results/stats", params={"percentiles": "50,99"})

            work: list[tuple[Callable[[str], None], str]] = [
                (post_results, "posted"),
                (import_results, "imported"),
                (read_averages, "reader-1"),
                (read_averages, "reader-2"),
                (read_statistics, "statistics"),
            ]
            threads = [threading.Thread(target=task, args=(name,)) for task, name in work]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=LOAD_SECONDS + 120)
            assert not any(thread.is_alive() for thread in threads)
            final = clients.request("GET", "/results/average").json()["count"]
            # A request is counted just after its answer is sent, so the last one may not be yet
            # when the next scrape reaches the other worker: scrape until every answer is counted.
            for _ in range(50):
                counted = clients.answers - counted_before
                after = samples(clients.request("GET", "/metrics").text)
                if (
                    total(after, "superbenchmark_http_requests_total")
                    - total(before, "superbenchmark_http_requests_total")
                    == counted + 1
                ):
                    break
                time.sleep(0.1)
            files = list(temporary.glob("superbenchmark-metrics-*/counter_*.db"))
            clients.close()
            status, stderr = server.stop()

    assert clients.statuses <= {200, 201}, clients.statuses
    assert all(count == BATCH for count in stored)
    assert final == sum(stored) > 0
    for name in ("reader-1", "reader-2"):
        assert counts[name], name
        # Each reader sees the results grow, never shrink.
        assert all(earlier <= later for earlier, later in itertools.pairwise(counts[name])), name
        assert counts[name][-1] <= final
    # The first scrape is counted once it is answered: in the second scrape, not the first.
    requests = "superbenchmark_http_requests_total"
    assert total(after, requests) - total(before, requests) == counted + 1
    assert not any(sample == requests and dict(labels)["status"][0] == "5" for sample, labels in after)
    assert value(after, "superbenchmark_build_info", version=build_version()) == 1
    # Both workers answered requests: each kept counters in a file of its own.
    assert len({path.name for path in files}) == 2
    assert status == 0, stderr
    assert not list(temporary.glob("superbenchmark-metrics-*")), "the metrics directory is removed at exit"
