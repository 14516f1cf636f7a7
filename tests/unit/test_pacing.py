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
