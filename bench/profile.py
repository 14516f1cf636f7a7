"""Where a chunk's microseconds go: `python -m bench.profile [load]` runs one capacity step
(`load` replies at once, 300 by default) with py-spy sampling the backend worker for 8 s of
steady streaming (from two seconds after the last question: no exchange starts or ends in
it), sorts the samples into the stages of a chunk's path, and turns their shares into
microseconds per model chunk with the worker's CPU in that window. Prints one JSON object on
its last line.
"""

from __future__ import annotations

import collections
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
import uvloop

import tests.conftest  # noqa: F401  (a throw-away SQLite database, migrated to head)
from bench import capacity
from bench.harness import model_server

SECONDS = 8
RATE = 100
"""Samples a second."""
STAGES = [  # (stage, any of these frames in a sample's stack), first match wins
    (
        "read the model's socket (aiohttp: its parser, its buffer)",
        ["StreamReader.readany", "ResponseHandler.data_received", "Response.aiter_raw"],
    ),
    ("parse the chunk (SSE, JSON)", ["_parts ", "EventDecoder.feed", "_Reply.read"]),
    (
        "pauses between reads and updates, stall watchdog",
        [
            "_Watchdog._check",
            "sleep (asyncio",
            "pause (chatstream/pacing",
            "_end (chatstream/pacing",
        ],
    ),
    ("checkpoints (group commit, a thread)", ["_save_texts"]),
    (
        "push updates (engine.io queue, its writer, websocket)",
        ["_push ", "_send_live", "_websocket_handler.<locals>.writer", "AsyncServer.emit"],
    ),
    ("followers (wake, checks)", ["_relay ", "Channel.wait"]),
    ("job (append, publish)", ["_stream "]),
    ("Reflex events (page events, hand-overs)", ["_process_event_queue_entry"]),
]
OTHER = "event loop, sockets, the rest"
IDLE = ["(concurrent/futures/thread.py:81)", "EpollSelector.select"]
"""Frames of a thread that waits: for work (the thread pool), or for the sockets (the loop)."""


def stages(samples: str) -> dict[str, int]:
    """How many samples of the worker holding the interpreter lock fell in each stage (a
    sample without Python frames: uvloop's own code, the event loop)."""
    counts: collections.Counter[str] = collections.Counter()
    for line in samples.splitlines():
        stack, _, n = line.rpartition(" ")
        if any(idle in stack for idle in IDLE):
            continue
        stage = next((s for s, frames in STAGES if any(f in stack for f in frames)), OTHER)
        counts[stage] += int(n)
    return {stage: counts[stage] for stage, _ in [*STAGES, (OTHER, [])]}


OUTSIDE = "outside the interpreter lock (system calls, SQLite and zlib in C)"


async def profile(load: int) -> dict:
    with (
        model_server(),
        capacity.load_model() as model,
        capacity.backend_process("ours", capacity.model_environment(model)) as (url, pid),
        tempfile.TemporaryDirectory() as work,
    ):
        out, cpu = Path(work) / "samples.txt", []
        calm = load / capacity.SENDS_PER_SECOND + 2  # seconds from the first question

        def record() -> None:  # (a thread: the step's event loop must not wait for it)
            time.sleep(calm)
            worker = psutil.Process(pid)
            before = sum(worker.cpu_times()[:2])
            spy = ["py-spy", "record", "--gil", "-p", str(pid), "-f", "raw", "-r", str(RATE)]
            subprocess.run(
                [*spy, "-d", str(SECONDS), "-o", str(out)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            cpu.append(sum(worker.cpu_times()[:2]) - before)

        recorder = threading.Thread(target=record)
        step = await capacity.step("ours", url, model, load, pid, on_go=recorder.start)
        recorder.join()
        counts = stages(out.read_text())
        if keep := os.environ.get("BENCH_PROFILE_SAMPLES"):
            Path(keep).write_text(out.read_text())
    chunks = SECONDS * load / capacity.DELAY  # what the model sent in the window
    us = {stage: 1e6 * n / RATE / chunks for stage, n in counts.items()}  # a sample: 1/RATE s
    per_chunk_us = 1e6 * cpu[0] / chunks
    return {
        "load": load,
        "step": step,
        "per_chunk_us": per_chunk_us,
        "stages_us": us | {OUTSIDE: max(per_chunk_us - sum(us.values()), 0.0)},
    }


def main() -> None:
    load = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    print(json.dumps(uvloop.run(profile(load))), flush=True)


if __name__ == "__main__":
    main()
