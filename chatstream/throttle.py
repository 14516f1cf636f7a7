"""Failed sign-ins, counted per account and per client; too many in a row are refused a while.

A key is `account:<hash of the username>` or `client:<IP address>`. Each failed sign-in adds
one to the key's count and stamps its time; a count that reaches the limit (settings
`SignInLimits`) refuses the key until `lockout` seconds after the last failure, doubling with
every failure past the limit, up to `max_lockout`. A key forgets everything `window` seconds
after its lockout ends. A success forgets the account's count.

The count is taken *before* the password is checked (and given back on success), so a burst
of sign-ins from many tabs at once cannot slip past the limit while bcrypt runs.

With Redis configured (Reflex's `redis_url`), the counts are shared by every worker, under
`{CHATSTREAM_REDIS_PREFIX}:signin:{key}`; else each process counts its own. When Redis is
unreachable, a worker counts in memory meanwhile and says so once in the log.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from dataclasses import dataclass

import redis.asyncio as redis
from redis.exceptions import RedisError

from .settings import SignInLimits, get_signin_limits

log = logging.getLogger(__name__)


def account_key(username: str) -> str:
    """The username folded and hashed: bounded length, no odd characters in Redis keys."""
    digest = hashlib.sha256(username.strip().casefold().encode()).hexdigest()[:32]
    return f"account:{digest}"


def client_key(ip: str) -> str:
    return f"client:{ip[:64] or 'unknown'}"


@dataclass
class Count:
    failures: int = 0
    last: float = 0.0


def wait_for(count: Count, *, limit: int, limits: SignInLimits, now: float) -> float:
    """Seconds this key must still wait before its next attempt (0: it may go on)."""
    if count.failures < limit:
        return 0.0
    lockout = min(limits.lockout * 2 ** (count.failures - limit), limits.max_lockout)
    return max(0.0, count.last + lockout - now)


def forgotten(count: Count, *, limits: SignInLimits, now: float) -> bool:
    return now - count.last > limits.window + limits.max_lockout


class MemoryCounts:
    """One process's counts."""

    def __init__(self) -> None:
        self._counts: dict[str, Count] = {}

    async def get(self, key: str, now: float, limits: SignInLimits) -> Count:
        count = self._counts.get(key)
        if count is None or forgotten(count, limits=limits, now=now):
            self._counts.pop(key, None)
            return Count()
        return count

    async def add(self, key: str, now: float, limits: SignInLimits) -> None:
        count = await self.get(key, now, limits)
        self._counts[key] = Count(count.failures + 1, now)

    async def give_back(self, key: str, now: float, limits: SignInLimits) -> None:
        count = await self.get(key, now, limits)
        if count.failures > 0:
            self._counts[key] = Count(count.failures - 1, count.last)

    async def forget(self, key: str) -> None:
        self._counts.pop(key, None)


class RedisCounts:
    """Counts shared by every worker: a hash `{n, last}` per key, expiring when forgotten."""

    def __init__(self, url: str, prefix: str) -> None:
        self._url, self.prefix = url, prefix
        self._redis: redis.Redis | None = None

    @property
    def client(self) -> redis.Redis:
        if self._redis is None:
            self._redis = redis.Redis.from_url(
                self._url, decode_responses=True, socket_connect_timeout=2, socket_timeout=2
            )
        return self._redis

    @classmethod
    def sharing(cls, hub) -> RedisCounts:
        """Counts on the live hub's Redis connection and key prefix (one pool per worker)."""
        counts = cls(hub._url, hub.prefix)
        counts._redis = hub.client
        return counts

    def key(self, key: str) -> str:
        return f"{self.prefix}:signin:{key}"

    async def get(self, key: str, now: float, limits: SignInLimits) -> Count:
        n, last = await self.client.hmget(self.key(key), ["n", "last"])
        return Count(int(n or 0), float(last or 0.0))

    async def add(self, key: str, now: float, limits: SignInLimits) -> None:
        name = self.key(key)
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.hincrby(name, "n", 1)
            pipe.hset(name, "last", repr(now))
            pipe.expire(name, math.ceil(limits.window + limits.max_lockout))
            await pipe.execute()

    async def give_back(self, key: str, now: float, limits: SignInLimits) -> None:
        name = self.key(key)
        if not await self.client.exists(name):  # forgotten meanwhile: nothing to give back
            return
        if await self.client.hincrby(name, "n", -1) < 0:
            await self.client.hset(name, "n", 0)

    async def forget(self, key: str) -> None:
        await self.client.delete(self.key(key))


class Throttle:
    def __init__(self, shared: RedisCounts | None = None, clock=time.time) -> None:
        self.shared, self.clock = shared, clock
        self.local = MemoryCounts()
        self.connected = True

    async def _call(self, method: str, *args):
        """The shared counts when they answer, this process's meanwhile."""
        if self.shared is not None:
            try:
                result = await getattr(self.shared, method)(*args)
            except (RedisError, OSError) as exc:
                if self.connected:
                    log.error("Redis unreachable (%s): sign-ins are counted per worker", exc)
                self.connected = False
            else:
                if not self.connected:
                    log.warning("Redis is back: sign-ins are counted across workers again")
                self.connected = True
                return result
        return await getattr(self.local, method)(*args)

    async def refusal(self, *, username: str, ip: str) -> str | None:
        """Why this attempt is refused without checking the password, or None."""
        limits, now = get_signin_limits(), self.clock()
        checks = (
            (account_key(username), limits.account_failures, "for this account"),
            (client_key(ip), limits.client_failures, "from your address"),
        )
        for key, limit, whose in checks:
            count = await self._call("get", key, now, limits)
            if wait := wait_for(count, limit=limit, limits=limits, now=now):
                return f"Too many failed sign-ins {whose}. Try again in {math.ceil(wait)} s."
        return None

    async def attempt(self, *, username: str, ip: str) -> None:
        """Count this attempt as failed until it succeeds (see the module's docstring)."""
        limits, now = get_signin_limits(), self.clock()
        for key in (account_key(username), client_key(ip)):
            await self._call("add", key, now, limits)

    async def succeeded(self, *, username: str, ip: str) -> None:
        limits, now = get_signin_limits(), self.clock()
        await self._call("forget", account_key(username))
        await self._call("give_back", client_key(ip), now, limits)


_throttle: Throttle | None = None


def get_throttle() -> Throttle:
    """This process's throttle: on Redis when Reflex uses Redis, else in memory."""
    global _throttle
    if _throttle is None:
        from .redis_streams import RedisHub
        from .streams import get_hub

        hub = get_hub()
        _throttle = Throttle(RedisCounts.sharing(hub) if isinstance(hub, RedisHub) else None)
    return _throttle
