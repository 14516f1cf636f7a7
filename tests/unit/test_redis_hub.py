"""The Redis relay between workers: two `RedisHub`s stand for two workers, on a real Redis.

Each test gets its own key prefix on the shared Redis (127.0.0.1:6379, `make test` starts it
when it is down); the restart test runs a Redis server of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid

import pytest
import redis.asyncio as redis
from reflex.istate.manager.redis import StateManagerRedis
from reflex.istate.manager.token import BaseStateToken
from reflex.state import State

from chatstream.jobs import LiveMessage
from chatstream.redis_streams import RedisHub, keep_state_locks
from tests.services import REDIS_URL, private_redis


async def until(predicate, timeout: float = 10.0) -> None:
    """Wait until `predicate()` (a value or an awaitable) is true."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not (await result if asyncio.iscoroutine(result := predicate()) else result):
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


def relayed(hub: RedisHub, public_id: str = "m1"):
    """Whether the job's worker has written the reply to Redis (its text key and lease)."""
    return hub.client.exists(hub.key("lease", public_id))


@pytest.fixture
async def workers():
    """Two workers' hubs sharing a fresh key prefix; closed and cleaned up afterwards."""
    prefix = f"cs-test-{uuid.uuid4().hex[:8]}"
    hubs = [RedisHub(REDIS_URL, prefix=prefix, lease=1) for _ in range(2)]
    for hub in hubs:
        await hub.start()
    await until(lambda: all(hub._pubsub is not None for hub in hubs))
    yield hubs
    for hub in hubs:
        await hub.close()
    client = redis.Redis.from_url(REDIS_URL)
    keys = [key async for key in client.scan_iter(f"{prefix}:*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


def write(hub: RedisHub, message: LiveMessage, text: str) -> None:
    message.content += text
    hub.broadcast(message)


async def test_a_follower_on_another_worker_receives_the_reply_byte_for_byte(workers):
    job_worker, tab_worker = workers
    message = LiveMessage(id=1, public_id="m1")
    job_worker.open(message)
    parts = [f"{i}: naïve 🙂 " for i in range(300)]

    async with tab_worker.follow("m1") as mirror:
        for part in parts:
            write(job_worker, message, part)
            await asyncio.sleep(0)
        message.streaming = False
        job_worker.end(message)
        await until(lambda: mirror.done)

    assert mirror.text == "".join(parts)


async def test_a_late_follower_starts_from_the_text_so_far(workers):
    job_worker, tab_worker = workers
    message = LiveMessage(id=1, public_id="m1")
    job_worker.open(message)
    write(job_worker, message, "already written ")
    await until(lambda: job_worker.client.exists(job_worker.key("text", "m1")))
    await until(lambda: job_worker.client.get(job_worker.key("text", "m1")))

    async with tab_worker.follow("m1") as mirror:
        await until(lambda: mirror.text == "already written ")
        write(job_worker, message, "and more")
        await until(lambda: mirror.text == "already written and more")


async def test_a_worker_receives_only_the_channels_its_tabs_follow(workers):
    job_worker, tab_worker = workers
    followed, other = LiveMessage(id=1, public_id="m1"), LiveMessage(id=2, public_id="m2")
    job_worker.open(followed)
    job_worker.open(other)
    received: list[str] = []
    dispatch = tab_worker._dispatch

    async def counting(name: str, data: str) -> None:
        received.append(name)
        await dispatch(name, data)

    tab_worker._dispatch = counting
    async with tab_worker.follow("m1") as mirror:
        for i in range(50):
            write(job_worker, other, f"x{i} ")
            write(job_worker, followed, f"y{i} ")
            await asyncio.sleep(0)
        await until(lambda: mirror.text.endswith("y49 "))
        client = redis.Redis.from_url(REDIS_URL, decode_responses=True)
        subscribers = dict(
            await client.pubsub_numsub(*(job_worker.key("live", m) for m in ("m1", "m2")))
        )
        await client.aclose()

    assert {job_worker.key("live", "m1")} == set(received)
    assert subscribers == {job_worker.key("live", "m1"): 1, job_worker.key("live", "m2"): 0}


async def test_a_mirror_that_missed_updates_reads_the_whole_text_again(workers):
    job_worker, tab_worker = workers
    message = LiveMessage(id=1, public_id="m1")
    job_worker.open(message)
    async with tab_worker.follow("m1") as mirror:
        write(job_worker, message, "one two ")
        await until(lambda: mirror.text == "one two ")
        tab_worker._mirrors["m1"].channel.text = "one"  # as if updates were lost on the way
        write(job_worker, message, "three")
        await until(lambda: mirror.text == "one two three")


async def test_a_slow_follower_reads_the_latest_text_not_a_queue(workers):
    job_worker, tab_worker = workers
    message = LiveMessage(id=1, public_id="m1")
    job_worker.open(message)
    async with tab_worker.follow("m1") as mirror:
        seen = mirror.version
        for i in range(2000):
            write(job_worker, message, f"{i} ")
        await until(lambda: mirror.text == message.content)
        snapshot = await mirror.wait(seen)  # one read after 2,000 updates: the whole text

    assert snapshot.text == message.content


async def test_stop_reaches_the_worker_whose_job_writes_the_reply(workers):
    job_worker, tab_worker = workers
    stopped = asyncio.Event()
    job_worker.open(LiveMessage(id=1, public_id="m1"), on_stop=stopped.set)
    await until(lambda: job_worker.key("stop", "m1") in _subscriptions(job_worker))

    assert await tab_worker.stop_elsewhere("m1")
    await asyncio.wait_for(stopped.wait(), 5)
    assert not await tab_worker.stop_elsewhere("no-such-reply")


def _subscriptions(hub: RedisHub) -> set[str]:
    pubsub = hub._pubsub
    return (
        {name.decode() if isinstance(name, bytes) else name for name in pubsub.channels}
        if pubsub
        else set()
    )


async def test_a_job_holds_a_lease_until_it_ends(workers):
    job_worker, other = workers
    message = LiveMessage(id=1, public_id="m1")
    job_worker.open(message)
    await until(lambda: relayed(job_worker))
    await asyncio.sleep(job_worker.lease * 1.5)  # past its first expiry: the heartbeat renews it

    assert await other.leased(["m1", "m2"]) == {"m1"}
    message.streaming = False
    job_worker.end(message)
    await until(lambda: "m1" not in job_worker._publishers)
    assert await other.leased(["m1"]) == set()


async def test_the_lease_of_a_dead_worker_lapses(workers):
    job_worker, other = workers
    job_worker.open(LiveMessage(id=1, public_id="m1"))
    await until(lambda: relayed(job_worker))
    job_worker._keeper.stop()  # the worker dies: nothing renews its lease
    for task in [*job_worker._tasks, *job_worker._publishers.values()]:
        task.cancel()

    await asyncio.sleep(job_worker.lease + 0.5)
    assert await other.leased(["m1"]) == set()


async def test_a_worker_whose_event_loop_stalls_keeps_its_leases(workers):
    """An overloaded loop runs seconds of work in one round; the lease must outlast that."""
    job_worker, other = workers
    job_worker.open(LiveMessage(id=1, public_id="m1"))
    await until(lambda: relayed(job_worker))
    time.sleep(job_worker.lease * 2.5)  # the whole loop is stuck, past two lease periods

    assert await other.leased(["m1"]) == {"m1"}


async def test_a_worker_whose_event_loop_stalls_keeps_its_reflex_state_locks(workers):
    """Reflex refuses a state write whose lock expired (`LockExpiredError`) and the tab's
    state goes back to an older copy: while the worker lives, its locks must not expire."""
    manager = StateManagerRedis(
        redis=redis.Redis.from_url(REDIS_URL), lock_expiration=1000, lock_warning_threshold=500
    )
    token = BaseStateToken(ident=f"keeper-{uuid.uuid4().hex}", cls=State)
    take = manager._try_get_lock

    async def taken_on_a_busy_loop(lock_key, lock_id):
        taken = await take(lock_key, lock_id)
        time.sleep(1.5)  # the loop runs other work before the taker resumes: past the 1 s
        return taken

    manager._try_get_lock = taken_on_a_busy_loop
    try:
        async with manager._lock(token) as lock_id:
            state = await manager.get_state(token)
            time.sleep(2.5)  # and stalls again while the lock is held
            await manager.set_state(token, state, lock_id=lock_id)  # LockExpiredError if lost
        assert await manager.redis.get(manager._lock_key(token)) is None  # released after
    finally:
        await manager.redis.delete(manager._lock_key(token), token._state_key(State))
        await manager.close()


async def test_another_waiter_cuts_a_reflex_lease_short_only_before_it_writes():
    """Reflex's lease task waits out its hold time, then writes the tab's state and lets the
    lock go. Another waiter for the lock cancels it: during the wait that starts the write;
    during the write it let the lock go first, and the write was refused."""
    keep_state_locks()
    manager = StateManagerRedis(redis=redis.Redis.from_url(REDIS_URL))
    manager._oplock_enabled = True
    written = asyncio.get_running_loop().create_future()

    async def lease_breaker(waiting: bool) -> str:  # the shape of Reflex's
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.sleep(60 if waiting else 0)
        await asyncio.shield(written)
        return "written"

    async def contend(lease: asyncio.Task) -> None:
        key = f"tab-{uuid.uuid4().hex}"
        manager._local_leases[key], manager._cached_states_locks[key] = lease, asyncio.Lock()
        channel = f"__keyspace@0__:{key}_lock_waiters".encode()
        await manager._handle_lock_contention({"channel": channel, "data": b"sadd"})

    try:
        waiting, writing = (asyncio.create_task(lease_breaker(w)) for w in (True, False))
        await asyncio.sleep(0.05)  # the one that does not wait is writing now
        await contend(waiting)
        await contend(writing)
        written.set_result(None)
        assert await asyncio.wait_for(waiting, 1) == "written"  # cut short: it wrote at once
        assert await asyncio.wait_for(writing, 1) == "written"  # not interrupted
    finally:
        await manager.close()


async def test_an_end_announced_by_another_worker_closes_the_mirror(workers):
    _, tab_worker = workers
    async with tab_worker.follow("m1") as mirror:
        await workers[0].ended_elsewhere(["m1"])
        await until(lambda: mirror.done)


async def test_followers_resync_after_redis_restarts(tmp_path):
    with private_redis(tmp_path) as server:
        job_worker, tab_worker = (RedisHub(server.url, prefix="r", lease=1) for _ in range(2))
        for hub in (job_worker, tab_worker):
            await hub.start()
        await until(lambda: job_worker._pubsub is not None and tab_worker._pubsub is not None)
        message = LiveMessage(id=1, public_id="m1")
        job_worker.open(message)
        async with tab_worker.follow("m1") as mirror:
            write(job_worker, message, "before ")
            await until(lambda: mirror.text == "before ")

            server.stop()
            write(job_worker, message, "during ")
            await until(lambda: not job_worker.connected)
            server.start()
            write(job_worker, message, "after")

            await until(lambda: mirror.text == "before during after", timeout=20)
            message.streaming = False
            job_worker.end(message)
            await until(lambda: mirror.done, timeout=20)
        assert job_worker.connected and tab_worker.connected
        for hub in (job_worker, tab_worker):
            await hub.close()


MALFORMED = [
    "not json",
    "[1, 2]",
    '{"o": 0}',
    '{"o": "0", "t": "x", "d": false}',
    '{"o": -5, "t": "x", "d": false}',
    '{"o": 0, "t": 7, "d": false}',
    '{"o": 0, "t": "x", "d": "yes"}',
    b"\xff\xfe not utf-8",
]


async def test_the_listener_skips_malformed_messages_with_one_warning_each(workers, caplog):
    job_worker, tab_worker = workers
    message = LiveMessage(id=1, public_id="m1")
    job_worker.open(message)
    intruder = redis.Redis.from_url(REDIS_URL)

    with caplog.at_level("WARNING", logger="chatstream.redis_streams"):
        async with tab_worker.follow("m1") as mirror:
            write(job_worker, message, "before ")
            await until(lambda: mirror.text == "before ")
            for payload in MALFORMED:
                await intruder.publish(tab_worker.key("live", "m1"), payload)
            async with tab_worker.watch_chat("c1") as news:
                await intruder.publish(tab_worker.key("chat", "c1"), "x" * 10_000)
                await intruder.publish(tab_worker.key("chat", "c1"), "reply-id")
                assert await asyncio.wait_for(news.get(), 5) == "reply-id"
            write(job_worker, message, "after")
            message.streaming = False
            job_worker.end(message)
            await until(lambda: mirror.done)
    await intruder.aclose()

    assert mirror.text == "before after"
    warnings = [r for r in caplog.records if r.name == "chatstream.redis_streams"]
    assert len(warnings) == len(MALFORMED) + 1
    assert all(r.levelname == "WARNING" and r.exc_info is None for r in warnings)
    assert all(task.done() is False for task in tab_worker._tasks)
