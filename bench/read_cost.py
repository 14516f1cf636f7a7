"""What reading a streamed reply from the model costs, alone: backend CPU per model chunk of
`llm.stream_reply` with N replies at once from bench/load_model.py (its own process), over
the transport the app uses (aiohttp) and over the `openai` client's default one (httpx2 and
httpcore), the same request, the same SSE parsing.

`python -m bench.read_cost 100 300` prints one JSON line:
`{"aiohttp": {"100": µs, …}, "httpx2": {…}}` (the median of three runs of each).
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import time

import openai
import uvloop

from bench.capacity import load_model
from chatstream import llm
from chatstream.settings import get_settings

CHUNKS = 200  # per reply, 20 ms apart: 4 s of streaming
RUNS = 3


async def _reply(settings, index: int) -> int:
    chunks = 0
    question = [{"role": "user", "content": f"reply {index} read-cost"}]
    async for parts in llm.stream_reply(question, settings):
        chunks += sum(isinstance(part, str) for part in parts)
    return chunks


async def _cost(replies: int, transport: str) -> float:
    """µs of this process's CPU per chunk, `replies` replies streaming at once."""
    settings = get_settings()
    if transport == "httpx2":  # the client as `openai` builds it by default
        llm._clients[(settings, asyncio.get_running_loop())] = openai.AsyncOpenAI(
            base_url=settings.base_url,
            api_key=settings.api_key,
            max_retries=0,
            timeout=llm.httpx.Timeout(settings.stall_timeout, connect=llm.CONNECT_TIMEOUT),
        )
    await _reply(settings, -1)  # the connection pool and the code warm
    cpu = time.process_time()
    chunks = sum(await asyncio.gather(*(_reply(settings, i) for i in range(replies))))
    cpu = time.process_time() - cpu
    await llm.close_clients()
    return 1e6 * cpu / chunks


def main() -> None:
    loads = [int(arg) for arg in sys.argv[1:]] or [100, 300]
    with load_model() as model:
        model.script({"read-cost": ["word "] * CHUNKS}, 0.02)
        os.environ.update(
            OPENAI_BASE_URL=f"{model.url}/v1", OPENAI_API_KEY="bench", CHATSTREAM_MODEL="load"
        )
        result = {
            transport: {
                str(load): round(
                    statistics.median(uvloop.run(_cost(load, transport)) for _ in range(RUNS)),
                    1,
                )
                for load in loads
            }
            for transport in ("aiohttp", "httpx2")
        }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
