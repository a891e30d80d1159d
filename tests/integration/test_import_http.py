"""Tools' files imported over real HTTP and by the command line, on SQLite and PostgreSQL: detected,
stored once, summarised with their failures beside them, compared, and refused clearly when they
cannot be read."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from src.application.import_results import ImportResults
from src.application.ports.result_reader import ToolFile
from src.entrypoints import cli
from src.entrypoints.container import Container
from src.entrypoints.settings import Settings
from tests.databases import SQL_KINDS, scratch_database
from tests.integration.importers import test_llm_load_test, test_sglang
from tests.integration.importers.format_heads import HEADS
from tests.integration.importers.test_genai_perf import export  # noqa: F401 - the GenAI-Perf file, a fixture
from tests.integration.importers.tool_reading import EXAMPLES
from tests.integration.test_ingestion_http import KEY, WRITER, sql_api
from tests.support import assert_problem, record

VLLM = EXAMPLES / "vllm-bench-serve-example.json"
LLMPERF = (EXAMPLES / "llmperf-example_individual_responses.json", EXAMPLES / "llmperf-example_summary.json")
AIPERF = EXAMPLES / "aiperf-profile_export-example.jsonl"
GUIDELLM = EXAMPLES / "guidellm-benchmarks-example.json"


@pytest.fixture(params=SQL_KINDS)
def api(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[httpx.Client]:
    with scratch_database(request.param, tmp_path) as url:
        yield from sql_api(url, import_batch_rows=3)


def imported(api: httpx.Client, *paths: Path, **params: Any) -> dict[str, Any]:
    files = [("files", (path.name, path.read_bytes())) for path in paths]
    response = api.post("/results/import", files=files, params=params, headers=WRITER)
    assert response.status_code == 200, response.text
    report: dict[str, Any] = response.json()
    return report


def stats_of(api: httpx.Client, run: str) -> dict[str, Any]:
    body = api.get("/results/stats", params={"label": f"run:{run}", "percentiles": "50"}).json()
    group: dict[str, Any] = body["groups"][0]
    return group


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        ("seed", "seed"),
        ("ndjson", "ndjson"),
        ("vllm", "vllm"),
        ("vllm-compact", "vllm"),
        ("vllm-legacy", "vllm"),
        ("sglang", "sglang"),
        ("llm-load-test", "llm-load-test"),
        ("llmperf-individual", "llmperf"),
        ("llmperf-summary", "llmperf"),
        ("aiperf", "aiperf"),
        ("genai-perf", "genai-perf"),
        ("guidellm-0.7", "guidellm"),
        ("guidellm-0.4", "guidellm"),
        ("guidellm-0.3", "guidellm"),
    ],
)
def test_every_format_is_detected_from_its_leading_bytes(tmp_path: Path, head: str, expected: str) -> None:
    container = Container()
    container.config.from_pydantic(Settings(debug=True))
    importer: ImportResults = container.import_results()
    path = tmp_path / "file"
    path.write_bytes(HEADS[head])
    assert importer.reader_for([ToolFile("file", path)], "auto").format == expected


def test_a_vllm_file_is_imported_once_with_its_failure_beside_the_statistics(api: httpx.Client) -> None:
    report = imported(api, VLLM)
    assert (report["stored"], report["already_stored"], report["rejected"], report["failed"]) == (5, 0, 0, 1)
    assert (report["format"], report["tool"], report["run"]) == ("vllm", "vllm", "vllm-bench-serve-example")
    assert any("UTC" in warning for warning in report["warnings"])
    group = stats_of(api, report["run"])
    assert (group["count"], group["failed"], group["error_rate"]) == (4, 1, 0.2)
    # TTFT 184.3, 151.7, 132.2, 246.8 ms: mean 178.75 (vLLM's own mean_ttft_ms), median 168.0.
    ttft = group["metrics"]["time_to_first_token"]
    assert (ttft["count"], ttft["mean"], ttft["p50"]) == (4, pytest.approx(178.75), pytest.approx(168.0))
    again = imported(api, VLLM)
    assert (again["stored"], again["already_stored"], again["rejected"]) == (0, 5, 0)


def test_llmperf_files_of_one_run_come_together(api: httpx.Client) -> None:
    report = imported(api, *LLMPERF)
    assert (report["format"], report["stored"], report["failed"]) == ("llmperf", 5, 1)
    assert any("estimate" in warning for warning in report["warnings"])
    group = stats_of(api, report["run"])
    assert (group["count"], group["failed"]) == (4, 1)
    # The example's own summary: TTFT mean 178.75, median 168.
    ttft = group["metrics"]["time_to_first_token"]
    assert (ttft["mean"], ttft["p50"]) == (pytest.approx(178.75), pytest.approx(168.0))


@pytest.mark.parametrize(("path", "failed"), [(AIPERF, 1), (GUIDELLM, 2)])
def test_aiperf_and_guidellm_examples_import_with_their_failures(api: httpx.Client, path: Path, failed: int) -> None:
    # guidellm's example holds one errored and one incomplete (cancelled) request: both failed.
    report = imported(api, path)
    assert report["stored"] + report["already_stored"] + report["rejected"] == 5
    assert report["failed"] == failed
    results = api.get("/results", params={"limit": 10}).json()["results"]
    assert sum(result["error"] is not None for result in results) == failed
    assert all(result["labels"]["tool"] == report["tool"] for result in results)


def test_a_truncated_file_stores_nothing_and_says_why(api: httpx.Client) -> None:
    cut = VLLM.read_bytes()[:300]
    refused = api.post("/results/import", content=cut, params={"format": "vllm"}, headers=WRITER)
    problem = assert_problem(refused, 422, "format")
    assert problem["format"] == "vllm"
    assert api.get("/results/average").json()["count"] == 0


def test_a_file_of_another_format_than_named_is_refused_naming_the_expected_one(api: httpx.Client) -> None:
    refused = api.post("/results/import", content=VLLM.read_bytes(), params={"format": "guidellm"}, headers=WRITER)
    assert assert_problem(refused, 422, "format")["format"] == "guidellm"


def test_a_file_without_a_clock_needs_the_timestamp_parameter(api: httpx.Client) -> None:
    individual = LLMPERF[0].read_bytes()
    refused = api.post("/results/import", content=individual, headers=WRITER)
    assert assert_problem(refused, 422, "parameter")["parameter"] == "timestamp"
    given = api.post(
        "/results/import",
        content=individual,
        params={"timestamp": "2026-03-01T12:00:00Z", "model": "llama", "run": "alone"},
        headers=WRITER,
    ).json()
    assert (given["stored"], given["run"]) == (5, "alone")
    result = api.get("/results", params={"limit": 1}).json()["results"][0]
    assert (result["timestamp"], result["model"]) == ("2026-03-01T12:00:00Z", "llama")


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"timestamp": "yesterday"}, "timestamp"),
        ({"format": "csv"}, "format"),
    ],
)
def test_bad_import_parameters_are_named(api: httpx.Client, params: dict[str, str], parameter: str) -> None:
    refused = api.post("/results/import", content=VLLM.read_bytes(), params=params, headers=WRITER)
    assert assert_problem(refused, 422, "parameter")["parameter"] == parameter


def test_the_users_labels_and_timezone_reach_every_result(api: httpx.Client) -> None:
    report = imported(api, VLLM, label=["branch:main", "gpu:h100"], timezone="Europe/Paris", run="nightly")
    assert report["run"] == "nightly"
    assert not any("UTC" in warning for warning in report["warnings"])
    results = api.get("/results", params={"limit": 10}).json()["results"]
    assert all(r["labels"]["branch"] == "main" and r["labels"]["run"] == "nightly" for r in results)


def test_text_in_any_script_round_trips_byte_identical(api: httpx.Client) -> None:
    # vLLM PR #38732: multi-byte characters split across stream chunks.
    text = "你好，世界 ☕ café — ok"
    sent = record("utf8", "2024-06-01T12:00:00Z") | {"generated_text": text}
    assert api.post("/results", content=json.dumps(sent).encode(), headers=WRITER).status_code == 201
    assert api.get("/results/utf8").json()["generated_text"] == text
    csv = api.get("/results", headers={"Accept": "text/csv"}).content.decode("utf-8-sig")
    assert text in csv


def test_mean_tpot_is_per_request_not_per_gap(api: httpx.Client) -> None:
    # vLLM #6531: A has TPOT 100 over 10 gaps, B 50 over 1: the mean per request is 75.0, not 95.45.
    batch = [
        record("A", "2024-06-01T12:00:00Z", time_to_first_token=100, total_generation_time=1100, token_count=11)
        | {"time_per_output_token": 100.0},
        record("B", "2024-06-01T12:00:01Z", time_to_first_token=100, total_generation_time=150, token_count=2)
        | {"time_per_output_token": 50.0},
    ]
    assert api.post("/results", json=batch, headers=WRITER).status_code == 201
    tpot = api.get("/results/stats").json()["groups"][0]["metrics"]["time_per_output_token"]
    assert tpot["mean"] == 75.0


def test_the_command_imports_over_http_and_compares_for_ci(
    api: httpx.Client, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    server = str(api.base_url)
    monkeypatch.setenv(cli.KEY_VARIABLE, KEY)
    assert cli.main(["import", str(VLLM), "--server", server, "--run", "base", "--label", "branch:main"]) == 0
    assert "run base (vllm): stored 5" in capsys.readouterr().out
    # The candidate: the same run three times slower, so that every candidate time exceeds every
    # baseline one (TTFT 132.2 to 246.8 ms against 396.6 to 740.4 ms).
    document = json.loads(VLLM.read_text(encoding="utf-8"))
    for key in ("ttfts", "latencies"):
        document[key] = [value * 3 for value in document[key]]
    document["itls"] = [[gap * 3 for gap in gaps] for gaps in document["itls"]]
    slower = tmp_path / "slower.json"
    slower.write_text(json.dumps(document), encoding="utf-8")
    assert cli.main(["import", str(slower), "--server", server, "--run", "candidate"]) == 0
    capsys.readouterr()
    arguments = ["compare", "--server", server, "--baseline-label", "run:base", "--candidate-label", "run:candidate"]
    assert cli.main(arguments) == 0
    table = capsys.readouterr().out
    assert "| time_to_first_token | ms |" in table
    assert "+200.0%" in table
    # Every candidate request is slower: U = 16 of 16, z = (16 - 8 - 0.5) / sqrt(12) = 2.17, p = 0.03.
    assert cli.main([*arguments, "--fail-on-regression", "--output", "json"]) == 1
    comparison = json.loads(capsys.readouterr().out)
    assert comparison["metrics"]["time_to_first_token"]["verdict"] == "regression"
    assert (comparison["candidate"]["count"], comparison["candidate"]["failed"]) == (4, 1)
    assert cli.main(["compare", "--server", server, "--baseline-label", "nolabel", "--candidate-label", "x:y"]) == 2


def test_sglang_llm_load_test_and_genai_perf_files_import_over_http_and_by_the_command(
    api: httpx.Client,
    tmp_path: Path,
    export: Path,  # noqa: F811 - the fixture imported above
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The readers' own tests build these files from the specification and check them by hand;
    # here they travel over HTTP and through the command, and must arrive whole.
    sglang = test_sglang.write(tmp_path, test_sglang.run_line())
    report = imported(api, sglang, timestamp="2026-02-03T10:00:00Z")
    assert (report["format"], report["stored"], report["failed"]) == ("sglang", 3, 1)
    # The two successes: TTFT 100 and 300 ms, e2e = TTFT + sum(itls) = 600 and 500 ms.
    group = stats_of(api, "sglang_0203_3_1024_128")
    ttft, e2e = group["metrics"]["time_to_first_token"], group["metrics"]["total_generation_time"]
    assert (ttft["count"], ttft["mean"], e2e["mean"]) == (2, pytest.approx(200.0), pytest.approx(550.0))

    load_test = test_llm_load_test.write(tmp_path, test_llm_load_test.document(test_llm_load_test.RECORDS))
    report = imported(api, load_test)
    # Four records, one refused for a clock that stepped back; TPOT of the twenty-token request 20.0.
    assert (report["format"], report["stored"], report["rejected"]) == ("llm-load-test", 3, 1)
    assert report["errors"][0]["position"] == 4
    assert api.get("/results/output-002%230-4-3").status_code == 200

    monkeypatch.setenv(cli.KEY_VARIABLE, KEY)
    assert cli.main(["import", str(export), "--server", str(api.base_url), "--run", "genai"]) == 0
    printed = capsys.readouterr()
    # Five requests: three content responses, one without any response, one SSE error event.
    assert "run genai (genai-perf): stored 5, already stored 0, rejected 0, failed requests 2" in printed.out
    assert "estimate" in printed.err
    group = stats_of(api, "genai")
    assert (group["count"], group["failed"]) == (3, 2)


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"timezone": "Europe"}, "timezone"),  # a folder of zones
        ({"timezone": "Europe/" + "A" * 300}, "timezone"),  # longer than a file name may be
        ({"run": "r" * 201}, "run"),  # no room left for {run}#{position} in a 256-character id
        ({"run": "a\x00b"}, "run"),
        ({"model": "a\x00b"}, "model"),
        ({"label": "a:b\x00"}, "label"),
        ({"label": "run:x"}, "label"),  # the import names the run itself: run=...
        ({"label": "tool:x"}, "label"),
    ],
)
def test_an_option_that_would_spoil_every_request_is_refused_naming_it(
    api: httpx.Client, params: dict[str, str], parameter: str
) -> None:
    refused = api.post("/results/import", content=VLLM.read_bytes(), params=params, headers=WRITER)
    assert assert_problem(refused, 422, "parameter")["parameter"] == parameter
    assert api.get("/results/average").json()["failed"] == 0


@pytest.mark.parametrize("name", ["f" * 400 + ".json", "a\x00b.json", "../../etc/passwd"])
def test_an_uploaded_files_name_never_becomes_a_path(api: httpx.Client, name: str) -> None:
    # The name only names the run, and only when it can: otherwise the content's hash does.
    response = api.post("/results/import", files=[("files", (name, VLLM.read_bytes()))], headers=WRITER)
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["stored"] == 5
    assert len(report["run"]) <= 200
    assert "\x00" not in report["run"]


def test_a_file_of_another_format_named_as_ndjson_stores_nothing(api: httpx.Client) -> None:
    refused = api.post("/results/import", content=VLLM.read_bytes(), params={"format": "ndjson"}, headers=WRITER)
    assert assert_problem(refused, 422, "format")["format"] == "ndjson"
    assert api.get("/results/average").json()["count"] == 0


def test_the_command_names_a_bad_time_zone_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SUPERBENCHMARK_DATABASE_URL", f"sqlite:///{tmp_path / 'none.db'}")
    monkeypatch.chdir(tmp_path)
    assert cli.main(["import", str(VLLM), "--timezone", "Europe"]) == 2
    error = capsys.readouterr().err
    assert "timezone: 'Europe' is no IANA time zone" in error
    assert "zoneinfo" not in error


def test_an_empty_body_is_said_to_be_empty(api: httpx.Client) -> None:
    refused = api.post("/results/import", content=b"", headers=WRITER)
    assert "the body is empty" in assert_problem(refused, 422, "format")["detail"]


def test_another_tools_lines_named_as_ndjson_store_nothing(api: httpx.Client) -> None:
    refused = api.post("/results/import", content=AIPERF.read_bytes(), params={"format": "ndjson"}, headers=WRITER)
    assert assert_problem(refused, 422, "format")["format"] == "ndjson"


def test_our_own_lines_without_a_run_name_report_no_run(api: httpx.Client) -> None:
    line = json.dumps(record("own", "2024-06-01T12:00:00Z")).encode()
    report = api.post("/results/import", content=line, params={"filename": "own.ndjson"}, headers=WRITER).json()
    assert (report["stored"], report["run"]) == (1, None)
    assert api.get("/runs").json()["runs"] == []


def test_more_files_than_a_run_has_are_a_problem_saying_how_many(api: httpx.Client) -> None:
    files = [("files", (f"f{index}.json", VLLM.read_bytes())) for index in range(9)]
    refused = api.post("/results/import", files=files, headers=WRITER)
    assert "at most 8" in assert_problem(refused, 422)["detail"]


@pytest.mark.parametrize(("files", "delimiter_in_content"), [(1, False), (2, False), (2, True)])
def test_a_multipart_body_cut_off_is_an_invalid_multipart_body_and_stores_nothing(
    api: httpx.Client, files: int, delimiter_in_content: bool
) -> None:
    # Reported: cut inside its only file, the body answered 422 unreadable-file "no file was sent";
    # cut inside its second file, the parser dropped that part and the first file was imported
    # alone, also when that file's content cut off ended in the closing delimiter's text.
    whole = httpx.Request(
        "POST", "http://x", files=[("files", (f"run-{i}.json", VLLM.read_bytes())) for i in range(files)]
    )
    body = whole.read()
    cut = body[: len(body) - len(VLLM.read_bytes()) // 2]
    if delimiter_in_content:
        cut += b"--" + whole.headers["Content-Type"].split("boundary=")[1].encode() + b"--"
    refused = api.post(
        "/results/import", content=cut, headers={**WRITER, "Content-Type": whole.headers["Content-Type"]}
    )
    problem = assert_problem(refused, 422)
    assert problem["type"].endswith(":invalid-multipart")
    assert "closing boundary" in problem["detail"]
    assert api.get("/runs").json()["runs"] == []
    # The same body whole is read (two vLLM files are then one too many for a run: said so).
    whole_answer = api.post(
        "/results/import", content=body, headers={**WRITER, "Content-Type": whole.headers["Content-Type"]}
    )
    if files == 1:
        assert whole_answer.status_code == 200, whole_answer.text
    else:
        assert "got 2" in whole_answer.json()["detail"]


def test_a_line_json_excludes_is_rejected_saying_what_it_holds(api: httpx.Client) -> None:
    def line(request_id: str, total: str) -> str:
        # 12345.5 stands for the number written as `total`, which json.dumps could not write.
        written = json.dumps(record(request_id, "2024-06-01T12:00:00Z", total_generation_time=12345.5))
        return written.replace("12345.5", total)

    body = "\n".join([line("fine", "500"), line("huge", "1e400"), line("nan", "NaN"), line("cut", "5")[:40]])
    report = api.post(
        "/results/import", content=body.encode(), headers=WRITER | {"Content-Type": "application/x-ndjson"}
    ).json()
    assert (report["stored"], report["rejected"]) == (1, 3)
    reasons = {error["position"]: error["reason"] for error in report["errors"]}
    assert "beyond the range of a 64-bit float" in reasons[2]
    assert "NaN, Infinity or a lone surrogate" in reasons[3]
    assert "at line 1 column" in reasons[4]
