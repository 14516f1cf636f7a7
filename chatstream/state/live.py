"""The follower: a tab's live view of the reply being written in the chat it shows.

`LiveReply` is deliberately small: each update sends only the text added since the last one,
never the text already shown nor the conversation. Its `follow` handler subscribes to the
message's channel after checking, from the tab's own session, that the tab's user owns the
chat; it ends when the message stops streaming, and hands the finished message to the chat's
list in the same delta.

The updates in between are pushed to the tab's socket directly (`_push`): no state lock, no
state read or write (a Redis round trip each with several workers), no delta computed. Each
is a small `live` socket event that the page turns into the delta Reflex would have sent for
LiveReply's `chunk` and `offset` (components/live_wire.jsx), at a fraction of the cost and
of the bytes. The tab's state on the server keeps the text of the last full sync (`_show`,
`resync`); the page tolerates a chunk it already has and asks for a `resync` when one is
missing (components/markdown.jsx), so nothing depends on the server knowing which chunks a
tab got. How often a follower pushes depends on how many share the worker
(chatstream/pacing.py).
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from datetime import UTC, datetime

import reflex as rx
import sqlalchemy as sa
from engineio import packet as eio_packet
from redis.exceptions import RedisError
from reflex_base.constants.state import FIELD_MARKER

from .. import pacing
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
STATE_CHECK_SECONDS = 1.0
"""How often a follower reads its tab's state: that the tab still shows this reply (as seen
from any worker) and that the state was not lost (Redis restarted)."""

_running: dict[str, object] = {}
"""The follower running for each tab token in this worker. Showing another reply (or none)
removes it, which stops that follower before its next push: a push never lands on the
reply that replaced it."""

log = logging.getLogger(__name__)


_MESSAGES, _CHATS = Message.__table__, Chat.__table__


def _message(public_id: str) -> sa.Row | None:
    """The message as a read-only row (without the ORM: a follower reads it at least twice)."""
    with rx.session() as session:
        return session.connection().execute(_MESSAGE, {"public_id": public_id}).first()


def _streams_in_db(public_id: str) -> bool:
    message = _message(public_id)
    return message is not None and message.streaming


def _owned_message(public_id: str, user_id: int | None) -> sa.Row | None:
    """The message, if it is in a chat of `user_id`'s (as `_message`)."""
    if user_id is None:
        return None
    with rx.session() as session:
        return (
            session.connection()
            .execute(_OWNED_MESSAGE, {"public_id": public_id, "owner_id": user_id})
            .first()
        )


# Built once (see repository._CHAT_MESSAGES).
_MESSAGE = sa.select(_MESSAGES).where(_MESSAGES.c.public_id == sa.bindparam("public_id"))
_OWNED_MESSAGE = (
    sa.select(_MESSAGES)
    .join(_CHATS, _CHATS.c.id == _MESSAGES.c.chat_id)
    .where(
        _MESSAGES.c.public_id == sa.bindparam("public_id"),
        _CHATS.c.owner_id == sa.bindparam("owner_id"),
    )
)


BASE, CHUNK, OFFSET = "base" + FIELD_MARKER, "chunk" + FIELD_MARKER, "offset" + FIELD_MARKER
THOUGHT, THOUGHT_AT = "rchunk" + FIELD_MARKER, "roffset" + FIELD_MARKER
"""The answer's and the reasoning's new text and where it starts, as the tab's vars."""


def _whole(text: str, reasoning: str) -> dict:
    """Both texts whole, as a full sync sets them (the answer so far became reasoning)."""
    return {
        BASE: text,
        CHUNK: "",
        OFFSET: len(text),
        "rbase" + FIELD_MARKER: reasoning,
        THOUGHT: "",
        THOUGHT_AT: len(reasoning),
    }


def _thinking_ms(message: Message, channel: Channel | None, text: str) -> int:
    """For the tab's timer: while the answer has not begun, how long the model has been
    thinking; after, how long it thought (0: unknown here)."""
    if text:
        known = channel.thought_ms if channel is not None else message.reasoning_ms
        return known or message.reasoning_ms or 0
    started = message.created_at
    if started.tzinfo is None:  # SQLite hands back naive UTC
        started = started.replace(tzinfo=UTC)
    return max(0, round((datetime.now(UTC) - started).total_seconds() * 1000))


LIVE_EVENT = "live"
"""The socket event of a follower's push: `(offset, chunk)` of the answer, then `(roffset,
rchunk)` of the reasoning when it grew too; an offset of None: that text did not grow. About
25 bytes around the new text, where the delta Reflex sends for the same vars
(`{"delta": {state: {"chunk_rx_state_": …}}}`) wraps it in about 120. The page turns it back
into that delta before Reflex reads it (components/live_wire.jsx; `delta_of_push` here)."""


def _compact(fields: dict) -> tuple:
    """A push of new text as LIVE_EVENT's arguments."""
    args = (fields.get(OFFSET), fields.get(CHUNK))
    if THOUGHT in fields:
        args += (fields[THOUGHT_AT], fields[THOUGHT])
    return args


def delta_of_push(*args) -> dict:
    """LIVE_EVENT's arguments as the delta of Live's vars they stand for (what the page's
    live_wire.jsx does, for socket-level tabs)."""
    offset, chunk, roffset, rchunk = (*args, None, None)[:4]
    fields = {}
    if offset is not None:
        fields[CHUNK], fields[OFFSET] = chunk, offset
    if roffset is not None:
        fields[THOUGHT], fields[THOUGHT_AT] = rchunk, roffset
    return {Live.get_full_name(): fields}


async def _push(token: str, fields: dict) -> bool:
    """Send the tab its reply's new text (`fields`: the vars that changed); False when the
    tab's socket is not on this worker (closed, or reloaded onto another worker): its
    follower has nothing more to do. New text goes as a LIVE_EVENT; a new base (rare) as
    Reflex's own delta."""
    from ..chatstream import app

    namespace = app.event_namespace
    if namespace is None:
        return False
    manager = namespace._token_manager  # Reflex keeps which worker holds each socket here
    record = manager.token_to_socket.get(token)
    if record is None or record.instance_id != manager.instance_id:
        return False
    if BASE in fields:
        await namespace.emit("event", {"delta": {Live.get_full_name(): fields}}, to=record.sid)
        return True
    return _send_live(namespace, record.sid, _compact(fields))


def _send_live(namespace, sid: str, args: tuple) -> bool:
    """LIVE_EVENT to the socket `sid`, as `namespace.emit` would send it, without the way
    there: a packet object checked for binary parts, then a task per recipient that queues
    it for the socket's writer, and a wait for that task (86 µs of a push's 103 at 300
    replies). The packet is queued by a callback of the event loop instead: after the tasks
    of every earlier `emit` have queued theirs, as the task of this `emit` would have been.
    A push never overtakes a Reflex delta sent before it (the one that shows the reply)."""
    server = namespace.server
    socket = server.eio.sockets.get(server.manager.eio_sid_from_sid(sid, namespace.namespace))
    if socket is None or socket.closed:
        return False
    data = json.dumps([LIVE_EVENT, *args], ensure_ascii=False, separators=(",", ":"))
    packet = eio_packet.Packet(eio_packet.MESSAGE, f"2{namespace.namespace},{data}")
    asyncio.get_running_loop().call_soon(socket.queue.put_nowait, packet)
    return True


# Reflex names a state after its module and class, and the name is in every update's
# envelope: `chatstream___state___live____live_reply`, 39 bytes, would be a third of an
# update. This one is `live___live`: the class is `Live` in a module also importable as
# `live` (so that a state pickled by the state manager finds its class again).
sys.modules.setdefault("live", sys.modules[__name__])


class Live(rx.State):
    """The reply streaming into this tab; empty `message_id` when none is.

    The tab holds `base` (the text at the last full sync) and appends each `chunk` at
    `offset` (see components/markdown.jsx), so an update carries only the new text.
    """

    __module__ = "live"

    message_id: str = ""
    base: str = ""
    chunk: str = ""
    offset: int = 0
    rbase: str = ""
    """The reasoning, as `base`/`chunk`/`offset` are the answer."""
    rchunk: str = ""
    roffset: int = 0
    think_ms: int = 0
    """At the last full sync: how long the model had thought so far (see `_thinking_ms`)."""
    _sent: int = 0
    """How much of the reply this tab held at the last full sync (its follower counts on)."""
    _rsent: int = 0
    _generation: int = 0

    def _sync(self, text: str, reasoning: str = "", think_ms: int = 0) -> None:
        self.base, self.chunk, self.offset, self._sent = text, "", len(text), len(text)
        self.rbase, self.rchunk, self.roffset = reasoning, "", len(reasoning)
        self._rsent, self.think_ms = len(reasoning), think_ms

    def _show(self, message: Message) -> bool:
        """Point this tab at a streaming message, its text so far whole. True: call `follow`
        next. False: this tab's follower relays that message already and goes on (a new
        chat's page taking over from the page that sent): restarting it would hold back the
        reply's next update, often its first."""
        following = self.message_id == message.public_id and self._follower() is not None
        self.message_id = message.public_id
        channel = get_hub().channel(message.public_id)
        text = channel.text if channel else message.content
        reasoning = channel.reasoning if channel else message.reasoning
        self._sync(text, reasoning, _thinking_ms(message, channel, text))
        if following:
            return False
        self._moved_on()
        return True

    def _follower(self) -> object | None:
        """The follower running for this tab in this worker, if any."""
        return _running.get(self.router.session.client_token)

    def _clear(self) -> None:
        self.message_id = ""
        self._sync("")
        self._moved_on()

    def _moved_on(self) -> None:
        self._generation += 1
        _running.pop(self.router.session.client_token, None)

    @rx.event
    async def resync(self):
        """The tab missed an update (a reconnect): send it the whole text so far once."""
        if not self.message_id:
            return
        message = _owned_message(self.message_id, await current_user_id(self))
        if message is None:
            self._clear()  # not this user's (the tab signed in as someone else since)
            return
        channel = get_hub().channel(self.message_id)
        snapshot = await self._next(self.message_id, -1, channel)
        think_ms = _thinking_ms(message, channel, snapshot.text)
        self._sync(snapshot.text, snapshot.reasoning, think_ms)

    @rx.event(background=True, supersedes=True)
    async def follow(self):
        """Relay the reply this tab shows until it ends. One per tab: a newer `follow`
        cancels the one running, so calling it again never multiplies the updates."""
        async with self:
            generation, public_id = self._generation, self.message_id
            sent = (self._sent, self._rsent)
            token = self.router.session.client_token
            user_id = await current_user_id(self)
        if not public_id or _owned_message(public_id, user_id) is None:
            return
        me = _running[token] = object()
        try:
            with pacing.following():
                async with get_hub().follow(public_id) as channel:
                    relay = self._relay(public_id, generation, channel, token, me, sent)
                    async for event in relay:
                        yield event
        finally:
            if _running.get(token) is me:
                del _running[token]

    async def _relay(
        self,
        public_id: str,
        generation: int,
        channel: Channel | None,
        token: str,
        me: object,
        sent_at_sync: tuple[int, int],
    ):
        """Send the reply's new text (answer and reasoning) to the tab, one batch per
        interval, until it ends."""
        settings = get_settings()
        loop = asyncio.get_running_loop()
        version, quiet, checked, lost = -1, 0, loop.time(), False
        (sent, rsent), rewrites, whole = sent_at_sync, -1, False
        while True:
            snapshot = await self._next(public_id, version, channel)
            if _running.get(token) is not me:
                return  # the tab shows another reply now (or none), or a newer follower runs
            quiet = quiet + 1 if snapshot.version == version and not snapshot.done else 0
            if quiet and quiet % QUIET_CHECKS == 0 and not _streams_in_db(public_id):
                # its end never reached us
                snapshot = Snapshot(snapshot.text, version, True, snapshot.reasoning)
            if snapshot.done or loop.time() - checked >= STATE_CHECK_SECONDS:
                checked = loop.time()
                try:
                    async with self:
                        # The tab's state went back (generations only grow): Redis restarted
                        # (0), or Reflex refused a write whose lock had expired (an older copy).
                        lost = self._generation < generation
                        if lost or self._generation != generation:
                            break  # the tab moved on (seen by another worker) or was lost
                        if snapshot.done:
                            await self._hand_over(public_id)
                            return
                except RedisError as exc:  # the state manager's Redis is away: wait for it
                    log.warning("follower of %s waits for Redis: %s", public_id, exc)
                    await asyncio.sleep(POLL_SECONDS)
                    continue
            version, text, thought = snapshot.version, snapshot.text, snapshot.reasoning
            if len(text) < sent or (rewrites >= 0 and snapshot.rewrites != rewrites):
                whole = True  # the answer so far became reasoning: both go whole, once
            rewrites = snapshot.rewrites
            if whole and text:  # (an empty base would not tell the page to start again)
                fields, whole = _whole(text, thought), False
            elif len(text) > sent and not whole or len(thought) > rsent:
                fields = {}
                if len(text) > sent and not whole:
                    fields[CHUNK], fields[OFFSET] = text[sent:], sent
                if len(thought) > rsent:
                    fields[THOUGHT], fields[THOUGHT_AT] = thought[rsent:], rsent
            else:
                fields = None
            if fields is not None:
                if not await _push(token, fields):
                    return  # the tab's socket is gone from this worker
                sent, rsent = (sent if whole else len(text)), len(thought)
                # batch: one update per interval at most; the first goes at once
                interval = pacing.follower_interval(
                    settings.flush_interval, settings.updates_per_second
                )
                await pacing.pause(interval)
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
        size = len(message.content) + len(message.reasoning)
        return Snapshot(message.content, size, not message.streaming, message.reasoning)

    async def _hand_over(self, public_id: str) -> None:
        """The reply ended: move its saved form into the chat's message list, in one delta."""
        from .chat import ChatState

        message = _message(public_id)
        chat = await self.get_state(ChatState)
        if message is not None:
            chat._put_message(MessageView.of(message))
        self._clear()


LiveReply = Live
"""The name the rest of the app knows it by."""
