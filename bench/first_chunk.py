"""The first chunk's time to the DOM, with and without the model's time to first token:
`python -m bench.first_chunk [rounds]` (Chromium, production build, about 3 minutes).

`make bench`'s scripted model sends its first chunk 10 ms after the request, so that chunk
reaches the page while the page still renders the reply's start (the question, the empty
reply, and in a new chat the chat's own page). A real model thinks first (a network round
trip and the prompt's prefill: 100s of ms). Here the same reply, in a new chat and after 50
messages, once with the first chunk at once and once 200 ms after the headers, `rounds`
times each (3 by default), alternating. Prints one JSON object on its last line: for each
case, every run's first chunk→DOM ms and the page's share of it, and the median."""

from __future__ import annotations

import json
import statistics
import sys

from bench import browser as bench_browser

THINKING = 0.2
"""Seconds from the response's headers to its first chunk, the model's time to first token."""


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    runs: dict[str, list[tuple[float, float | None]]] = {}
    with bench_browser.chromium_on("ours", "prod") as (browser, url, proxy, model):
        bench_browser.one_reply("ours", browser, url, proxy, model, 0)  # warm-up
        for _ in range(rounds):
            for first_delay in (0.0, THINKING):
                for earlier in (0, 50):
                    row = bench_browser.one_reply(
                        "ours", browser, url, proxy, model, earlier, first_delay=first_delay
                    )
                    case = f"{'new chat' if not earlier else 'after 50'}, " + (
                        f"first token after {1000 * first_delay:.0f} ms"
                        if first_delay
                        else "first token at once"
                    )
                    runs.setdefault(case, []).append((row["first_ms"], row["first_page_ms"]))
                    print(case, runs[case][-1], file=sys.stderr, flush=True)
    result = {
        case: {
            "first_ms": [round(ms, 1) for ms, _ in rows],
            "page_ms": [page for _, page in rows],
            "median_ms": round(statistics.median(ms for ms, _ in rows), 1),
        }
        for case, rows in runs.items()
    }
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
