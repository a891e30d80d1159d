"""A synthetic result file in the seed format: N results over one year, timestamps in random order."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

FIRST_INSTANT = datetime(2024, 1, 1, tzinfo=UTC)
SPAN = timedelta(days=366)
_PROMPTS = (
    "Translate the following English text to French: 'Hello, how are you?'",
    "Summarize the following article: 'Artificial intelligence is transforming the world.'",
    "Generate a creative story about a space adventure.",
    "Explain the concept of blockchain technology.",
)
_ANSWERS = (
    "Bonjour, comment ça va?",
    "AI is changing the world.",
    "Once upon a time, in a galaxy far away, a group of astronauts embarked on a thrilling journey.",
    "Blockchain is a decentralized ledger of all transactions across a network.",
)
_PLUS_TWO = timezone(timedelta(hours=2))


def write_synthetic_results(path: Path, count: int, seed: int = 2024) -> Path:
    """Write `count` results to `path` (once: an existing file of that name is reused)."""
    if path.exists():
        return path
    generator = random.Random(seed)
    span_seconds = int(SPAN.total_seconds())
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    with partial.open("w", encoding="utf-8") as output:
        output.write('{"benchmarking_results": [\n')
        for index in range(count):
            moment = FIRST_INSTANT + timedelta(seconds=generator.randrange(span_seconds))
            # One result in ten carries a +02:00 offset, as files merged from several hosts do.
            spelled = moment.astimezone(_PLUS_TWO).isoformat() if index % 10 == 0 else f"{moment:%Y-%m-%dT%H:%M:%S}Z"
            tokens = generator.randint(1, 1024)
            first_token = round(generator.uniform(40, 900), 3)
            per_token = round(generator.uniform(5, 80), 3)
            result = {
                "request_id": f"req-{index:09d}",
                "prompt_text": _PROMPTS[index % len(_PROMPTS)],
                "generated_text": _ANSWERS[index % len(_ANSWERS)],
                "token_count": tokens,
                "time_to_first_token": first_token,
                "time_per_output_token": per_token,
                "total_generation_time": round(first_token + per_token * (tokens - 1), 3),
                "timestamp": spelled,
            }
            output.write(("" if index == 0 else ",\n") + json.dumps(result, ensure_ascii=False))
        output.write("\n]}\n")
    partial.rename(path)
    return path
