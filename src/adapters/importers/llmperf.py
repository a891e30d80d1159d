"""ray-project/llmperf: `{stem}_individual_responses.json` (one record per request, completion
order), with its `{stem}_summary.json` (model, run parameters, user metadata, the run's end)."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from src.adapters.importers.run_context import (
    RunContext,
    count,
    default_run_name,
    epoch_seconds,
    load_document,
    number,
    opens_with,
)
from src.application.ports.result_reader import ImportOptions, ReadEntry, ResultReader, ToolFile, ToolRun
from src.domain.benchmark_result import derived_time_per_output_token
from src.domain.errors import InvalidResult, MissingImportOption, UnreadableFile

INDIVIDUAL_SUFFIX = "_individual_responses"
SUMMARY_SUFFIX = "_summary"
# The summary's keys that are not labels: its own name, the model, the run's end, and the
# aggregates (`results_*`), which describe the requests this import stores one by one.
_NOT_LABELS = frozenset({"version", "name", "model", "timestamp"})
_RECORD_KEYS = frozenset({"error_code", "ttft_s", "end_to_end_latency_s", "number_output_tokens"})
_EXPECTED = (
    "expected llmperf's {stem}_individual_responses.json (a JSON array of request records with "
    "error_code, ttft_s, end_to_end_latency_s, number_output_tokens), optionally with its {stem}_summary.json"
)
ESTIMATED_TOKENS = (
    "token counts are llmperf's re-tokenisation of the generated text with a Llama tokenizer "
    "(hf-internal-testing/llama-tokenizer), not the server's count: they are estimates, and so is "
    "TPOT, derived from them as (e2e - TTFT) / (tokens - 1)"
)
RUN_TIMESTAMPS = (
    "llmperf records no time per request: every request carries the run's timestamp ({source}), "
    "so time series over this run have a resolution of one run"
)


class LlmperfReader(ResultReader):
    """Positions are 1-based places in the individual responses array. TPOT is derived from
    ttft_s, end_to_end_latency_s and number_output_tokens, never llmperf's inter_token_latency_s
    (which includes TTFT and divides by the number of chunks)."""

    format = "llmperf"

    def recognizes(self, head: bytes, name: str) -> bool:
        # Both files are json.dump(..., indent=4): the records open with error_code, the summary
        # with version then name.
        return opens_with(head, b"[", b"{", b'"error_code"', b":") or (
            opens_with(head, b"{", b'"version"', b":") and b'"num_concurrent_requests"' in head
        )

    def read(self, files: Sequence[ToolFile], options: ImportOptions) -> ToolRun:
        if not 1 <= len(files) <= 2:
            raise UnreadableFile(
                self.format, f"takes the individual responses and optionally the summary, got {len(files)} files"
            )
        records: list[Any] | None = None
        summary: dict[str, Any] | None = None
        for file in files:
            document = load_document(file, self.format)
            if isinstance(document, list) and records is None:
                records = document
            elif isinstance(document, dict) and summary is None and _is_summary(document):
                summary = document
            else:
                raise UnreadableFile(self.format, f"{file.name or 'the body'} is neither; {_EXPECTED}")
        if records is None:
            raise UnreadableFile(self.format, f"the summary holds no per-request records; {_EXPECTED}")
        if records and not (isinstance(records[0], dict) and _RECORD_KEYS & records[0].keys()):
            raise UnreadableFile(self.format, f"the array holds no llmperf request records; {_EXPECTED}")

        warnings = [ESTIMATED_TOKENS]
        moment = self._run_timestamp(summary, options, warnings)
        run = options.run or _shared_stem(files) or default_run_name(files, self.format)
        settings = {key: value for key, value in (summary or {}).items() if _is_label(key)}
        model = summary.get("model") if summary is not None and isinstance(summary.get("model"), str) else None
        context = RunContext("llmperf", run, options, settings, model)
        started = None if summary is None else summary.get("results_num_requests_started")
        if isinstance(started, int) and started != len(records):
            warnings.append(
                f"the summary counts {started} requests started, the individual responses hold {len(records)}: "
                "check that the two files are of the same run"
            )
        return ToolRun("llmperf", self.format, run, _entries(records, context, moment), warnings)

    def _run_timestamp(
        self, summary: Mapping[str, Any] | None, options: ImportOptions, warnings: list[str]
    ) -> datetime:
        written = None if summary is None else summary.get("timestamp")
        if written is not None:
            try:
                moment = epoch_seconds(number(written, "timestamp") or 0.0)
            except (InvalidResult, ValueError) as error:
                if options.timestamp is None:
                    raise MissingImportOption(
                        "timestamp",
                        f"the summary's timestamp {written!r} is no instant of a run ({error}); give the run's time",
                    ) from None
                warnings.append(
                    f"the summary's timestamp {written!r} is no instant of a run: the given timestamp is used"
                )
                moment = options.timestamp
            else:
                if options.timestamp is not None and options.timestamp != moment:
                    warnings.append("the summary's timestamp (end of run) is used; the given timestamp is ignored")
                warnings.append(RUN_TIMESTAMPS.format(source="the summary's timestamp, end of run"))
                return moment
        elif options.timestamp is None:
            raise MissingImportOption(
                "timestamp",
                "llmperf's individual responses carry no clock: give the run's time, or import them "
                "together with their {stem}_summary.json",
            )
        else:
            moment = options.timestamp
        warnings.append(RUN_TIMESTAMPS.format(source="the given timestamp"))
        return moment


def _is_summary(document: Mapping[str, Any]) -> bool:
    return "num_concurrent_requests" in document or any(str(key).startswith("results_") for key in document)


def _is_label(key: str) -> bool:
    return key not in _NOT_LABELS and not key.startswith("results_")


def _shared_stem(files: Sequence[ToolFile]) -> str | None:
    """The stem both of llmperf's files share: the name without _individual_responses.json or _summary.json."""
    for file in files:
        stem = Path(file.name).name
        stem = re.sub(r"\.json$", "", stem)
        for suffix in (INDIVIDUAL_SUFFIX, SUMMARY_SUFFIX):
            stem = stem.removesuffix(suffix)
        if stem:
            return stem
    return None


def _entries(records: list[Any], context: RunContext, moment: datetime) -> Iterator[ReadEntry]:
    for position, record in enumerate(records, start=1):
        if not isinstance(record, dict):
            yield context.refused(position, None, "is not an llmperf request record (a JSON object)")
            continue
        try:
            yield _entry(position, record, context, moment)
        except InvalidResult as refused:
            yield ReadEntry(position, refused.at(position, context.request_id(position)))


def _entry(position: int, record: Mapping[str, Any], context: RunContext, moment: datetime) -> ReadEntry:
    prompt_tokens = count(record.get("number_input_tokens"), "number_input_tokens")
    code = record.get("error_code")
    if code is not None:
        # A failed request's ttft_s, end_to_end_latency_s and throughput are zeros, and its
        # output count re-tokenises the error text: none of them is a measurement.
        message = record.get("error_msg")
        return context.entry(
            position,
            timestamp=moment,
            prompt_token_count=prompt_tokens,
            error=message if isinstance(message, str) and message else f"error_code {code}",
            labels={"error_code": code},
        )
    ttft = number(record.get("ttft_s"), "ttft_s")
    e2e = number(record.get("end_to_end_latency_s"), "end_to_end_latency_s")
    tokens = count(record.get("number_output_tokens"), "number_output_tokens")
    ttft_ms = None if ttft is None else ttft * 1000
    e2e_ms = None if e2e is None else e2e * 1000
    return context.entry(
        position,
        timestamp=moment,
        token_count=tokens,
        time_to_first_token=ttft_ms,
        time_per_output_token=derived_time_per_output_token(e2e_ms, ttft_ms, tokens),
        total_generation_time=e2e_ms,
        prompt_token_count=prompt_tokens,
    )
