"""The dashboard in a real browser (headless Chromium through Selenium) against real server processes:
the DEBUG store on the seed file, SQLite holding imported tool files and a synthetic concurrency
sweep, a store that is down, and reads behind a key.

Every page loads with no console error, at a laptop's and a phone's width; each chart has drawn
its data, and the numbers on screen equal the API's for the same view; links hold the state; the
key prompt works; `superbenchmark view` serves a run's page. A screenshot of each page is saved
under $BROWSER_SCREENSHOTS_DIR, or else under pytest's base temporary directory, in
`browser-screenshots/`.

Chromium and its driver are Debian's (`apt-get install -y chromium chromium-driver`); CI installs
them, and without them these tests fail, saying so.
"""

from __future__ import annotations

import json
import math
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from selenium.webdriver import Chrome as WebDriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

from src.entrypoints.http.dashboard import load_static_files
from tests.databases import scratch_database
from tests.integration.importers.tool_reading import EXAMPLES
from tests.integration.test_serve import free_port, start
from tests.support import SEED_FILE

ROOT = SEED_FILE.parent
KEY = "dashboard-test-key-0123456789"
WRITER = {"Authorization": f"Bearer {KEY}"}
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
INSTALL = "apt-get install -y chromium chromium-driver"
LAPTOP = (1366, 900)
PHONE = (390, 844)
CONCURRENCIES = (1, 2, 4, 8, 16)
VLLM = EXAMPLES / "vllm-bench-serve-example.json"
LATENCIES = ("time_to_first_token", "time_per_output_token", "total_generation_time")
HEADLINE = (*LATENCIES, "output_throughput", "token_count", "prompt_token_count")
WAIT_SECONDS = 30


# --- servers ---------------------------------------------------------------------------------


class Server:
    """A real `python -m src.entrypoints.serve` process on a free port."""

    def __init__(self, environment: dict[str, str], cwd: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = start(environment, self.port, cwd)
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{self.url}/healthz")
                break
            except httpx.TransportError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the server did not start: {self.process.communicate()[1]}") from None
                time.sleep(0.1)

    def api(self, path: str, **params: Any) -> dict[str, Any]:
        response = httpx.get(f"{self.url}{path}", params=params, headers=WRITER, timeout=30)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def stop(self) -> None:
        self.process.terminate()
        self.process.communicate(timeout=30)


@pytest.fixture(scope="module")
def debug_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = Server(
        {"SUPERBENCHMARK_DEBUG": "true", "SUPERBENCHMARK_DATA_FILE": str(SEED_FILE)}, tmp_path_factory.mktemp("debug")
    )
    yield server
    server.stop()


@pytest.fixture(scope="module")
def sqlite_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    directory = tmp_path_factory.mktemp("sqlite")
    with scratch_database("sqlite", directory) as url:
        server = Server({"SUPERBENCHMARK_DATABASE_URL": url, "SUPERBENCHMARK_API_KEYS": KEY}, directory)
        try:
            imported(server, VLLM)
            imported(
                server,
                EXAMPLES / "llmperf-example_individual_responses.json",
                EXAMPLES / "llmperf-example_summary.json",
            )
            imported(server, EXAMPLES / "aiperf-profile_export-example.jsonl")
            imported(server, EXAMPLES / "guidellm-benchmarks-example.json")
            response = httpx.post(
                f"{server.url}/results/import",
                content=sweep_lines(),
                headers=WRITER | {"Content-Type": "application/x-ndjson"},
                timeout=60,
            )
            assert response.status_code == 200, response.text
            yield server
        finally:
            server.stop()


@pytest.fixture(scope="module")
def down_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """No store configured: every read answers 503, as when the database is down."""
    server = Server({}, tmp_path_factory.mktemp("down"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def keyed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = Server(
        {
            "SUPERBENCHMARK_DEBUG": "true",
            "SUPERBENCHMARK_DATA_FILE": str(SEED_FILE),
            "SUPERBENCHMARK_API_KEYS": KEY,
            "SUPERBENCHMARK_READ_REQUIRES_KEY": "true",
        },
        tmp_path_factory.mktemp("keyed"),
    )
    yield server
    server.stop()


def imported(server: Server, *paths: Path) -> None:
    files = [("files", (path.name, path.read_bytes())) for path in paths]
    response = httpx.post(f"{server.url}/results/import", files=files, headers=WRITER, timeout=60)
    assert response.status_code == 200, response.text


def sweep_lines() -> bytes:
    """Five runs of one model at concurrency 1 to 16: slower and busier as concurrency grows."""
    lines = []
    for concurrency in CONCURRENCIES:
        rng = random.Random(concurrency)
        begin = datetime(2025, 3, 1, 10, tzinfo=UTC) + timedelta(hours=concurrency)
        for i in range(120):
            record: dict[str, Any] = {
                "request_id": f"sweep-c{concurrency}-{i}",
                "timestamp": (begin + timedelta(seconds=i * 6.0 / concurrency)).isoformat(),
                "model": "demo-model",
                "labels": {"run": f"sweep-c{concurrency}", "max_concurrency": str(concurrency), "sweep": "demo"},
            }
            if i % 40 == 7:
                record["error"] = "timeout"
            else:
                tokens = rng.randint(100, 300)
                ttft = 80 * (1 + 0.3 * concurrency) * rng.lognormvariate(0, 0.3)
                tpot = 10 * (1 + 0.15 * concurrency) * rng.lognormvariate(0, 0.2)
                record |= {
                    "token_count": tokens,
                    "time_to_first_token": ttft,
                    "time_per_output_token": tpot,
                    "total_generation_time": ttft + tpot * (tokens - 1),
                }
            lines.append(json.dumps(record))
    return "\n".join(lines).encode()


# --- the browser -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDriver]:
    if not (Path(CHROMIUM).is_file() and Path(CHROMEDRIVER).is_file()):
        pytest.fail(f"the browser tests need Chromium and its driver: install them with `{INSTALL}`")
    options = Options()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
        f"--window-size={LAPTOP[0]},{LAPTOP[1]}",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = WebDriver(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    chosen = os.environ.get("BROWSER_SCREENSHOTS_DIR")
    directory = Path(chosen) if chosen else tmp_path_factory.getbasetemp() / "browser-screenshots"
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def visit(driver: WebDriver, url: str, *, ready: bool = True) -> None:
    """Load `url` afresh (not as a same-page hash change) and wait until its page has rendered."""
    driver.get("about:blank")
    browser_log(driver)  # what earlier pages logged is theirs
    driver.get(url)
    if ready:
        wait_ready(driver)


def wait_ready(driver: WebDriver) -> None:
    WebDriverWait(driver, WAIT_SECONDS).until(
        lambda d: d.execute_script(
            "const view = document.querySelector('main .view'); return view && view.dataset.state === 'ready';"
        )
    )


def browser_log(driver: WebDriver) -> list[dict[str, Any]]:
    """The console's entries since the last call (Chromium hands each over once)."""
    entries: list[dict[str, Any]] = driver.get_log("browser")  # type: ignore[no-untyped-call]
    return entries


def console_errors(driver: WebDriver, *expected: str) -> list[str]:
    """Console errors and warnings since the last call, but those matching an `expected` pattern."""
    entries = browser_log(driver)
    return [
        entry["message"]
        for entry in entries
        if entry["level"] in {"SEVERE", "WARNING"}
        and not any(re.search(pattern, entry["message"]) for pattern in expected)
    ]


def save(driver: WebDriver, directory: Path, name: str, size: tuple[int, int]) -> Path:
    """A full-page screenshot at this width."""
    driver.set_window_size(*size)
    time.sleep(0.3)
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(size[0], max(size[1], min(int(height) + 20, 8000)))
    time.sleep(0.3)
    path = directory / f"{name}.png"
    driver.save_screenshot(str(path))
    driver.set_window_size(*LAPTOP)
    return path


def figure(driver: WebDriver, name: str) -> WebElement:
    return driver.find_element(By.CSS_SELECTOR, f'figure[data-chart="{name}"]')


def values(driver: WebDriver, name: str) -> list[list[float | None]]:
    """The series a chart drew, as it recorded them once drawn."""
    element = figure(driver, name)
    assert int(element.get_attribute("data-drawn") or 0) > 0, f"{name} drew nothing"
    assert element.find_elements(By.CSS_SELECTOR, "canvas"), f"{name} has no canvas"
    drawn: list[list[float | None]] = json.loads(element.get_attribute("data-values") or "null")
    return drawn


def cell(driver: WebDriver, name: str) -> WebElement:
    return driver.find_element(By.CSS_SELECTOR, f'[data-cell="{name}"]')


def number(element: WebElement) -> float | None:
    raw = element.get_attribute("data-value")
    return None if raw in {None, ""} else float(raw)


def assert_shown(element: WebElement, value: float | None, *, percent: bool = False) -> None:
    """The element's raw value is the API's, and its text shows it to the precision displayed."""
    assert number(element) == value
    text = element.text.strip()
    if value is None:
        assert text == "—"
        return
    shown = float(text.replace(",", "").removesuffix("%"))
    expected = value * 100 if percent else value
    assert math.isclose(shown, expected, rel_tol=6e-4, abs_tol=0.5 if abs(expected) >= 1000 else 1e-9), (text, value)


def messages(driver: WebDriver) -> list[str]:
    return [element.text for element in driver.find_elements(By.CSS_SELECTOR, ".message")]


def hash_state(driver: WebDriver) -> tuple[str, dict[str, list[str]]]:
    fragment = urlsplit(driver.current_url).fragment
    path, _, query = fragment.partition("?")
    return path, parse_qs(query)


# --- every page ------------------------------------------------------------------------------

SQLITE_PAGES = {
    "runs": "#/runs",
    "run": "#/run?run=sweep-c4",
    "run-imported": "#/run?run=vllm-bench-serve-example",
    "trends": "#/trends?start=2025-03-01&end=2025-03-02&bucket=1h&metric=time_to_first_token",
    "trends-grouped": "#/trends?start=2025-03-01&end=2025-03-02&bucket=1h&group_by=label:max_concurrency&percentile=99",
    "compare": "#/compare?baseline_label=run:sweep-c1&candidate_label=run:sweep-c8",
    "sweep": "#/sweep?label=sweep:demo",
}


@pytest.mark.parametrize("page", SQLITE_PAGES)
def test_every_page_loads_without_console_errors_at_laptop_and_phone_widths(
    browser: WebDriver, sqlite_server: Server, screenshots: Path, page: str
) -> None:
    for device, size in (("laptop", LAPTOP), ("phone", PHONE)):
        browser.set_window_size(*size)
        visit(browser, f"{sqlite_server.url}/{SQLITE_PAGES[page]}")
        assert console_errors(browser) == []
        assert not [text for text in messages(browser) if "Could not" in text or "failed" in text.lower()]
        charts = browser.find_elements(By.CSS_SELECTOR, "figure.chart")
        for chart in charts:
            assert int(chart.get_attribute("data-drawn") or 0) > 0, chart.get_attribute("data-chart")
        # Nothing wider than the screen but what scrolls in its own box (wide tables).
        overflow = browser.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, f"{page} is {overflow}px wider than a {device}"
        assert save(browser, screenshots, f"sqlite-{page}-{device}", size).stat().st_size > 0
    browser.set_window_size(*LAPTOP)


def test_the_debug_store_pages(browser: WebDriver, debug_server: Server, screenshots: Path) -> None:
    visit(browser, f"{debug_server.url}/")
    assert any("No runs stored yet" in text for text in messages(browser))
    save(browser, screenshots, "debug-runs-empty-laptop", LAPTOP)
    visit(browser, f"{debug_server.url}/#/trends?start=2024-06-01&end=2024-06-02&bucket=1d")
    expected = debug_server.api(
        "/results/timeseries",
        start="2024-06-01",
        end="2024-06-02",
        bucket="1d",
        metric="time_to_first_token",
        percentiles="50,90,99",
    )
    buckets = expected["series"][0]["buckets"]
    drawn = values(browser, "trend-percentiles")
    assert drawn == [[b["metrics"]["time_to_first_token"][f"p{q}"] for b in buckets] for q in (50, 90, 99)]
    assert int(cell(browser, "total").get_attribute("data-value") or 0) == 5
    assert console_errors(browser) == []
    save(browser, screenshots, "debug-trends-laptop", LAPTOP)


# --- the numbers on screen are the API's -----------------------------------------------------


@pytest.mark.parametrize("run", ["sweep-c4", "vllm-bench-serve-example"])
def test_run_page_shows_the_statistics_of_the_run(browser: WebDriver, sqlite_server: Server, run: str) -> None:
    visit(browser, f"{sqlite_server.url}/#/run?run={run}")
    group = sqlite_server.api("/results/stats", label=f"run:{run}", percentiles="50,90,99")["groups"][0]
    assert_shown(cell(browser, "count"), group["count"])
    assert_shown(cell(browser, "failed"), group["failed"])
    assert_shown(cell(browser, "error_rate"), group["error_rate"], percent=True)
    for metric in HEADLINE:
        figures = group["metrics"][metric]
        for stat in ("count", "mean", "p50", "p90", "p99"):
            assert_shown(cell(browser, f"{metric}.{stat}"), None if figures is None else figures[stat])
    for metric in LATENCIES:
        histogram = sqlite_server.api("/results/histogram", label=f"run:{run}", metric=metric, bins=50, scale="linear")
        counts, cdf = values(browser, f"histogram-{metric}")
        assert counts == [*histogram["counts"], None]
        assert cdf[0] == 0
        assert cdf[-1] == pytest.approx(100)
        assert len(cdf) == len(histogram["edges"])
    # One point per request of the run, failed ones included.
    requests = figure(browser, "requests-over-time")
    assert int(requests.get_attribute("data-xs") or 0) == group["count"] + group["failed"]
    assert console_errors(browser) == []


def test_goodput_for_the_slos_typed_in_and_the_link_that_keeps_them(browser: WebDriver, sqlite_server: Server) -> None:
    visit(browser, f"{sqlite_server.url}/#/run?run=sweep-c4")
    browser.find_element(By.ID, "goodput-slo_ttft_ms").send_keys("200")
    browser.find_element(By.ID, "goodput-slo_e2e_ms").send_keys("4000")
    browser.find_element(By.ID, "goodput-slo_e2e_ms").submit()
    WebDriverWait(browser, WAIT_SECONDS).until(lambda d: d.find_elements(By.ID, "goodput-result"))
    wait_ready(browser)
    page, state = hash_state(browser)
    assert (page, state["slo_ttft_ms"], state["slo_e2e_ms"]) == ("/run", ["200"], ["4000"])
    group = sqlite_server.api("/results/stats", label="run:sweep-c4", slo_ttft_ms=200, slo_e2e_ms=4000)["groups"][0]
    assert 0 < group["goodput"]["count"] < group["count"]
    link = browser.current_url
    for _ in range(2):  # as typed, then as a colleague opens the link
        assert_shown(cell(browser, "goodput.count"), group["goodput"]["count"])
        assert_shown(cell(browser, "goodput.share"), group["goodput"]["share"], percent=True)
        assert browser.find_element(By.ID, "goodput-slo_ttft_ms").get_attribute("value") == "200"
        visit(browser, link)
    assert console_errors(browser) == []


def test_log_bins_are_the_histogram_endpoints(browser: WebDriver, sqlite_server: Server) -> None:
    visit(browser, f"{sqlite_server.url}/#/run?run=sweep-c8&scale=log")
    histogram = sqlite_server.api(
        "/results/histogram", label="run:sweep-c8", metric="total_generation_time", bins=50, scale="log"
    )
    counts, _ = values(browser, "histogram-total_generation_time")
    assert counts == [*histogram["counts"], None]
    assert browser.find_element(By.ID, "distribution-scale").get_attribute("value") == "log"
    assert console_errors(browser) == []


def test_runs_page_lists_the_runs_and_its_filter_is_a_link(browser: WebDriver, sqlite_server: Server) -> None:
    visit(browser, f"{sqlite_server.url}/")
    runs = sqlite_server.api("/runs", limit=100)["runs"]
    rows = browser.find_elements(By.CSS_SELECTOR, "#runs-table tbody tr")
    assert [row.get_attribute("data-run") for row in rows] == [run["run"] for run in runs]
    for row, run in zip(rows, runs, strict=True):
        shown = row.find_elements(By.CSS_SELECTOR, "td.number")
        assert [number(element) for element in shown] == [run["count"], run["failed"]]
    model = browser.find_element(By.ID, "runs-model")
    model.send_keys("demo-model")
    model.submit()
    WebDriverWait(browser, WAIT_SECONDS).until(lambda d: "model=demo-model" in d.current_url)
    wait_ready(browser)
    expected = [run["run"] for run in sqlite_server.api("/runs", model="demo-model")["runs"]]
    assert len(expected) == len(CONCURRENCIES)
    link = browser.current_url

    def shown_runs() -> list[str | None]:
        return [row.get_attribute("data-run") for row in browser.find_elements(By.CSS_SELECTOR, "#runs-table tbody tr")]

    for _ in range(2):
        # As for the comparison below: the filtered rows, not a view that was ready before.
        WebDriverWait(browser, WAIT_SECONDS).until(lambda _d: shown_runs() == expected)
        assert browser.find_element(By.ID, "runs-model").get_attribute("value") == "demo-model"
        visit(browser, link)
    # A run's name opens its page; two picked open a comparison.
    browser.find_element(By.LINK_TEXT, "sweep-c2").click()
    wait_ready(browser)
    assert hash_state(browser) == ("/run", {"run": ["sweep-c2"]})
    visit(browser, link)
    for run in ("sweep-c1", "sweep-c16"):
        browser.find_element(By.CSS_SELECTOR, f'tr[data-run="{run}"] input[type="checkbox"]').click()
    browser.find_element(By.ID, "compare-picked").click()
    # The click changes the hash at once, while the runs' view may still be the ready one: wait
    # for the comparison's rows themselves (a CI run once looked before they were drawn).
    WebDriverWait(browser, WAIT_SECONDS).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#verdict-table tbody tr"))
    wait_ready(browser)
    assert hash_state(browser)[0] == "/compare"
    assert console_errors(browser) == []


def test_over_time_draws_the_timeseries_and_zooms_into_a_link(browser: WebDriver, sqlite_server: Server) -> None:
    window = {"start": "2025-03-01", "end": "2025-03-02", "bucket": "1h", "metric": "time_per_output_token"}
    visit(browser, f"{sqlite_server.url}/#/trends?" + "&".join(f"{k}={v}" for k, v in window.items()))
    body = sqlite_server.api("/results/timeseries", **window, percentiles="50,90,99", label=[])
    buckets = body["series"][0]["buckets"]
    drawn = values(browser, "trend-percentiles")
    assert drawn == [
        [(b["metrics"]["time_per_output_token"] or {}).get(f"p{q}") for b in buckets] for q in (50, 90, 99)
    ]
    rates = values(browser, "trend-error-rate")
    assert rates == [[b["error_rate"] * 100 if b["count"] + b["failed"] else None for b in buckets]]
    assert int(cell(browser, "total").get_attribute("data-value") or 0) == sum(
        b["count"] + b["failed"] for b in buckets
    )

    # Dragging across the chart zooms: the window in the link narrows, and the link shows the same view.
    overlay = figure(browser, "trend-percentiles").find_element(By.CSS_SELECTOR, ".u-over")
    width = overlay.size["width"]
    ActionChains(browser).move_to_element_with_offset(overlay, -width // 4, 0).click_and_hold().move_by_offset(
        width // 2, 0
    ).release().perform()
    WebDriverWait(browser, WAIT_SECONDS).until(lambda d: "start=2025-03-01T" in d.current_url)
    wait_ready(browser)
    _, state = hash_state(browser)
    start, end = state["start"][0], state["end"][0]
    assert "2025-03-01T00:00:00Z" < start < end < "2025-03-02T23:59:59Z"
    zoomed = sqlite_server.api(
        "/results/timeseries", start=start, end=end, bucket="1h", metric="time_per_output_token", percentiles="50,90,99"
    )
    expected = [
        [(b["metrics"]["time_per_output_token"] or {}).get(f"p{q}") for b in zoomed["series"][0]["buckets"]]
        for q in (50, 90, 99)
    ]
    link = browser.current_url
    assert values(browser, "trend-percentiles") == expected
    visit(browser, link)
    assert values(browser, "trend-percentiles") == expected
    assert browser.find_element(By.ID, "trend-start").get_attribute("value") == start
    assert console_errors(browser) == []


def test_over_time_grouped_draws_one_line_per_label_value(browser: WebDriver, sqlite_server: Server) -> None:
    visit(browser, f"{sqlite_server.url}/{SQLITE_PAGES['trends-grouped']}")
    body = sqlite_server.api(
        "/results/timeseries",
        start="2025-03-01",
        end="2025-03-02",
        bucket="1h",
        metric="time_to_first_token",
        group_by="label:max_concurrency",
        percentiles="50,90,99",
    )
    expected = [
        [(b["metrics"]["time_to_first_token"] or {}).get("p99") for b in one["buckets"]] for one in body["series"]
    ]
    assert len(expected) == len(CONCURRENCIES)
    assert values(browser, "trend-percentiles") == expected
    assert len(values(browser, "trend-error-rate")) == len(expected)
    assert console_errors(browser) == []


def test_compare_shows_the_verdicts_and_overlaid_cdfs(browser: WebDriver, sqlite_server: Server) -> None:
    visit(browser, f"{sqlite_server.url}/{SQLITE_PAGES['compare']}")
    comparison = sqlite_server.api("/results/compare", baseline_label="run:sweep-c1", candidate_label="run:sweep-c8")
    rows = browser.find_elements(By.CSS_SELECTOR, "#verdict-table tbody tr")
    assert len(rows) == len(comparison["metrics"])
    for row, entry in zip(rows, comparison["metrics"].values(), strict=True):
        verdict = row.find_element(By.CSS_SELECTOR, "td.verdict")
        assert verdict.get_attribute("data-verdict") == entry["verdict"]
        figures = [number(element) for element in row.find_elements(By.CSS_SELECTOR, "td.number[data-value]")]
        assert figures == [entry[side][stat] for stat in ("mean", "p50", "p99") for side in ("baseline", "candidate")]
    verdicts = {entry["verdict"] for entry in comparison["metrics"].values()}
    assert "regression" in verdicts
    # Coloured by verdict (a vermillion tint), and said in words too.
    regression = browser.find_element(By.CSS_SELECTOR, "td.verdict-regression")
    assert regression.value_of_css_property("background-color") == "rgba(249, 220, 203, 1)"
    assert "regression" in regression.text
    for metric in LATENCIES:
        baseline, candidate = values(browser, f"cdf-{metric}")
        for series in (baseline, candidate):
            present = [value for value in series if value is not None]
            assert present[0] == 0
            assert present[-1] == pytest.approx(100)
    assert console_errors(browser) == []


def test_sweep_plots_latency_against_throughput_per_setting(browser: WebDriver, sqlite_server: Server) -> None:
    visit(browser, f"{sqlite_server.url}/{SQLITE_PAGES['sweep']}")
    assert browser.find_element(By.ID, "sweep-by").get_attribute("value") == "max_concurrency"
    runs = {run["run"]: run for run in sqlite_server.api("/runs", label="sweep:demo")["runs"]}
    groups = {
        group["group"]: group
        for group in sqlite_server.api(
            "/results/stats", label="sweep:demo", group_by="label:max_concurrency", percentiles="50,99"
        )["groups"]
    }
    rows = browser.find_elements(By.CSS_SELECTOR, "#sweep-table tbody tr")
    assert len(rows) == len(CONCURRENCIES)
    throughputs = []
    for row in rows:
        setting = row.find_element(By.CSS_SELECTOR, "th").text
        group, run = groups[setting], runs[f"sweep-c{setting}"]
        span = (datetime.fromisoformat(run["last"]) - datetime.fromisoformat(run["first"])).total_seconds()
        tokens = group["metrics"]["token_count"]["mean"] * group["metrics"]["token_count"]["count"]
        shown = [number(element) for element in row.find_elements(By.CSS_SELECTOR, "td")]
        expected = [1, group["count"], group["failed"], tokens / span]
        expected += [group["metrics"][metric][p] for metric in LATENCIES for p in ("p50", "p99")]
        assert shown[:3] == expected[:3]
        assert shown[4:] == expected[4:]
        assert shown[3] == pytest.approx(expected[3], rel=1e-12)
        throughput = shown[3]
        assert throughput is not None
        throughputs.append(throughput)
    assert throughputs == sorted(throughputs)
    for metric in LATENCIES:
        p50, p99 = values(browser, f"sweep-{metric}")
        assert len(p50) == len(p99) == len(CONCURRENCIES)
    assert console_errors(browser) == []


# --- messages instead of blank charts ---------------------------------------------------------


def test_empty_data_a_failed_request_and_an_unknown_run_each_say_so(browser: WebDriver, sqlite_server: Server) -> None:
    visit(browser, f"{sqlite_server.url}/#/trends?start=2030-01-01&end=2030-01-02")
    assert not browser.find_elements(By.CSS_SELECTOR, "canvas")
    assert any("No successful result in this window" in text for text in messages(browser))
    assert console_errors(browser) == []

    visit(browser, f"{sqlite_server.url}/#/trends?start=yesterday&end=2030-01-02")
    detail = httpx.get(f"{sqlite_server.url}/results/timeseries", params={"start": "yesterday", "end": "2030-01-02"})
    problem = browser.find_element(By.CSS_SELECTOR, ".message.problem")
    assert detail.json()["detail"] in problem.text
    assert problem.get_attribute("role") == "alert"
    assert console_errors(browser, r"status of 422") == []

    visit(browser, f"{sqlite_server.url}/#/run?run=no-such-run")
    assert any("Unknown run “no-such-run”" in text for text in messages(browser))
    visit(browser, f"{sqlite_server.url}/#/compare?baseline_label=run:no-such-run&candidate_label=run:sweep-c1")
    assert any("Nothing to compare" in text for text in messages(browser))
    assert not browser.find_elements(By.CSS_SELECTOR, "canvas")
    visit(browser, f"{sqlite_server.url}/#/sweep?label=tool:vllm")
    assert any("differ in no label" in text for text in messages(browser))
    visit(browser, f"{sqlite_server.url}/#/nowhere")
    assert any("There is no page" in text for text in messages(browser))
    assert console_errors(browser, r"status of 422") == []


@pytest.mark.parametrize("page", ["#/runs", "#/run?run=a", "#/trends?start=2024-06-01&end=2024-06-02", "#/sweep"])
def test_a_store_that_is_down_is_a_message(
    browser: WebDriver, down_server: Server, screenshots: Path, page: str
) -> None:
    visit(browser, f"{down_server.url}/{page}")
    problems = browser.find_elements(By.CSS_SELECTOR, ".message.problem")
    assert problems
    assert "store is not available" in problems[0].text
    assert not browser.find_elements(By.CSS_SELECTOR, "canvas")
    assert console_errors(browser, r"status of 503") == []
    if page == "#/runs":
        save(browser, screenshots, "down-runs-laptop", LAPTOP)


# --- reads behind a key ----------------------------------------------------------------------


def test_the_page_asks_for_a_key_and_keeps_it_for_the_tab(
    browser: WebDriver, keyed_server: Server, screenshots: Path
) -> None:
    page = f"{keyed_server.url}/#/trends?start=2024-06-01&end=2024-06-02&bucket=1d"
    visit(browser, page, ready=False)
    dialog = WebDriverWait(browser, WAIT_SECONDS).until(lambda d: d.find_element(By.CSS_SELECTOR, "#key-dialog[open]"))
    save(browser, screenshots, "keyed-prompt-laptop", LAPTOP)
    typed = browser.find_element(By.ID, "key-input")
    typed.send_keys("not-the-key-at-all")
    typed.submit()
    WebDriverWait(browser, WAIT_SECONDS).until(
        lambda d: "refused" in d.find_element(By.ID, "key-reason").text and dialog.get_attribute("open") is not None
    )
    typed = browser.find_element(By.ID, "key-input")
    typed.send_keys(KEY)
    typed.submit()
    wait_ready(browser)
    expected = keyed_server.api(
        "/results/timeseries",
        start="2024-06-01",
        end="2024-06-02",
        bucket="1d",
        metric="time_to_first_token",
        percentiles="50,90,99",
    )
    assert values(browser, "trend-percentiles")[0] == [
        b["metrics"]["time_to_first_token"]["p50"] for b in expected["series"][0]["buckets"]
    ]
    assert browser.execute_script("return sessionStorage.getItem('superbenchmark.api-key')") == KEY
    assert browser.execute_script("return localStorage.length") == 0
    # The same tab keeps the key: another page reads without asking.
    visit(browser, f"{keyed_server.url}/#/runs")
    assert not browser.find_elements(By.CSS_SELECTOR, "#key-dialog[open]")
    assert any("No runs stored yet" in text for text in messages(browser))
    assert console_errors(browser, r"status of 401") == []
    browser.execute_script("sessionStorage.clear()")

    # Cancelling the prompt leaves a message, not a blank page.
    visit(browser, f"{keyed_server.url}/#/runs", ready=False)
    WebDriverWait(browser, WAIT_SECONDS).until(lambda d: d.find_element(By.CSS_SELECTOR, "#key-dialog[open]"))
    browser.find_element(By.ID, "key-cancel").click()
    wait_ready(browser)
    assert any("API key required" in text for text in messages(browser))
    assert console_errors(browser, r"status of 401") == []


# --- the files the page is made of -----------------------------------------------------------


def test_dashboard_files_are_served_with_their_types_and_caching(sqlite_server: Server) -> None:
    page = httpx.get(f"{sqlite_server.url}/")
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert page.headers["cache-control"] == "no-cache"
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-content-type-options"] == "nosniff"
    again = httpx.get(f"{sqlite_server.url}/", headers={"If-None-Match": page.headers["etag"]})
    assert (again.status_code, again.content) == (304, b"")
    script = httpx.get(f"{sqlite_server.url}/dashboard/js/api.js")
    assert script.headers["content-type"] == "text/javascript; charset=utf-8"
    assert (
        httpx.get(f"{sqlite_server.url}/dashboard/dashboard.css").headers["content-type"] == "text/css; charset=utf-8"
    )
    vendored = httpx.get(f"{sqlite_server.url}/dashboard/vendor/uplot-1.6.32/uPlot.iife.min.js")
    assert vendored.status_code == 200
    assert vendored.headers["cache-control"] == "public, max-age=31536000, immutable"
    licence = httpx.get(f"{sqlite_server.url}/dashboard/vendor/uplot-1.6.32/LICENSE")
    assert licence.headers["content-type"] == "text/plain; charset=utf-8"
    assert "MIT" in licence.text
    head = httpx.head(f"{sqlite_server.url}/dashboard/js/api.js")
    assert (head.status_code, head.content, head.headers["content-length"]) == (200, b"", str(len(script.content)))
    for path in (
        "/dashboard/__init__.py",
        "/dashboard/%2e%2e/__init__.py",
        "/dashboard/js/%2e%2e/%2e%2e/__init__.py",
        "/dashboard/%2e%2e%2f%2e%2e%2fapp.py",
        "/dashboard/js/..%5c..%5c__init__.py",
        "/dashboard//etc/passwd",
        "/dashboard/",
        "/dashboard/nothing.js",
    ):
        refused = httpx.get(f"{sqlite_server.url}{path}")
        assert refused.status_code == 404, path
        assert refused.headers["content-type"] == "application/problem+json"


def test_only_files_of_known_types_are_served(tmp_path: Path) -> None:
    (tmp_path / "js").mkdir()
    (tmp_path / "index.html").write_text("<!doctype html>")
    (tmp_path / "js" / "a.js").write_text("export {};")
    (tmp_path / "secret.py").write_text("KEY = 1")
    files = load_static_files(tmp_path)
    assert sorted(files) == ["index.html", "js/a.js"]


def test_a_built_wheel_carries_the_dashboard(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
        check=True,
        capture_output=True,
        cwd=tmp_path,
    )
    (wheel,) = tmp_path.glob("superbenchmark-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    prefix = "src/entrypoints/http/dashboard/static/"
    shipped = {prefix + name for name in load_static_files()}
    assert shipped <= names, shipped - names


# --- superbenchmark view -----------------------------------------------------------------------


def test_view_imports_a_file_and_serves_its_run_page(browser: WebDriver, tmp_path: Path, screenshots: Path) -> None:
    environment = {key: value for key, value in os.environ.items() if not key.startswith("SUPERBENCHMARK_")}
    environment |= {"XDG_DATA_HOME": str(tmp_path / "data"), "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-m", "src.entrypoints.cli", "view", str(VLLM), "--port", "0"],
        env=environment,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline() for _ in range(3)]
        assert lines[0].startswith("run vllm-bench-serve-example (vllm): stored 5"), lines
        assert (tmp_path / "data" / "superbenchmark" / "view.db").is_file()
        page = lines[2].removeprefix("this run: ").strip()
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/#/run\?run=vllm-bench-serve-example", page), lines
        visit(browser, page)
        assert_shown(cell(browser, "count"), 4)
        assert_shown(cell(browser, "failed"), 1)
        assert values(browser, "histogram-total_generation_time")
        assert console_errors(browser) == []
        save(browser, screenshots, "view-run-laptop", LAPTOP)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
    # Viewing the same file again stores nothing twice.
    again = subprocess.Popen(
        [sys.executable, "-m", "src.entrypoints.cli", "view", str(VLLM), "--port", "0"],
        env=environment,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert again.stdout is not None
        assert "stored 0, already stored 5" in again.stdout.readline()
    finally:
        again.send_signal(signal.SIGINT)
        again.communicate(timeout=30)
