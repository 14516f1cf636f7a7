"""The live-stream hub: one channel per streaming message, in this process.

The original design's rule holds here: an update is published only while its message is
streaming. A channel keeps the latest full text and a version number, not a queue of
deltas, so a follower that is slow or joins late simply reads the current text: memory stays
bounded, and what a tab shows is always a prefix of the final text.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import Protocol


class StreamingMessage(Protocol):
    """What the hub needs of a message: the `Message` row or the job's live copy of it."""

    public_id: str
    content: str
    streaming: bool


@dataclass(frozen=True)
class Snapshot:
    text: str
    version: int
    done: bool


@dataclass
class Channel:
    """The latest text of one streaming message, and a way to wait for the next change."""

    text: str = ""
    version: int = 0
    done: bool = False
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    def snapshot(self) -> Snapshot:
        return Snapshot(self.text, self.version, self.done)

    def _wake(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    def publish(self, text: str) -> None:
        self.text = text
        self.version += 1
        self._wake()

    def close(self) -> None:
        self.done = True
        self._wake()

    async def wait(self, after_version: int, timeout: float | None = None) -> Snapshot:
        """Return once the version is past `after_version` or the channel closed (or timeout)."""
        if self.version <= after_version and not self.done:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), timeout)
        return self.snapshot()


class Hub:
    """Channels by message public id. Publishing to a message that is not streaming does nothing."""

    def __init__(self) -> None:
        self._channels: dict[str, Channel] = {}

    def open(self, message: StreamingMessage) -> Channel:
        channel = self._channels[message.public_id] = Channel(text=message.content)
        return channel

    def channel(self, public_id: str) -> Channel | None:
        return self._channels.get(public_id)

    def broadcast(self, message: StreamingMessage) -> bool:
        """Publish the message's current text to its followers, only while it streams."""
        channel = self._channels.get(message.public_id)
        if not message.streaming or channel is None or channel.done:
            return False
        channel.publish(message.content)
        return True

    def end(self, message: StreamingMessage) -> None:
        """The message stopped streaming: wake its followers one last time and forget it."""
        channel = self._channels.pop(message.public_id, None)
        if channel is not None:
            channel.close()


hub = Hub()
