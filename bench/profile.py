"""Where a chunk's microseconds go: `python -m bench.profile [load]` runs one capacity step
(`load` replies at once, 100 by default) with py-spy sampling the backend worker for 8 s of
steady streaming, sorts the samples into the stages of a chunk's path, and turns their shares
into microseconds per model chunk with the step's measured CPU. Prints one JSON object on its
last line.
"""

from __future__ import annotations

import asyncio
import collections
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import tests.conftest  # noqa: F401  (a throw-away SQLite database, migrated to head)
from bench import capacity
from bench.harness import model_server

STAGES = [  # (stage, any of these frames in a sample's stack), first match wins
    (
        "read the model's socket (aiohttp: its parser, the stream's reads)",
        ["Response.aiter_raw", "ResponseHandler.data_received"],
    ),
    ("parse the chunk (SSE, JSON)", ["_parts ", "EventDecoder.feed"]),
    ("stall watchdog", ["_Watchdog._check", "Timeout.reschedule"]),
    ("checkpoints (group commit, a thread)", ["_save_texts"]),
    (
        "push updates (socket.io, websocket)",
        ["_push ", "AsyncServer.emit", "_websocket_handler.<locals>.writer", "_send_eio_packet"],
    ),
    ("followers (wake, checks)", ["_relay ", "Channel.wait"]),
    ("job (append, publish)", ["_stream "]),
    ("Reflex events (sends, page events)", ["_process_event_queue_entry"]),
]
OTHER = "event loop, sockets, the rest"
IDLE = ["(concurrent/futures/thread.py:81)", "EpollSelector.select"]
"""Frames of a thread that waits: for work (the thread pool), or for the sockets (the loop)."""


def stages(samples: str) -> dict[str, float]:
    """Each stage's share of the worker's busy samples."""
    counts: collections.Counter[str] = collections.Counter()
    for line in samples.splitlines():
        stack, _, n = line.rpartition(" ")
        if not stack or any(idle in stack for idle in IDLE):
            continue
        stage = next((s for s, frames in STAGES if any(f in stack for f in frames)), OTHER)
        counts[stage] += int(n)
    total = sum(counts.values()) or 1
    return {stage: counts[stage] / total for stage, _ in [*STAGES, (OTHER, [])]}


async def profile(load: int) -> dict:
    with (
        model_server(),
        capacity.load_model() as model,
        capacity.backend_process("ours", capacity.model_environment(model)) as (url, pid),
        tempfile.TemporaryDirectory() as work,
    ):
        out = Path(work) / "samples.txt"
        spy = ["py-spy", "record", "--gil", "-p", str(pid), "-f", "raw", "-r", "100", "-d", "8"]
        command = ["bash", "-c", f'sleep {load / capacity.SENDS_PER_SECOND + 2}; exec "$@"', "-"]
        recorder = subprocess.Popen(
            [*command, *spy, "-o", str(out)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        step = await capacity.step("ours", url, model, load, pid)
        recorder.wait(60)
        shares = stages(out.read_text())
        if keep := os.environ.get("BENCH_PROFILE_SAMPLES"):
            Path(keep).write_text(out.read_text())
    per_chunk_us = 1000 * step["cpu_per_1000"]
    return {
        "load": load,
        "step": step,
        "per_chunk_us": per_chunk_us,
        "stages_us": {stage: share * per_chunk_us for stage, share in shares.items()},
    }


def main() -> None:
    load = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    print(json.dumps(asyncio.run(profile(load))), flush=True)


if __name__ == "__main__":
    main()
