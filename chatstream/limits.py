"""Per-user limits on starting replies: how many stream at once, and how many start a minute.

**Replies streaming at once** (`CHATSTREAM_MAX_STREAMS_PER_USER`) are counted in the
database, not in Redis: the `message.streaming` rows of the user's chats *are* the streaming
replies, on every worker, so the count is exact by construction. A reply that ends, is
stopped, or whose worker crashed (the orphan sweep marks it `interrupted`) frees its slot in
the same write that ends it; a Redis counter would need its own increments, decrements and
crash recovery, and would drift from the truth whenever one of them is lost.

The count is taken and the new reply inserted in one transaction, under a lock on the user's
row (`admit_stream`, called by `repository._open_reply`), so two sends at the same moment on
two workers are serialised: the second counts the first's reply. The lock is a no-op
`UPDATE localuser SET enabled = enabled` on that row, one statement that works on both
databases: PostgreSQL holds the row lock until the transaction ends (the other sender waits,
then its next statement, under READ COMMITTED, sees the committed reply); SQLite has one
writer at a time, and the UPDATE makes this transaction that writer before it counts (a
plain SELECT would run outside any write lock). `refuse_reply` also counts, without the lock,
before anything is saved, so the usual refusal costs nothing; the locked count is the one
that holds under a race.

**Send rate** (`CHATSTREAM_SENDS_PER_MINUTE`): a sliding window of the last 60 seconds'
starts (sends, edits, retries, regenerates). With Redis configured, one sorted set per user
under the hub's key prefix, trimmed, counted and added to by one Lua script (atomic, timed by
the Redis server's clock, so workers agree); otherwise, and while Redis is unreachable, a
window in this process's memory.
"""

from __future__ import annotations

import logging
import math
import time
import uuid
from collections import deque

import reflex as rx
import sqlalchemy as sa
from reflex_local_auth import LocalUser
from sqlmodel import Session

from .models import Chat, Message
from .settings import get_settings

log = logging.getLogger(__name__)

WINDOW_SECONDS = 60.0


def streams_notice(count: int) -> str:
    return (
        f"You have {count} replies being written at once, the most allowed. "
        "Wait for one to finish or stop it."
    )


def rate_notice(count: int, wait: float) -> str:
    return (
        f"You have sent {count} messages in the last minute, the most allowed. "
        f"Try again in {max(1, math.ceil(wait))} s."
    )


class TooManyStreams(Exception):
    """The user already has the most replies streaming that are allowed; nothing was saved."""

    def __init__(self, count: int) -> None:
        super().__init__(streams_notice(count))
        self.count = count


# Replies streaming at once -------------------------------------------------------------------


_MESSAGES, _CHATS, _USERS = Message.__table__, Chat.__table__, LocalUser.__table__
# Built once: a statement made per call costs more to build and to key for SQLAlchemy's
# compiled cache than the database takes to run it (the count on SQLite: 405 µs made per
# call through the ORM, 53 built once; a send counts twice).
_COUNT_STREAMING = (
    sa.select(sa.func.count())
    .select_from(_MESSAGES.join(_CHATS, _CHATS.c.id == _MESSAGES.c.chat_id))
    .where(_CHATS.c.owner_id == sa.bindparam("owner_id"), _MESSAGES.c.streaming.is_(True))
)
_LOCK_OWNER = (
    sa.update(_USERS)
    .where(_USERS.c.id == sa.bindparam("owner_id"))
    .values(enabled=_USERS.c.enabled)
)


def count_streaming(*, session: Session, owner_id: int) -> int:
    """How many replies stream in the user's chats (the partial index on streaming serves it)."""
    return session.connection().execute(_COUNT_STREAMING, {"owner_id": owner_id}).scalar_one()


def lock_owner(*, session: Session, owner_id: int) -> None:
    """Hold the user's row until this transaction ends (see the module docstring)."""
    session.connection().execute(_LOCK_OWNER, {"owner_id": owner_id})


def admit_stream(*, session: Session, owner_id: int, limit: int | None = None) -> None:
    """Inside the transaction that opens a reply: raise `TooManyStreams` when the user is at
    the limit (`limit`, default the setting; 0: none). The caller rolls back."""
    limit = get_settings().max_streams_per_user if limit is None else limit
    if limit <= 0:
        return
    lock_owner(session=session, owner_id=owner_id)
    if (count := count_streaming(session=session, owner_id=owner_id)) >= limit:
        log.info("user %s refused a reply: %d streaming (checked under the lock)", owner_id, count)
        raise TooManyStreams(count)


def _streams_full(user_id: int, limit: int) -> str | None:
    if limit <= 0:
        return None
    with rx.session() as session:
        count = count_streaming(session=session, owner_id=user_id)
    if count < limit:
        return None
    log.info("user %s refused a reply: %d streaming", user_id, count)
    return streams_notice(count)


# Send rate ------------------------------------------------------------------------------------


class MemoryWindow:
    """The sliding window of one process: each user's recent start times."""

    def __init__(self, window: float = WINDOW_SECONDS, max_users: int = 10_000) -> None:
        self.window = window
        self.max_users = max_users
        """Past this many users known, the idle ones are forgotten (memory stays bounded)."""
        self._starts: dict[int, deque[float]] = {}

    def admit(self, user_id: int, limit: int, now: float | None = None) -> tuple[int, float]:
        """Record a start if fewer than `limit` happened in the window. Returns the count in
        the window and 0, or, refused, the count and the seconds until one leaves it."""
        now = time.monotonic() if now is None else now
        if len(self._starts) > self.max_users:
            self.forget_idle(now)
        starts = self._starts.setdefault(user_id, deque())
        while starts and starts[0] <= now - self.window:
            starts.popleft()
        if len(starts) >= limit:
            return len(starts), starts[0] + self.window - now
        starts.append(now)
        return len(starts), 0.0

    def forget_idle(self, now: float) -> None:
        for user_id in [u for u, s in self._starts.items() if not s or s[-1] <= now - self.window]:
            del self._starts[user_id]


ADMIT_SCRIPT = """
local now = redis.call('TIME')
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local window, limit = tonumber(ARGV[2]), tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ms - window)
local count = redis.call('ZCARD', KEYS[1])
if count >= limit then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return {count, tonumber(oldest[2]) + window - ms}
end
redis.call('ZADD', KEYS[1], ms, ARGV[3])
redis.call('PEXPIRE', KEYS[1], window)
return {count + 1, 0}
"""
"""KEYS[1]: the user's sorted set of start times (ms, Redis clock). ARGV: limit, window (ms),
a unique member. Returns the count in the window and the milliseconds to wait (0: admitted)."""


async def redis_admit(client, key: str, limit: int, window: float = WINDOW_SECONDS):
    """`MemoryWindow.admit` on Redis, atomic across workers."""
    count, wait_ms = await client.eval(
        ADMIT_SCRIPT, 1, key, limit, round(window * 1000), uuid.uuid4().hex
    )
    return int(count), int(wait_ms) / 1000


_memory = MemoryWindow()


async def _admit_send(user_id: int, limit: int) -> tuple[int, float]:
    from redis.exceptions import RedisError

    from .redis_streams import RedisHub
    from .streams import get_hub

    hub = get_hub()
    if isinstance(hub, RedisHub):
        try:
            return await redis_admit(hub.client, hub.key("sends", str(user_id)), limit)
        except RedisError as exc:
            log.warning("send rate counted in this worker only: Redis unreachable (%s)", exc)
    return _memory.admit(user_id, limit)


async def _rate_full(user_id: int, limit: int) -> str | None:
    if limit <= 0:
        return None
    count, wait = await _admit_send(user_id, limit)
    if wait <= 0:
        return None
    log.info("user %s refused a reply: %d started in the last minute", user_id, count)
    return rate_notice(count, wait)


async def refuse_reply(user_id: int) -> str | None:
    """Before a reply is started for the user (send, edit, retry, regenerate) and before
    anything is saved: the notice that refuses it, or None, in which case the start is
    counted against the send rate."""
    settings = get_settings()
    return _streams_full(user_id, settings.max_streams_per_user) or await _rate_full(
        user_id, settings.sends_per_minute
    )
