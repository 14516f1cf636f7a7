"""The follower: a tab's live view of the reply being written in the chat it shows.

`LiveReply` is deliberately small: each update sends only the text added since the last one,
never the text already shown nor the conversation. Its `follow` handler subscribes to the message's channel after checking,
from the tab's own session, that the tab's user owns the chat; it ends when the message
stops streaming, and hands the finished message to the chat's list in the same delta.
"""

from __future__ import annotations

import asyncio
import logging

import reflex as rx
from redis.exceptions import RedisError
from sqlmodel import select

from ..models import Chat, Message
from ..settings import get_settings
from ..streams import Channel, Snapshot, get_hub
from .session import current_user_id
from .views import MessageView

POLL_SECONDS = 1.0
"""How often a follower re-reads the database when the reply's job runs in no channel here."""
QUIET_CHECKS = 5
"""After this many quiet polls, a follower checks the database that the reply still streams
(its end may have been announced while Redis was away)."""

log = logging.getLogger(__name__)


def _message(public_id: str) -> Message | None:
    with rx.session() as session:
        return session.exec(select(Message).where(Message.public_id == public_id)).first()


def _streams_in_db(public_id: str) -> bool:
    message = _message(public_id)
    return message is not None and message.streaming


def _owned_message(public_id: str, user_id: int | None) -> Message | None:
    if user_id is None:
        return None
    with rx.session() as session:
        return session.exec(
            select(Message)
            .join(Chat, Chat.id == Message.chat_id)
            .where(Message.public_id == public_id, Chat.owner_id == user_id)
        ).first()


class LiveReply(rx.State):
    """The reply streaming into this tab; empty `message_id` when none is.

    The tab holds `base` (the text at the last full sync) and appends each `chunk` at
    `offset` (see components/markdown.jsx), so an update carries only the new text.
    """

    message_id: str = ""
    base: str = ""
    chunk: str = ""
    offset: int = 0
    _sent: int = 0
    """How much of the reply this tab holds."""
    _generation: int = 0

    def _sync(self, text: str) -> None:
        self.base, self.chunk, self.offset, self._sent = text, "", len(text), len(text)

    def _append(self, text: str) -> bool:
        if len(text) <= self._sent:
            return False
        self.chunk, self.offset, self._sent = text[self._sent :], self._sent, len(text)
        return True

    def _show(self, message: Message) -> None:
        """Point this tab at a streaming message; call `follow` next."""
        self.message_id = message.public_id
        channel = get_hub().channel(message.public_id)
        self._sync(channel.text if channel else message.content)
        self._generation += 1

    def _clear(self) -> None:
        self.message_id = ""
        self._sync("")
        self._generation += 1

    @rx.event
    async def resync(self):
        """The tab missed an update (a reconnect): send it the whole text so far once."""
        if not self.message_id:
            return
        if _owned_message(self.message_id, await current_user_id(self)) is None:
            self._clear()  # not this user's (the tab signed in as someone else since)
            return
        channel = get_hub().channel(self.message_id)
        self._sync((await self._next(self.message_id, -1, channel)).text)

    @rx.event(background=True, supersedes=True)
    async def follow(self):
        """Relay the reply this tab shows until it ends. One per tab: a newer `follow`
        cancels the one running, so calling it again never multiplies the updates."""
        async with self:
            generation, public_id = self._generation, self.message_id
            user_id = await current_user_id(self)
        if not public_id or _owned_message(public_id, user_id) is None:
            return
        async with get_hub().follow(public_id) as channel:
            async for event in self._relay(public_id, generation, channel):
                yield event

    async def _relay(self, public_id: str, generation: int, channel: Channel | None):
        """Send the reply's new text to the tab, one batch per flush interval, until it ends."""
        flush = get_settings().flush_interval
        version, quiet = -1, 0
        while True:
            snapshot = await self._next(public_id, version, channel)
            quiet = quiet + 1 if snapshot.version == version and not snapshot.done else 0
            if quiet and quiet % QUIET_CHECKS == 0 and not _streams_in_db(public_id):
                snapshot = Snapshot(snapshot.text, version, True)  # its end never reached us
            try:
                async with self:
                    # The tab's state went back (generations only grow): Redis restarted
                    # (0), or Reflex refused a write whose lock had expired (an older copy).
                    lost = self._generation < generation
                    if lost or self._generation != generation:
                        break  # the tab moved on (another chat, a newer follower) or was lost
                    if snapshot.version == version and not snapshot.done:
                        continue  # a quiet second: nothing to send
                    if snapshot.done:
                        await self._hand_over(public_id)
                        return
                    sent = self._append(snapshot.text)
            except RedisError as exc:  # the state manager's Redis is away: wait for it
                log.warning("follower of %s waits for Redis: %s", public_id, exc)
                await asyncio.sleep(POLL_SECONDS)
                continue
            version = snapshot.version
            if sent:  # batch: at most one update per flush interval; the first goes at once
                await asyncio.sleep(flush)
        if lost:  # a reload hydrates the tab again, and it follows the reply from there
            yield rx.call_script("window.location.reload()")

    @staticmethod
    async def _next(public_id: str, version: int, channel: Channel | None) -> Snapshot:
        """The next text: from the channel when there is one, else from the database."""
        if channel is not None:
            return await channel.wait(version, timeout=POLL_SECONDS)
        await asyncio.sleep(0 if version < 0 else POLL_SECONDS)
        message = _message(public_id)
        if message is None:
            return Snapshot("", version, True)
        # A streaming reply only grows, so its length orders the checkpoints.
        return Snapshot(message.content, len(message.content), not message.streaming)

    async def _hand_over(self, public_id: str) -> None:
        """The reply ended: move its saved form into the chat's message list, in one delta."""
        from .chat import ChatState

        message = _message(public_id)
        chat = await self.get_state(ChatState)
        if message is not None:
            chat._put_message(MessageView.of(message))
        self._clear()
