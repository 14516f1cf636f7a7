"""One design's measurements in this process: `python -m bench.measure ours|naive [steps...]`.
Prints one JSON object on its last line."""

from __future__ import annotations

import json
import sys

import uvloop

import tests.conftest  # noqa: F401  (a throw-away SQLite database, migrated to head)
from bench import capacity, streaming
from bench.harness import Proxy, backend, model_server

EXCHANGES = 150
"""Short replies (20 chunks) sent 30 a second, for the backend's CPU per exchange: a send,
the new chat's page, its live reply and hand-over, its title."""


async def measure(design: str, url: str, model, steps: list[int]) -> dict:
    proxy = Proxy(url)
    result = {"design": design}
    for earlier in (0, 50):
        result[f"reply_{earlier}"] = await streaming.one_reply(design, proxy, model, earlier)
        print(design, earlier, result[f"reply_{earlier}"], file=sys.stderr, flush=True)
    if design == "ours":
        result["reply_thinking"] = await streaming.one_reply(design, proxy, model, 0, True)
        print(design, "thinking", result["reply_thinking"], file=sys.stderr, flush=True)
    result["capacity"] = []
    with (
        capacity.load_model() as load_model,
        capacity.backend_process(design, capacity.model_environment(load_model)) as (url, pid),
    ):
        for load in steps:
            step = await capacity.step(design, url, load_model, load, pid)
            print(design, step, file=sys.stderr, flush=True)
            result["capacity"].append(step)
            if step["p95_ms"] > 1000 or step["lost"]:  # far past the target: stop there
                break
        short = await capacity.step(design, url, load_model, EXCHANGES, pid, chunks=20)
        print(design, "exchanges", short, file=sys.stderr, flush=True)
        result["exchange"] = {
            "replies": EXCHANGES,
            "cpu_ms": 1000 * short["backend_cpu_s"] / EXCHANGES,
            "lost": short["lost"],
        }
    return result


def main() -> None:
    design, steps = sys.argv[1], [int(n) for n in sys.argv[2:]]
    with model_server() as model, backend(design) as url:
        result = uvloop.run(measure(design, url, model, steps))
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
