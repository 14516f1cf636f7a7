"""The bundled model's sampling settings and titles, measured: `python bench/local_model.py`.

Starts the bundled model server (chatstream/local_model.py, the model CHATSTREAM_LOCAL_MODEL
names) on a free port and

- `sampling`: sends a dozen prompts, each with the app's system prompt, under every
  combination of temperature and repeat penalty below (three seeded replies each), and reports
  per setting how many replies pass their prompt's check (Paris for the capital of France, a
  markdown list when one is asked for...), how many ran into the token limit or repeat a line,
  and the medians of reply length, time to first token and tokens per second;
- `test`: the real-model test's two prompts (tests/local_model/) under twenty seeds at each
  low temperature, for how often the test's checks would fail at each;
- `titles`: for ten first messages, streams the first reply with the app's own settings for
  this model (`LocalModelServer.environment()`, through `llm.stream_reply`), then asks for the
  chat's title exactly as the app does (`titles.suggest`, i.e. `llm.complete`).

Writes bench/results/local-model-<what>.md (the tables the README quotes) and prints them.
The replies themselves go to the .json beside it, to be read.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import re
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import openai  # noqa: E402

from chatstream import llm, repository, titles  # noqa: E402
from chatstream.local_model import LocalModelServer, chosen_model  # noqa: E402
from chatstream.settings import DEFAULT_SYSTEM_PROMPT, get_settings  # noqa: E402

RESULTS = ROOT / "bench" / "results"
LIST = re.compile(r"^\s*(?:\d+[.)]|[-*+])\s+\S", re.M)
PROMPTS: list[tuple[str, re.Pattern]] = [
    ("What is the capital of France?", re.compile(r"Paris")),
    ("Give me three tips for sleeping better, as a numbered list.", re.compile(r"^\s*1[.)]", re.M)),
    ("List five fruits as a bulleted list.", LIST),
    ("How do I reverse a list in Python?", re.compile(r"\[::-1\]|reversed\(|\.reverse\(\)")),
    ("Write a haiku about the sea.", re.compile(r"(?i)sea|wave|ocean|tide|shore")),
    ("hi", re.compile(r"(?i)hello|hi|hey|help")),
    ("What is 12 + 30?", re.compile(r"\b42\b")),
    ("Translate 'good morning' into French.", re.compile(r"(?i)bonjour")),
    ("Explain what a CPU does in two sentences.", re.compile(r"(?i)instruction|process")),
    ("Write a Python function that returns the square of a number.", re.compile(r"def \w+\(")),
    ("Who wrote Romeo and Juliet?", re.compile(r"Shakespeare")),
    ("What is the boiling point of water in Celsius?", re.compile(r"\b100\b")),
]
TEMPERATURES = (0.0, 0.2, 0.4, 0.7)
REPEAT_PENALTIES = (1.0, 1.1, 1.2)
"""1.1 is llama-cpp-python's default, which the app's requests keep (they send none)."""
MAX_TOKENS = 512
SEEDS = (1, 2, 3)
"""One reply per prompt and seed: 36 replies per setting."""
TEST_PROMPTS = [PROMPTS[0], PROMPTS[1]]
TEST_TEMPERATURES = (0.0, 0.1, 0.2, 0.3)
TEST_SEEDS = range(1, 21)
FIRST_MESSAGES = [
    "What is the capital of France?",
    "Give me three tips for sleeping better, as a numbered list.",
    "How do I reverse a list in Python?",
    "Write a haiku about the sea.",
    "hi",
    "Can you recommend a good book about the history of Rome?",
    "My tomato plants have yellow leaves. What should I do?",
    "Explain recursion to a beginner.",
    "Plan a three-day trip to Lisbon.",
    "What is the difference between TCP and UDP?",
]


def repeats_a_line(text: str) -> bool:
    """A runaway reply: one non-trivial line three times or more."""
    lines = Counter(line.strip() for line in text.splitlines() if len(line.strip()) > 10)
    return bool(lines) and lines.most_common(1)[0][1] >= 3


async def one_reply(client, alias: str, prompt: str, seed: int, **sampling) -> dict:
    started = time.perf_counter()
    first = None
    chunks: list[str] = []
    finish = None
    stream = await client.chat.completions.create(
        model=alias,
        messages=[
            {"role": "system", "content": DEFAULT_SYSTEM_PROMPT},
            {"role": "user", "content": prompt},
        ],
        stream=True,
        max_tokens=MAX_TOKENS,
        temperature=sampling["temperature"],
        seed=seed,
        extra_body={"repeat_penalty": sampling["repeat_penalty"]},
    )
    async for chunk in stream:
        for choice in chunk.choices[:1]:
            if choice.delta and choice.delta.content:
                first = first or time.perf_counter()
                chunks.append(choice.delta.content)
            finish = choice.finish_reason or finish
    ended = time.perf_counter()
    text = "".join(chunks)
    tokens = len(chunks)  # llama-cpp-python streams one token per chunk
    generating = ended - (first or ended)
    return {
        "prompt": prompt,
        "text": text,
        "tokens": tokens,
        "finish": finish,
        "first_token_s": (first or ended) - started,
        "tokens_per_s": (tokens - 1) / generating if tokens > 1 and generating else None,
    }


def median(values) -> float:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else float("nan")


async def sampling(server: LocalModelServer) -> tuple[str, list]:
    client = openai.AsyncOpenAI(base_url=server.base_url, api_key="local", max_retries=0)
    rows, replies = [], []
    for temperature in TEMPERATURES:
        for penalty in REPEAT_PENALTIES:
            done = []
            for (prompt, check), seed in itertools.product(PROMPTS, SEEDS):
                reply = await one_reply(
                    client, server.model.alias, prompt, seed,
                    temperature=temperature, repeat_penalty=penalty,
                )  # fmt: skip
                reply.update(
                    temperature=temperature,
                    repeat_penalty=penalty,
                    passed=bool(check.search(reply["text"])),
                    repeats=repeats_a_line(reply["text"]),
                )
                done.append(reply)
                print(
                    f"t={temperature} rp={penalty} {reply['tokens']:4d} tok "
                    f"{'ok  ' if reply['passed'] else 'FAIL'} {prompt}",
                    flush=True,
                )
            replies += done
            rows.append(
                f"| {temperature:g} | {penalty:g} | {sum(r['passed'] for r in done)}/{len(done)} "
                f"| {sum(r['finish'] == 'length' for r in done)} "
                f"| {sum(r['repeats'] for r in done)} "
                f"| {median(r['tokens'] for r in done):.0f} "
                f"| {max(r['tokens'] for r in done)} "
                f"| {median(r['first_token_s'] for r in done):.2f} "
                f"| {median(r['tokens_per_s'] for r in done):.0f} |"
            )
    head = (
        "| temperature | repeat penalty | checks passed | cut at "
        f"{MAX_TOKENS} tokens | repeating a line | median tokens | longest "
        "| median first token (s) | median tokens/s |\n|---|---|---|---|---|---|---|---|---|"
    )
    return "\n".join([head, *rows]), replies


async def test_prompts(server: LocalModelServer) -> tuple[str, list]:
    client = openai.AsyncOpenAI(base_url=server.base_url, api_key="local", max_retries=0)
    rows, replies = [], []
    for temperature in TEST_TEMPERATURES:
        cells = []
        for prompt, check in TEST_PROMPTS:
            done = [
                await one_reply(
                    client,
                    server.model.alias,
                    prompt,
                    seed,
                    temperature=temperature,
                    repeat_penalty=1.1,
                )  # fmt: skip
                for seed in TEST_SEEDS
            ]
            for reply in done:
                reply.update(temperature=temperature, passed=bool(check.search(reply["text"])))
            replies += done
            cells.append(f"{sum(r['passed'] for r in done)}/{len(done)}")
            print(f"t={temperature} {cells[-1]} {prompt}", flush=True)
        rows.append(f"| {temperature:g} | {' | '.join(cells)} |")
    head = (
        f"| temperature | {' | '.join(p for p, _ in TEST_PROMPTS)} |\n"
        f"|---|{'---|' * len(TEST_PROMPTS)}"
    )
    return "\n".join([head, *rows]), replies


async def title_table(server: LocalModelServer) -> tuple[str, list]:
    os.environ.update(server.environment())
    settings = get_settings()
    rows, results = [], []
    for question in FIRST_MESSAGES:
        parts = []
        async for read in llm.stream_reply(
            [
                {"role": "system", "content": settings.system_prompt},
                {"role": "user", "content": question},
            ],
            settings,
        ):
            parts += [part for part in read if type(part) is str]  # the answer, not thought
        answer = "".join(parts)
        started = time.perf_counter()
        title = await titles.suggest(question, answer, settings)
        took = time.perf_counter() - started
        results.append({"question": question, "answer": answer, "title": title, "s": took})
        print(f"{took:5.2f} s  {question!r} -> {title!r}", flush=True)
        first_words = repository.title_from(question)
        rows.append(f"| {first_words} | {title or '(none: first words stay)'} | {took:.2f} |")
    head = "| first words (the title without the model) | title by the model | took (s) |"
    head += "\n|---|---|---|"
    tail = f"\n\nMedian title time: {median(r['s'] for r in results):.2f} s."
    return "\n".join([head, *rows]) + tail, results


MEASURES = {"sampling": sampling, "test": test_prompts, "titles": title_table}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=list(MEASURES), nargs="+")
    args = parser.parse_args()
    model = chosen_model()
    RESULTS.mkdir(exist_ok=True)
    log = Path(tempfile.gettempdir()) / "chatstream-bench-local-model.log"
    server = LocalModelServer(model=model, log_file=log)
    await asyncio.to_thread(server.start)
    try:
        for what in args.what:
            table, raw = await MEASURES[what](server)
            note = (
                f"{model.alias}, {time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores "
                f"(python bench/local_model.py {what})\n\n"
            )
            (RESULTS / f"local-model-{what}.md").write_text(note + table + "\n")
            (RESULTS / f"local-model-{what}.json").write_text(json.dumps(raw, indent=1) + "\n")
            print(note + table)
    finally:
        server.stop()


if __name__ == "__main__":
    asyncio.run(main())
