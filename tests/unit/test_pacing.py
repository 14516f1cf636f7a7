"""A busy worker's pacing (chatstream/pacing.py): intervals grow with the followers."""

from __future__ import annotations

import asyncio
import contextlib
from unittest import mock

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


async def test_pauses_ending_in_the_same_tick_share_one_timer_and_end_on_time():
    loop = asyncio.get_running_loop()
    started = loop.time()
    with mock.patch.object(loop, "call_at", wraps=loop.call_at) as call_at:
        pauses = [pacing.pause(0.05) for _ in range(100)]
    assert call_at.call_count == 1
    await asyncio.gather(*pauses)
    assert loop.time() - started >= 0.05 - pacing.TICK / 2


async def test_a_cancelled_pause_ends_no_other():
    """A reply stopped while its job pauses cancels its own pause, never those beside it."""
    stopped = asyncio.ensure_future(pacing.pause(0.03))
    beside = asyncio.ensure_future(pacing.pause(0.03))
    await asyncio.sleep(0)
    stopped.cancel()
    await beside
    assert stopped.cancelled() and beside.done() and not beside.cancelled()
