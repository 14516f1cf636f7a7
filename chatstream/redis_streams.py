"""Live channels between workers, on Redis: one pub/sub channel per streaming message.

Under a prefix (`CHATSTREAM_REDIS_PREFIX`, default `chatstream`), per message id:

- `{prefix}:text:{id}`: the text so far, appended to by the worker whose job writes it;
- `{prefix}:think:{id}`: its reasoning so far, the same way;
- `{prefix}:live:{id}`: pub/sub, each update as `{"o": offset, "t": text added, "d": done}`,
  with `"ro"`, `"rt"` the same for the reasoning when it grew, and `"w": true` when the text
  was written whole because its answer so far became reasoning (see `streams.Channel`);
- `{prefix}:stop:{id}`: pub/sub, a Stop for the job, heard by the worker that runs it;
- `{prefix}:lease:{id}`: held by that worker, refreshed while it lives;
- `{prefix}:chat:{chat id}`: pub/sub, the id of each reply started in the chat (or
  `TITLE_CHANGED` when the model retitled it), for the tabs that show it.

A worker subscribes to a message's live channel only while a tab connected to it follows
that message, and to a stop channel only while its job runs, so it never decodes updates
nobody here watches. The followers on one worker share a mirror `Channel` per message that
keeps only the latest text: a slow tab reads the latest text when it is ready, nothing
queues up for it. A mirror that missed updates (a gap in the offsets, a Redis reconnect)
reads the whole text again from the text key.

Redis going away never stops a reply: the job keeps writing to the database, the publisher
writes the whole text again when Redis is back, and the listener resubscribes and resyncs.

**What this worker holds in Redis is kept alive by a thread, not by the event loop** (`_Keeper`):
its jobs' leases, and Reflex's per-tab state locks (`{token}_lock`, 10 s). Under overload the
loop falls behind: a burst of sends or page loads runs seconds of synchronous work in one
round (up to 5.3 s measured in `make bench`'s two-worker step at 300 replies). Reflex
writes a tab's state back only while it holds that tab's lock (a fenced write); a lock that
expired meanwhile makes it refuse the write (`LockExpiredError`), and the tab's state in Redis
stays an older copy. In that step, hundreds of writes were refused: a follower then read an
older generation of its tab, took it for "the tab moved on" and stopped, and its tab kept a
partial reply. A lease renewed on the loop could lapse the same way, and another worker's
orphan sweep end a live reply. The thread gets its turn whatever the loop does, so a slow
worker keeps its locks and leases; a dead one loses them as before (the thread dies with it),
and so does one whose loop has not run for `STALL_LIMIT` seconds (wedged, not slow). Reflex's
opportunistic locks lose writes in a second way, fixed here too (see `keep_state_locks`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import os
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field

import redis
import redis.asyncio
from redis.exceptions import RedisError
from reflex.config import get_config

from .streams import Channel, Hub, StreamingMessage

log = logging.getLogger(__name__)

TEXT_TTL = 6 * 3600
"""Seconds a reply's text key outlives a worker that died without ending it."""
RETRY_SECONDS = (0.1, 0.25, 0.5, 1.0, 2.0)
"""Backoff while Redis is unreachable; the last value repeats."""
END_ATTEMPTS = 30
"""How long (in backoff steps, about a minute) a publisher keeps trying to announce an end."""


def _backoff(attempt: int) -> float:
    return RETRY_SECONDS[min(attempt, len(RETRY_SECONDS) - 1)]


STALL_LIMIT = 60.0
"""Seconds without a sign of life from the event loop after which the keeper stops keeping
this worker's locks and leases: a loop that slow is wedged, and others may take over."""
HOLD_LIMIT = 60.0
"""Seconds after which the keeper stops extending one Reflex state lock, from when it was
taken (a lock that is never let go, by a bug, expires as Reflex meant it to)."""

_state_locks: dict[tuple[bytes, bytes], tuple[int, float]] = {}
"""Reflex state locks this process holds or waits for: (lock key, lock id) -> (expiration in
ms, time.monotonic() when asked for, then when taken). Written on the event loop, read by the
keeper thread (copies of a dict are atomic in CPython). A lock is entered before it is asked
for: on an overloaded loop the coroutine that took it may resume only seconds later, and the
keeper extends it from the moment it is ours."""

_EXTEND_LOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""
"""Extend a lock only while it is held by that id (never another holder's, nor one not yet
taken)."""


def _lease_waits(task: asyncio.Task) -> bool:
    """Whether a Reflex lease breaker still waits out its hold time (`asyncio.sleep`), so
    that cancelling it makes it write the tab's state and let the lock go, as meant."""
    return getattr(task.get_coro().cr_await, "__qualname__", None) == "sleep"


def keep_state_locks() -> None:
    """Make Reflex 0.10.1's Redis state manager keep a tab's writes under overload. Idempotent.

    1. Enter each state lock this process asks for (`StateManagerRedis._wait_lock(lock_key,
       lock_id)`) until `StateManagerRedis._lock`, the context manager that holds it, lets it
       go: the keeper extends those.
    2. With opportunistic locks (`REFLEX_OPLOCK_ENABLED`, as `make serve` runs), a worker
       keeps a tab's lock and state for a while (a lease) and writes the state back to
       Redis when the lease ends, or when another waiter for the lock appears: Reflex then
       cancels the lease's task (`_handle_lock_contention`). A cancel that lands while that
       task is already writing the state interrupts it between the write and the release:
       the lock is let go first, the write is refused (`LockExpiredError`, "Current lock id:
       None") and the tab's state in Redis goes back to an older copy. Seen in the two-worker
       step at 300 replies once the locks no longer expired. Here a lease is cancelled only
       while it still waits; one that writes ends by itself, and the waiter hears the release.
    """
    from reflex.istate.manager.redis import StateManagerRedis

    wait_lock, lock = StateManagerRedis._wait_lock, StateManagerRedis._lock
    if getattr(lock, "kept_by_chatstream", False):
        return

    async def _wait_lock(self, lock_key: bytes, lock_id: bytes) -> None:
        _state_locks[lock_key, lock_id] = (self.lock_expiration, time.monotonic())
        try:
            await wait_lock(self, lock_key, lock_id)
        except BaseException:  # not taken (another coroutine here holds it, or cancelled)
            _state_locks.pop((lock_key, lock_id), None)
            raise

    @contextlib.asynccontextmanager
    async def _lock(self, token, event_name=None):
        async with lock(self, token, event_name=event_name) as lock_id:
            key = (self._lock_key(token), lock_id)
            _state_locks[key] = (self.lock_expiration, time.monotonic())  # held from now
            try:
                yield lock_id
            finally:  # before `lock` releases it
                _state_locks.pop(key, None)

    async def _handle_lock_contention(self, message) -> None:  # Reflex's, but `_lease_waits`
        token = message["channel"].rsplit(b":", 1)[1][: -len(b"_lock_waiters")].decode()
        if message["data"] != b"sadd":
            return
        if (state_lock := self._cached_states_locks.get(token)) is None:
            return
        async with state_lock:
            lease = await self._get_local_lease(token)
            if lease is not None and _lease_waits(lease):
                lease.cancel()

    _lock.kept_by_chatstream = True
    StateManagerRedis._wait_lock, StateManagerRedis._lock = _wait_lock, _lock
    StateManagerRedis._handle_lock_contention = _handle_lock_contention


class _Keeper:
    """A thread that renews this worker's job leases and extends its Reflex state locks."""

    def __init__(self, hub: RedisHub, period: float) -> None:
        self.hub = hub
        self.period = period
        self.loop_seen = time.monotonic()
        """Updated by the hub's `_tick` on the event loop: the loop is alive."""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="redis-keeper", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def _run(self) -> None:
        client = redis.Redis.from_url(
            self.hub._url, socket_connect_timeout=2, socket_timeout=2
        )  # bytes, as Reflex's lock ids are
        extend, failing = client.register_script(_EXTEND_LOCK), False
        try:
            while not self._stop.wait(self.period):
                if time.monotonic() - self.loop_seen > STALL_LIMIT:
                    continue  # wedged: let the locks and leases lapse
                try:
                    self.keep(client, extend)
                except RedisError as exc:
                    if not failing:
                        log.warning("the keeper could not reach Redis: %s", exc)
                    failing = True
                    continue
                failing = False
        finally:
            client.close()

    def keep(self, client: redis.Redis, extend) -> None:
        hub, lease = self.hub, math.ceil(self.hub.lease)
        jobs, locks = list(hub._publishers), list(_state_locks.items())
        if not jobs and not locks:
            return
        with client.pipeline(transaction=False) as pipe:
            for public_id in jobs:
                pipe.set(hub.key("lease", public_id), hub.worker, ex=lease)
            for (key, lock_id), (expiration_ms, since) in locks:
                if time.monotonic() - since < HOLD_LIMIT:
                    extend(keys=[key], args=[lock_id, expiration_ms], client=pipe)
            pipe.execute()


@dataclass
class _Mirror:
    """This worker's copy of a message streamed by another worker, shared by its followers."""

    channel: Channel = field(default_factory=Channel)
    followers: int = 0


@dataclass(frozen=True)
class _Update:
    """One live update as `_publish` sends it: `{"o": offset, "t": text added, "d": done}`."""

    offset: int
    added: str
    done: bool
    reasoning_offset: int = 0
    reasoning_added: str = ""
    whole: bool = False

    @classmethod
    def parse(cls, data: object) -> _Update | None:
        """The update in a pub/sub payload; None when it is not one."""
        try:
            update = json.loads(data) if isinstance(data, str) else None
        except ValueError:
            return None
        if not isinstance(update, dict):
            return None
        offset, added, done = update.get("o"), update.get("t"), update.get("d")
        if type(offset) is not int or offset < 0 or not isinstance(added, str):
            return None
        r_offset, r_added, whole = update.get("ro", 0), update.get("rt", ""), update.get("w")
        if type(r_offset) is not int or r_offset < 0 or not isinstance(r_added, str):
            return None
        if not isinstance(done, bool):
            return None
        return cls(offset, added, done, r_offset, r_added, whole is True)


NEWS_CHARS = 64


def _is_news(data: object) -> bool:
    """A reply's public id or TITLE_CHANGED, as `announce` publishes them."""
    return isinstance(data, str) and 0 < len(data) <= NEWS_CHARS and data.isprintable()


class RedisHub(Hub):
    """The hub of one worker among several; the in-process `Hub` plus a Redis relay."""

    def __init__(self, url: str, *, prefix: str | None = None, lease: float | None = None):
        super().__init__()
        self.prefix = prefix or os.environ.get("CHATSTREAM_REDIS_PREFIX") or "chatstream"
        self.lease = lease or float(os.environ.get("CHATSTREAM_LEASE_SECONDS") or 10)
        self.worker = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        """Who holds a lease: host and process, for the operator (and the tests)."""
        self._url = url
        self._redis: redis.asyncio.Redis | None = None
        self._pubsub: redis.asyncio.client.PubSub | None = None
        self._mirrors: dict[str, _Mirror] = {}
        self._stoppers: dict[str, Callable[[], object]] = {}
        self._chats: dict[str, int] = {}
        """Watched chats: how many watchers this worker has for each."""
        self._publishers: dict[str, asyncio.Task] = {}
        self._tasks: list[asyncio.Task] = []
        self._subscribing = asyncio.Lock()
        lock_seconds = get_config().redis_lock_expiration / 1000
        self._keeper = _Keeper(self, period=min(self.lease, lock_seconds) / 3)
        self.connected = True
        """False while Redis is unreachable (reported once per outage in the log)."""

    # Keys -------------------------------------------------------------------------------

    def key(self, kind: str, public_id: str) -> str:
        return f"{self.prefix}:{kind}:{public_id}"

    @property
    def client(self) -> redis.asyncio.Redis:
        if self._redis is None:
            self._redis = redis.asyncio.Redis.from_url(
                self._url,
                decode_responses=True,
                encoding_errors="replace",  # bytes that are not UTF-8 are not a crash
                socket_connect_timeout=2,
                socket_timeout=5,
            )
        return self._redis

    def _report(self, exc: Exception | None) -> None:
        if exc is not None and self.connected:
            log.error("Redis unreachable (%s): live updates between workers pause", exc)
        elif exc is None and not self.connected:
            log.warning("Redis is back: live updates between workers resume")
        self.connected = exc is None

    # The job's side -----------------------------------------------------------------------

    def open(
        self, message: StreamingMessage, on_stop: Callable[[], object] | None = None
    ) -> Channel:
        channel = super().open(message)
        if on_stop is not None:
            self._stoppers[message.public_id] = on_stop
        self._publishers[message.public_id] = asyncio.get_running_loop().create_task(
            self._publish(message.public_id, channel), name=f"publish-{message.public_id}"
        )
        return channel

    async def _publish(self, public_id: str, channel: Channel) -> None:
        """Relay the channel to Redis until it closes: coalesces whatever arrived meanwhile."""
        text_key, lease_key = self.key("text", public_id), self.key("lease", public_id)
        think_key = self.key("think", public_id)
        published: int | None = None  # length of the text in Redis; None: write it whole
        version, failures, thought, rewrites = -1, 0, 0, 0
        try:
            if public_id in self._stoppers:
                await self._subscribe(self.key("stop", public_id))
            while True:
                snapshot = await channel.wait(version)
                whole = snapshot.rewrites != rewrites
                if whole:
                    published = None
                try:
                    async with self.client.pipeline(transaction=False) as pipe:
                        if published is None:
                            offset, added = 0, snapshot.text
                            r_offset, r_added = 0, snapshot.reasoning
                            pipe.set(text_key, added, ex=TEXT_TTL)
                            pipe.set(think_key, r_added, ex=TEXT_TTL)
                            pipe.set(lease_key, self.worker, ex=math.ceil(self.lease))
                        else:
                            offset, added = published, snapshot.text[published:]
                            r_offset, r_added = thought, snapshot.reasoning[thought:]
                            if added:
                                pipe.append(text_key, added)
                            if r_added:
                                pipe.append(think_key, r_added)
                        if snapshot.done:
                            pipe.delete(text_key, think_key, lease_key)
                        update = {"o": offset, "t": added, "d": snapshot.done}
                        if r_added or published is None and snapshot.reasoning:
                            update["ro"], update["rt"] = r_offset, r_added
                        if whole:
                            update["w"] = True
                        pipe.publish(self.key("live", public_id), json.dumps(update))
                        await pipe.execute()
                except RedisError as exc:
                    self._report(exc)
                    published, failures = None, failures + 1
                    if snapshot.done and failures >= END_ATTEMPTS:
                        return  # followers elsewhere find the end in the database
                    await asyncio.sleep(_backoff(failures))
                    continue
                self._report(None)
                published, version, failures = len(snapshot.text), snapshot.version, 0
                thought, rewrites = len(snapshot.reasoning), snapshot.rewrites
                if snapshot.done:
                    return
        finally:
            self._publishers.pop(public_id, None)
            if self._stoppers.pop(public_id, None) is not None:
                await self._unsubscribe(self.key("stop", public_id))

    async def _tick(self) -> None:
        """Tell the keeper the event loop runs (see `_Keeper`, which renews the leases)."""
        while True:
            self._keeper.loop_seen = time.monotonic()
            await asyncio.sleep(self._keeper.period)

    # The follower's side ------------------------------------------------------------------

    def channel(self, public_id: str) -> Channel | None:
        local = super().channel(public_id)
        mirror = self._mirrors.get(public_id)
        return local or (mirror.channel if mirror else None)

    @contextlib.asynccontextmanager
    async def follow(self, public_id: str) -> AsyncIterator[Channel | None]:
        if (local := super().channel(public_id)) is not None:
            yield local
            return
        mirror = self._mirrors.get(public_id)
        if mirror is None:
            mirror = self._mirrors[public_id] = _Mirror()
            # Subscribe first, then read the text: an update in between is then not lost.
            if await self._subscribe(self.key("live", public_id)):
                await self._resync(public_id, mirror.channel)
        mirror.followers += 1
        try:
            yield mirror.channel
        finally:
            mirror.followers -= 1
            if mirror.followers == 0 and self._mirrors.get(public_id) is mirror:
                del self._mirrors[public_id]
                await self._unsubscribe(self.key("live", public_id))

    async def _resync(self, public_id: str, channel: Channel) -> None:
        try:
            keys = (self.key("text", public_id), self.key("think", public_id))
            text, reasoning = await self.client.mget(keys)
        except RedisError as exc:
            self._report(exc)
            return
        reasoning = reasoning if reasoning is not None else channel.reasoning
        if text is not None and (
            len(text) > len(channel.text) or len(reasoning) > len(channel.reasoning)
        ):
            channel.publish(
                max(text, channel.text, key=len), max(reasoning, channel.reasoning, key=len)
            )

    async def _apply(self, public_id: str, update: _Update) -> None:
        mirror = self._mirrors.get(public_id)
        if mirror is None:
            return
        channel, offset, added = mirror.channel, update.offset, update.added
        r_offset, r_added = update.reasoning_offset, update.reasoning_added
        if update.whole:  # the answer so far became reasoning: both texts, whole
            channel.publish(added, r_added)
        elif offset > len(channel.text) or r_offset > len(channel.reasoning):
            await self._resync(public_id, channel)  # missed an update: read the whole text
        elif offset + len(added) > len(channel.text) or r_offset + len(r_added) > len(
            channel.reasoning
        ):
            text, reasoning = channel.text, channel.reasoning  # only ever longer here
            if offset + len(added) > len(text):
                text = text[:offset] + added
            if r_offset + len(r_added) > len(reasoning):
                reasoning = reasoning[:r_offset] + r_added
            channel.publish(text, reasoning)
        if update.done:
            channel.close()

    # Chats: news of replies started elsewhere ------------------------------------------------

    @contextlib.asynccontextmanager
    async def watch_chat(self, chat_id: str) -> AsyncIterator[asyncio.Queue[str]]:
        async with super().watch_chat(chat_id) as news:
            self._chats[chat_id] = self._chats.get(chat_id, 0) + 1
            if self._chats[chat_id] == 1:
                await self._subscribe(self.key("chat", chat_id))
            try:
                yield news
            finally:
                self._chats[chat_id] -= 1
                if not self._chats[chat_id]:
                    del self._chats[chat_id]
                    await self._unsubscribe(self.key("chat", chat_id))

    async def announce(self, chat_id: str, reply_id: str) -> None:
        try:  # this worker's own watchers hear it through their subscription, like the others
            await self.client.publish(self.key("chat", chat_id), reply_id)
        except RedisError as exc:
            self._report(exc)
            self._deliver(chat_id, reply_id)

    # Stop and the end, across workers -------------------------------------------------------

    async def stop_elsewhere(self, public_id: str) -> bool:
        try:
            return await self.client.publish(self.key("stop", public_id), "stop") > 0
        except RedisError as exc:
            self._report(exc)
            return False

    async def ended_elsewhere(self, public_ids: Iterable[str]) -> None:
        done = json.dumps({"o": 0, "t": "", "d": True})
        try:
            async with self.client.pipeline(transaction=False) as pipe:
                for public_id in public_ids:
                    pipe.delete(
                        self.key("text", public_id),
                        self.key("think", public_id),
                        self.key("lease", public_id),
                    )
                    pipe.publish(self.key("live", public_id), done)
                await pipe.execute()
        except RedisError as exc:
            self._report(exc)

    async def last_texts(self, public_ids: Iterable[str]) -> dict[str, str]:
        ids = list(public_ids)
        if not ids:
            return {}
        try:
            texts = await self.client.mget([self.key("text", i) for i in ids])
        except RedisError as exc:
            self._report(exc)
            return {}
        return {public_id: text for public_id, text in zip(ids, texts, strict=True) if text}

    knows_leases = True

    async def leased(self, public_ids: Iterable[str]) -> set[str] | None:
        ids = list(public_ids)
        if not ids:
            return set()
        try:
            owners = await self.client.mget([self.key("lease", i) for i in ids])
        except RedisError as exc:
            self._report(exc)
            return None
        return {public_id for public_id, owner in zip(ids, owners, strict=True) if owner}

    # The subscription ------------------------------------------------------------------------

    def _wanted(self) -> list[str]:
        return [
            self.key("worker", self.worker),  # always one: the connection never idles empty
            *(self.key("live", i) for i in self._mirrors),
            *(self.key("stop", i) for i in self._stoppers),
            *(self.key("chat", i) for i in self._chats),
        ]

    async def _subscribe(self, name: str) -> bool:
        """Subscribe now if connected; the listener subscribes to everything wanted anyway."""
        async with self._subscribing:
            if self._pubsub is None:
                return False
            try:
                await self._pubsub.subscribe(name)
                return True
            except (RedisError, RuntimeError) as exc:
                self._report(exc)
                return False

    async def _unsubscribe(self, name: str) -> None:
        if self._pubsub is not None:
            with contextlib.suppress(RedisError, RuntimeError):
                await self._pubsub.unsubscribe(name)

    async def _listen(self) -> None:
        """Read this worker's subscriptions; reconnect, resubscribe and resync after an error."""
        failures = 0
        while True:
            pubsub = self.client.pubsub(ignore_subscribe_messages=True)
            try:
                async with self._subscribing:
                    await pubsub.subscribe(*self._wanted())
                    self._pubsub = pubsub
                for public_id, mirror in list(self._mirrors.items()):
                    await self._resync(public_id, mirror.channel)
                self._report(None)
                failures = 0
                while True:
                    message = await pubsub.get_message(timeout=1.0)
                    if message is not None:
                        await self._dispatch_safely(message)
            except RedisError as exc:
                self._report(exc)
                failures += 1
            finally:
                self._pubsub = None
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
            await asyncio.sleep(_backoff(failures))

    async def _dispatch(self, name: str, data: object) -> None:
        """Act on one pub/sub message. Anyone who can reach Redis can publish anything on
        these channels: a message that is not what this app sends is logged and skipped."""
        kind, _, public_id = str(name).removeprefix(f"{self.prefix}:").partition(":")
        if kind == "live":
            update = _Update.parse(data)
            if update is None:
                return log.warning("skipped a malformed live update on %s: %.80r", name, data)
            await self._apply(public_id, update)
        elif kind == "stop" and (on_stop := self._stoppers.get(public_id)) is not None:
            on_stop()
        elif kind == "chat":
            if not _is_news(data):
                return log.warning("skipped malformed chat news on %s: %.80r", name, data)
            self._deliver(public_id, data)

    async def _dispatch_safely(self, message: dict) -> None:
        """The listener relays every worker's updates: one message it cannot handle must not
        end it (which would silence every follower on this worker)."""
        try:
            await self._dispatch(message.get("channel"), message.get("data"))
        except Exception:
            log.exception("skipped a pub/sub message that could not be handled")

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._listen(), name="redis-listen"),
            loop.create_task(self._tick(), name="redis-keeper-tick"),
        ]
        keep_state_locks()
        self._keeper.start()

    async def close(self) -> None:
        publishers = list(self._publishers.values())
        if publishers:  # the jobs have ended: let their ends reach Redis, briefly
            _, late = await asyncio.wait(publishers, timeout=2)
            self._tasks.extend(late)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await asyncio.to_thread(self._keeper.stop)
        if self._redis is not None:
            await self._redis.aclose()
