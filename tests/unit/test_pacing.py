"""A busy worker's pacing (chatstream/pacing.py): intervals grow with the followers."""

from __future__ import annotations

import contextlib

from chatstream import pacing


def test_few_followers_get_the_flush_interval_and_many_share_the_budget():
    assert pacing.follower_interval(0.05, 1500) == 0.05
    with contextlib.ExitStack() as stack:
        for _ in range(300):
            stack.enter_context(pacing.following())
        assert pacing.load() == (300, 0)
        assert pacing.follower_interval(0.05, 1500) == 0.2  # 300 × 5 a second = 1,500
    assert pacing.load() == (0, 0)


def test_reads_are_paced_only_from_busy_jobs_on():
    with contextlib.ExitStack() as stack:
        for _ in range(pacing.BUSY_JOBS - 1):
            stack.enter_context(pacing.streaming())
        assert pacing.read_pause(0.05, 1500) == 0.0
        stack.enter_context(pacing.streaming())
        assert pacing.read_pause(0.05, 1500) == 0.05 / 4
    assert pacing.load() == (0, 0)
