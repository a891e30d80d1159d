"""`make bench-imports` (and the third part of `make bench`): importing benchmark tools' files
through POST /results/import into PostgreSQL, beside the NDJSON import of the same results.

- a vLLM `--save-detailed` file of N requests (about 200 per-chunk ITLs each), and
- an AIPerf `profile_export.jsonl` of M lines (and one of M/4 lines, for memory against size),

each against the seed-format NDJSON of the results our importer makes of it (the same request
ids, timestamps, metrics and errors). Every import starts from an empty database and runs in a
fresh server process, so that its peak RSS (VmHWM) belongs to that import alone. Reports time per
1,000 results (goal: within 1.5x of the NDJSON import's) and peak server RSS beside the file's
size (goal: about 2x the file at most for a whole-document format, independent of the file's
size for a line format). Medians of the rounds; each round alternates which import goes first.

Sizes from BENCH_IMPORT_REQUESTS (100,000) and BENCH_IMPORT_AIPERF_LINES (1,000,000), rounds
from BENCH_ROUNDS (3).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from bench.averages import WORK, clean_environment, reap
from bench.database import BENCH_DATABASE, KEY, drop_database, emptied, fresh_database, http_import, serve
from bench.tool_files import FAILED_SHARE, READERS, write_aiperf_file, write_ndjson, write_vllm_file

MIB = 2**20


@dataclass(frozen=True)
class Upload:
    """One file to import: what it is, how the server is told, and how many results it holds."""

    label: str
    path: Path
    results: int
    content_type: str

    @property
    def mib(self) -> float:
        return self.path.stat().st_size / MIB


@dataclass
class Measures:
    seconds: list[float]
    peak_mib: list[float]

    def seconds_per_thousand(self, results: int) -> float:
        return statistics.median(self.seconds) / results * 1000

    @property
    def peak(self) -> float:
        return statistics.median(self.peak_mib)


def tool_file(label: str, path: Path, reader: str) -> tuple[Upload, Upload]:
    """The tool's file and the NDJSON of the same results, written beside it when missing."""
    ndjson, results = write_ndjson(path, READERS[reader], path.with_suffix(".ndjson"))
    return (
        Upload(label, path, results, "application/json"),
        Upload(f"{label} as NDJSON", ndjson, results, "application/x-ndjson"),
    )


def peak_rss_mib(pid: int) -> float:
    """The process's peak resident set size so far (VmHWM), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM for process {pid}")


def import_once(upload: Upload, url: str, env: dict[str, str]) -> tuple[float, float]:
    """Seconds of one import into an empty database, and the server's peak RSS in MiB."""
    emptied(url)
    process, base_url = serve(env)
    try:
        seconds = http_import(
            base_url, upload.path, upload.results, upload.content_type, params={"filename": upload.path.name}
        )
        peak = peak_rss_mib(process.pid)
    finally:
        process.terminate()
        reap(process)
    return seconds, peak


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=int(os.environ.get("BENCH_IMPORT_REQUESTS", "100000")))
    parser.add_argument("--aiperf-lines", type=int, default=int(os.environ.get("BENCH_IMPORT_AIPERF_LINES", "1000000")))
    parser.add_argument("--rounds", type=int, default=int(os.environ.get("BENCH_ROUNDS", "3")))
    parser.add_argument(
        "--failed-share",
        type=float,
        default=FAILED_SHARE,
        help="share of failed requests in the generated files",
    )
    arguments = parser.parse_args()
    began = time.perf_counter()
    share = arguments.failed_share
    work = WORK / ("imports" if share == FAILED_SHARE else f"imports-{share:g}-failed")
    small_lines = arguments.aiperf_lines // 4
    print("writing or reusing the files ...", flush=True)
    vllm_file = write_vllm_file(work / f"vllm-{arguments.requests}.json", arguments.requests, share)
    aiperf_file = write_aiperf_file(work / f"aiperf-{arguments.aiperf_lines}.jsonl", arguments.aiperf_lines, share)
    small_file = write_aiperf_file(work / f"aiperf-{small_lines}.jsonl", small_lines, share)
    pairs = {
        "vllm": tool_file(f"vLLM --save-detailed, {arguments.requests:,} requests", vllm_file, "vllm"),
        "aiperf": tool_file(f"AIPerf profile_export.jsonl, {arguments.aiperf_lines:,} lines", aiperf_file, "aiperf"),
    }
    small = Upload(f"AIPerf, {small_lines:,} lines", small_file, small_lines, "application/json")
    uploads = [upload for pair in pairs.values() for upload in pair] + [small]
    for upload in uploads:
        print(f"  {upload.path.name}: {upload.mib:,.0f} MiB, {upload.results:,} results", flush=True)

    url = fresh_database()
    env = clean_environment() | {"SUPERBENCHMARK_DATABASE_URL": url, "SUPERBENCHMARK_API_KEYS": KEY}
    measures = {upload.label: Measures([], []) for upload in uploads}
    try:
        for round_number in range(arguments.rounds):
            for pair in pairs.values():
                for upload in pair if round_number % 2 == 0 else reversed(pair):
                    seconds, peak = import_once(upload, url, env)
                    measures[upload.label].seconds.append(seconds)
                    measures[upload.label].peak_mib.append(peak)
                    print(
                        f"round {round_number + 1}, {upload.label}: {seconds:.1f} s, peak RSS {peak:,.0f} MiB",
                        flush=True,
                    )
            seconds, peak = import_once(small, url, env)
            measures[small.label].seconds.append(seconds)
            measures[small.label].peak_mib.append(peak)
            print(f"round {round_number + 1}, {small.label}: {seconds:.1f} s, peak RSS {peak:,.0f} MiB", flush=True)
    finally:
        drop_database()

    print(f"\nPOST /results/import into PostgreSQL ({BENCH_DATABASE}), medians of {arguments.rounds} rounds\n")
    print("| file | size | results | import per 1,000 | NDJSON import | ratio | peak server RSS | RSS / file |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for tool, ndjson in pairs.values():
        mine, yardstick = measures[tool.label], measures[ndjson.label]
        per_thousand, baseline = mine.seconds_per_thousand(tool.results), yardstick.seconds_per_thousand(ndjson.results)
        print(
            f"| {tool.label} | {tool.mib:,.0f} MiB | {tool.results:,} | {per_thousand:.3f} s "
            f"| {baseline:.3f} s | {per_thousand / baseline:.2f}x "
            f"| {mine.peak:,.0f} MiB | {mine.peak / tool.mib:.2f}x |"
        )
        print(
            f"| {ndjson.label} | {ndjson.mib:,.0f} MiB | {ndjson.results:,} | {baseline:.3f} s | | "
            f"| {yardstick.peak:,.0f} MiB | {yardstick.peak / ndjson.mib:.2f}x |"
        )
    tool = pairs["aiperf"][0]
    print(
        f"| {small.label} | {small.mib:,.0f} MiB | {small.results:,} "
        f"| {measures[small.label].seconds_per_thousand(small.results):.3f} s | | "
        f"| {measures[small.label].peak:,.0f} MiB | {measures[small.label].peak / small.mib:.2f}x |"
    )
    print(
        "\nGoals: import time per result <= 1.5x the NDJSON import's; peak RSS <= about 2x the file for the "
        f"vLLM document; for AIPerf, peak RSS of the {tool.results:,}-line file / the {small.results:,}-line "
        f"file: {measures[tool.label].peak / measures[small.label].peak:.2f}x (independent of size: about 1x)."
    )
    print(f"({(time.perf_counter() - began) / 60:.1f} minutes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
