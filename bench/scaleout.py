"""Capacity of two backend workers sharing Redis (state and live channels) and PostgreSQL:
`python -m bench.scaleout [steps...]`. Prints one JSON object on its last line.

The same capacity steps as bench/measure.py, with the tabs taking the two workers in turn.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import uuid

import uvloop

os.environ["CHATSTREAM_TEST_DATABASE"] = "postgresql"  # a fresh database for this run
import tests.conftest  # noqa: E402,F401  (created and migrated to head here)
from bench import capacity  # noqa: E402
from bench.harness import model_server  # noqa: E402
from tests.services import REDIS_URL  # noqa: E402

WORKERS = 2


async def measure(steps: list[int], model: capacity.LoadModel) -> list[dict]:
    env = capacity.model_environment(model) | {
        "REDIS_URL": REDIS_URL,
        "REFLEX_REDIS_URL": REDIS_URL,
        "CHATSTREAM_REDIS_PREFIX": f"cs-bench-{uuid.uuid4().hex[:8]}",
        "REFLEX_OPLOCK_ENABLED": "true",  # as `make serve` runs it
    }
    results = []
    with contextlib.ExitStack() as stack:
        workers = [
            stack.enter_context(capacity.backend_process("ours", env)) for _ in range(WORKERS)
        ]
        urls, pids = [url for url, _ in workers], [pid for _, pid in workers]
        for load in steps:
            step = await capacity.step("ours", urls, model, load, pids)
            print("scale-out", step, file=sys.stderr, flush=True)
            results.append(step)
            if step["p95_ms"] > 1000 or step["lost"]:
                break
    return results


def main() -> None:
    steps = [int(n) for n in sys.argv[1:]]
    with model_server(), capacity.load_model() as model:
        result = uvloop.run(measure(steps, model))
    print(
        json.dumps({"design": f"ours, {WORKERS} workers on Redis", "capacity": result}), flush=True
    )


if __name__ == "__main__":
    main()
