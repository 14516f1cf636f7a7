"""The original design's two broadcast tests, on the live-stream hub."""

import asyncio

from chatstream.jobs import LiveMessage
from chatstream.streams import Hub


async def test_broadcasts_updates_while_the_message_is_streaming():
    hub = Hub()
    message = LiveMessage(id=1, public_id="m1")
    channel = hub.open(message)
    waiter = asyncio.create_task(channel.wait(after_version=0, timeout=5))

    message.content = "Hello"
    assert hub.broadcast(message)

    snapshot = await waiter
    assert (snapshot.text, snapshot.version, snapshot.done) == ("Hello", 1, False)


async def test_does_not_broadcast_when_the_message_is_not_streaming():
    hub = Hub()
    message = LiveMessage(id=1, public_id="m1")
    channel = hub.open(message)
    message.streaming = False
    message.content = "Hello"

    assert not hub.broadcast(message)

    snapshot = await channel.wait(after_version=0, timeout=0.2)
    assert (snapshot.text, snapshot.version) == ("", 0)


async def test_end_wakes_followers_and_forgets_the_channel():
    hub = Hub()
    message = LiveMessage(id=1, public_id="m1")
    channel = hub.open(message)
    waiter = asyncio.create_task(channel.wait(after_version=0, timeout=5))

    message.streaming = False
    hub.end(message)

    assert (await waiter).done
    assert hub.channel("m1") is None
    assert not hub.broadcast(message)


async def test_a_late_follower_reads_the_text_so_far():
    hub = Hub()
    message = LiveMessage(id=1, public_id="m1")
    hub.open(message)
    for part in ("a", "b", "c"):
        message.content += part
        hub.broadcast(message)

    snapshot = await hub.channel("m1").wait(after_version=-1)
    assert (snapshot.text, snapshot.version) == ("abc", 3)
