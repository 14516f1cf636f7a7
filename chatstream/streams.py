"""The live-stream hub: one channel per streaming message.

The original design's rule holds here: an update is published only while its message is
streaming. A channel keeps the latest full text and a version number, not a queue of
deltas, so a follower that is slow or joins late simply reads the current text: memory stays
bounded, and what a tab shows is always a prefix of the final text.

`Hub` is the single-process hub (the embedded default). With Redis configured, `get_hub()`
returns `redis_streams.RedisHub`, which relays the same channels between workers.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol

from reflex.config import get_config


class StreamingMessage(Protocol):
    """What the hub needs of a message: the `Message` row or the job's live copy of it."""

    public_id: str
    content: str
    reasoning: str
    streaming: bool


@dataclass(frozen=True)
class Snapshot:
    text: str
    version: int
    done: bool
    reasoning: str = ""
    rewrites: int = 0
    """How many times the text was replaced by a shorter one (see `Channel.rewrites`)."""


@dataclass
class Channel:
    """The latest text (the answer) and reasoning of one streaming message, and a way to wait
    for the next change. Both only grow, except once in a rare reply: one that began without
    `<think>` and then closed it, whose answer so far became reasoning (`rewrites`)."""

    text: str = ""
    version: int = 0
    done: bool = False
    reasoning: str = ""
    rewrites: int = 0
    thought_ms: int | None = None
    """How long the model thought before its answer began, once known (in this process)."""
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    def snapshot(self) -> Snapshot:
        return Snapshot(self.text, self.version, self.done, self.reasoning, self.rewrites)

    def _wake(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    def publish(self, text: str, reasoning: str | None = None) -> None:
        if len(text) < len(self.text):
            self.rewrites += 1
        self.text = text
        if reasoning is not None:
            self.reasoning = reasoning
        self.version += 1
        self._wake()

    def close(self) -> None:
        self.done = True
        self._wake()

    async def wait(self, after_version: int, timeout: float | None = None) -> Snapshot:
        """Return once the version is past `after_version` or the channel closed (or timeout)."""
        if self.version <= after_version and not self.done:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):  # (no task per wait, as wait_for makes)
                    await self._changed.wait()
        return self.snapshot()


WATCH_BUFFER = 8
"""News a chat watcher may have unread; older news is dropped (the watcher reloads anyway)."""
TITLE_CHANGED = ":title"
"""News of a chat whose title changed (the model wrote one), instead of a reply id; public
ids never contain a colon."""
BRANCH_CHANGED = ":branch"
"""News of a chat whose current branch was switched (a version chosen in some tab)."""


class Hub:
    """Channels by message public id. Publishing to a message that is not streaming does nothing.

    In one process the job and its followers share the channel object. Messages whose job
    runs in another process have no channel here; their followers read the database.
    """

    def __init__(self) -> None:
        self._channels: dict[str, Channel] = {}
        self._watchers: dict[str, set[asyncio.Queue[str]]] = {}

    def open(
        self, message: StreamingMessage, on_stop: Callable[[], object] | None = None
    ) -> Channel:
        """A job starts writing `message`. `on_stop`: how another process asks it to stop."""
        channel = self._channels[message.public_id] = Channel(
            text=message.content, reasoning=message.reasoning or ""
        )
        return channel

    def channel(self, public_id: str) -> Channel | None:
        return self._channels.get(public_id)

    def broadcast(self, message: StreamingMessage) -> bool:
        """Publish the message's current text to its followers, only while it streams."""
        channel = self._channels.get(message.public_id)
        if not message.streaming or channel is None or channel.done:
            return False
        channel.publish(message.content, message.reasoning)
        channel.thought_ms = getattr(message, "reasoning_ms", None)
        return True

    def end(self, message: StreamingMessage) -> None:
        """The message stopped streaming: wake its followers one last time and forget it."""
        channel = self._channels.pop(message.public_id, None)
        if channel is not None:
            channel.close()

    @contextlib.asynccontextmanager
    async def follow(self, public_id: str) -> AsyncIterator[Channel | None]:
        """A follower's channel for the message, or None when its job runs in no channel here."""
        yield self._channels.get(public_id)

    @contextlib.asynccontextmanager
    async def watch_chat(self, chat_id: str) -> AsyncIterator[asyncio.Queue[str]]:
        """The ids of replies started in this chat from now on (by any tab, any worker), and
        `TITLE_CHANGED` when its title changes."""
        news: asyncio.Queue[str] = asyncio.Queue(maxsize=WATCH_BUFFER)
        self._watchers.setdefault(chat_id, set()).add(news)
        try:
            yield news
        finally:
            watchers = self._watchers.get(chat_id, set())
            watchers.discard(news)
            if not watchers:
                self._watchers.pop(chat_id, None)

    async def announce(self, chat_id: str, reply_id: str) -> None:
        """A reply started in this chat (or `TITLE_CHANGED`): tell the tabs that watch it."""
        self._deliver(chat_id, reply_id)

    def _deliver(self, chat_id: str, reply_id: str) -> None:
        for news in self._watchers.get(chat_id, ()):
            if news.full():  # a watcher that is behind only needs the latest news
                news.get_nowait()
            news.put_nowait(reply_id)

    async def stop_elsewhere(self, public_id: str) -> bool:
        """Ask the process whose job writes `public_id` to stop it; False if none answered."""
        return False

    async def ended_elsewhere(self, public_ids: Iterable[str]) -> None:
        """These messages were ended in the database by a process that runs no job for them."""

    async def last_texts(self, public_ids: Iterable[str]) -> dict[str, str]:
        """The latest text of these messages that the hub holds (beyond the database's)."""
        return {}

    knows_leases = False
    """Whether `leased` can tell which replies have a live job in another process."""

    async def leased(self, public_ids: Iterable[str]) -> set[str] | None:
        """Which of these messages a live job holds a lease on, in any process; None: unknown."""
        return None

    async def start(self) -> None:
        """Start background work (the app's lifespan)."""

    async def close(self) -> None:
        """Stop background work."""


_hub: Hub | None = None


def get_hub() -> Hub:
    """This process's hub: relayed through Redis when Reflex uses Redis, else in-process."""
    global _hub
    if _hub is None:
        if url := get_config().redis_url:
            from .redis_streams import RedisHub

            _hub = RedisHub(url)
        else:
            _hub = Hub()
    return _hub


if get_config().redis_url:
    # Before Reflex makes its Redis state manager (the app is created after this import):
    # it subscribes to lock news with its methods as they are then (see keep_state_locks).
    from .redis_streams import keep_state_locks

    keep_state_locks()
