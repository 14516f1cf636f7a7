"""How often a worker sends live updates and reads model streams, given how busy it is.

A worker can push only so many updates a second (each is a websocket frame: encoded,
compressed, written). With few followers each gets one every `flush_interval` (50 ms). With
many, their intervals grow together so that the worker's total stays within
`updates_per_second`: 300 followers at 1,500 a second get one every 200 ms, every chunk
still arrives, in fewer and larger updates, instead of the worker falling seconds behind.

Under the same load a job reads its model stream at most every `read_pause()`: the chunks
that came in meanwhile wait in the socket and are read in one go, which costs one read
instead of several. It is at most a quarter of the follower's interval, so a chunk is not
shown later for it.
"""

from __future__ import annotations

BUSY_JOBS = 32
"""From this many replies streaming in the worker, reads are paced."""

_followers = 0
_jobs = 0


class following:
    """`with pacing.following():` around a follower's relay counts it."""

    def __enter__(self) -> None:
        global _followers
        _followers += 1

    def __exit__(self, *exc) -> None:
        global _followers
        _followers -= 1


class streaming:
    """`with pacing.streaming():` around a job's model stream counts it."""

    def __enter__(self) -> None:
        global _jobs
        _jobs += 1

    def __exit__(self, *exc) -> None:
        global _jobs
        _jobs -= 1


def follower_interval(flush_interval: float, updates_per_second: float) -> float:
    """Seconds between two updates of one follower."""
    return max(flush_interval, _followers / updates_per_second)


def read_pause(flush_interval: float, updates_per_second: float) -> float:
    """Seconds a job waits after a read of its model stream before the next one."""
    if _jobs < BUSY_JOBS:
        return 0.0
    return follower_interval(flush_interval, updates_per_second) / 4


def load() -> tuple[int, int]:
    """(followers, jobs) in this worker now."""
    return _followers, _jobs
