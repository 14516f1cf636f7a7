"""How often a worker reads its model streams and sends live updates, given how busy it is.

A worker can push only so many updates a second (each is a websocket frame: encoded,
compressed, written). With few followers each gets one every `flush_interval` (50 ms). With
many, their intervals grow together so that the worker's total stays within
`updates_per_second`: 300 followers at 3,000 a second get one every 100 ms; every chunk
still arrives, in fewer and larger updates, instead of the worker falling seconds behind.

Reading a model stream is paced the same way. Each read of a reply's stream costs a wake-up
of its job and a pass through the HTTP client's and our own layers, whether it brings one
chunk or twenty: the aiohttp transport hands over everything its buffer holds. With few
streams a job reads each chunk as it comes. With many, each job pauses between reads so that
the worker makes at most `reads_per_second` of them in all (300 streams at 7,500 a second:
one read every 40 ms, two chunks each), and a chunk waits in the socket's buffer for at most
that pause. Pauses that end within the same few milliseconds share one timer of the event
loop (`pause`).

The two budgets were chosen on one worker streaming 300 replies (`python -m bench.profile`,
six runs each on a 2-core machine): at 3,000 updates and 7,500 reads a second the p95 of a
chunk's latency was 191–363 ms, median 200; at 1,500 and 5,000 it was 271–373 ms, median
274, for 74 against 80 µs of the worker's CPU a chunk (a followers' interval of 200 ms
instead of 100 is most of a chunk's wait).
"""

from __future__ import annotations

import asyncio

MIN_READ_PAUSE = 0.01
"""A shorter pause than this between two reads of a stream saves nothing: the model's
chunks come about 20 ms apart, so a read would still bring one at a time."""


class _Count:
    """How many run inside `with count:` now (in this worker: one event loop)."""

    def __init__(self) -> None:
        self.now = 0

    def __enter__(self) -> None:
        self.now += 1

    def __exit__(self, *exc) -> None:
        self.now -= 1


_followers, _streams = _Count(), _Count()


def following() -> _Count:
    """`with pacing.following():` around a follower's relay counts it."""
    return _followers


def streaming() -> _Count:
    """`with pacing.streaming():` around a job's read of its model stream counts it."""
    return _streams


def follower_interval(flush_interval: float, updates_per_second: float) -> float:
    """Seconds between two updates of one follower."""
    return max(flush_interval, _followers.now / updates_per_second)


def read_pause(reads_per_second: float) -> float:
    """Seconds a job waits after a read of its model stream before the next (0: none)."""
    pause = _streams.now / reads_per_second
    return pause if pause >= MIN_READ_PAUSE else 0.0


def followers() -> int:
    """Followers relaying in this worker now."""
    return _followers.now


def streams() -> int:
    """Model streams read in this worker now."""
    return _streams.now


TICK = 0.005
"""Pauses end on a grid of this many seconds (the nearest point to when they are due)."""
_due: dict[tuple[asyncio.AbstractEventLoop, float], list[asyncio.Future]] = {}


def pause(seconds: float) -> asyncio.Future:
    """`await pacing.pause(seconds)`: as `asyncio.sleep(seconds)`, give or take half a `TICK`.

    300 streams paused 40 ms after each read and 300 followers between their updates are
    10,000 sleeps a second in one worker, each a timer of the event loop of its own: the
    pauses that end in the same tick share one timer instead (200 a second at most). Each
    pause still has a future of its own: one cancelled (a reply stopped) is no other's."""
    loop = asyncio.get_running_loop()
    key = (loop, round((loop.time() + seconds) / TICK) * TICK)
    if (waiting := _due.get(key)) is None:
        waiting = _due[key] = []
        loop.call_at(key[1], _end, key)
    waiting.append(future := loop.create_future())
    return future


def _end(key: tuple[asyncio.AbstractEventLoop, float]) -> None:
    for future in _due.pop(key):
        if not future.done():  # (cancelled)
            future.set_result(None)
