"""A busy worker's pacing (chatstream/pacing.py): intervals grow with the followers."""

from __future__ import annotations

import contextlib

from chatstream import pacing


def test_few_followers_get_the_flush_interval_and_many_share_the_budget():
    assert pacing.follower_interval(0.05, 1500) == 0.05
    with contextlib.ExitStack() as stack:
        for _ in range(300):
            stack.enter_context(pacing.following())
        assert pacing.followers() == 300
        assert pacing.follower_interval(0.05, 1500) == 0.2  # 300 × 5 a second = 1,500
    assert pacing.followers() == 0


def test_few_streams_are_read_as_they_come_and_many_share_the_read_budget():
    assert pacing.read_pause(7500) == 0.0
    with contextlib.ExitStack() as stack:
        for _ in range(50):
            stack.enter_context(pacing.streaming())
        assert pacing.read_pause(7500) == 0.0  # under MIN_READ_PAUSE: nothing to gather
        for _ in range(250):
            stack.enter_context(pacing.streaming())
        assert pacing.streams() == 300
        assert pacing.read_pause(7500) == 0.04  # 300 × 25 reads a second = 7,500
    assert pacing.streams() == 0
