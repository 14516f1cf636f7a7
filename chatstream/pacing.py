"""How often a worker sends live updates, given how busy it is.

A worker can push only so many updates a second (each is a websocket frame: encoded,
compressed, written). With few followers each gets one every `flush_interval` (50 ms). With
many, their intervals grow together so that the worker's total stays within
`updates_per_second`: 300 followers at 1,500 a second get one every 200 ms, every chunk
still arrives, in fewer and larger updates, instead of the worker falling seconds behind.

Model streams are never paced: a read yields one HTTP chunk, that is one model chunk, however
many wait in the socket, so a pause after each read only caps a reply's rate (a pause of a
quarter interval, tried until 2026-12-02, let 200 replies fall 15 s behind).
"""

from __future__ import annotations

_followers = 0


class following:
    """`with pacing.following():` around a follower's relay counts it."""

    def __enter__(self) -> None:
        global _followers
        _followers += 1

    def __exit__(self, *exc) -> None:
        global _followers
        _followers -= 1


def follower_interval(flush_interval: float, updates_per_second: float) -> float:
    """Seconds between two updates of one follower."""
    return max(flush_interval, _followers / updates_per_second)


def followers() -> int:
    """Followers relaying in this worker now."""
    return _followers
