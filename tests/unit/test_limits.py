"""Per-user limits: replies streaming at once (the database, under a race) and the send rate
(in memory, and on a real Redis shared by two workers)."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import redis.asyncio as redis
import reflex as rx
import sqlalchemy as sa
from reflex_local_auth import LocalUser
from sqlmodel import Session, SQLModel

from chatstream import limits, repository, streams
from chatstream.models import Chat, Message, Status
from chatstream.redis_streams import RedisHub
from tests.factories import make_chat, make_user
from tests.services import REDIS_URL, free_port, fresh_postgres_database

# Replies streaming at once ---------------------------------------------------------------------


def start(chat: Chat, text: str = "q", max_streams: int | None = 3) -> Message:
    with rx.session() as session:
        return repository.start_exchange(
            session=session, chat=chat, user_text=text, model="m", max_streams=max_streams
        )[1]


def test_a_reply_past_the_users_stream_limit_is_refused_and_nothing_is_saved():
    user = make_user()
    for _ in range(3):
        start(make_chat(user))
    chat = make_chat(user)
    with pytest.raises(limits.TooManyStreams) as refused:
        start(chat, "one too many")
    assert str(refused.value) == limits.streams_notice(3)
    with rx.session() as session:
        assert repository.list_messages(session=session, chat_id=chat.id) == []


def test_a_first_send_refused_at_the_limit_leaves_no_new_chat_behind():
    """A send from the new-chat page makes its chat in the transaction of its exchange: the
    refusal rolls both back, so no empty chat ever shows in the user's sidebar."""
    user = make_user()
    for _ in range(3):
        start(make_chat(user))
    with rx.session() as session:
        chat = repository.create_chat(session=session, owner_id=user.id, title="q", commit=False)
        with pytest.raises(limits.TooManyStreams):
            repository.start_exchange(
                session=session, chat=chat, user_text="q", model="m", max_streams=3
            )
    with rx.session() as session:
        assert len(repository.list_chats(session=session, owner_id=user.id)) == 3


def test_the_stream_limit_is_per_user():
    alice, bob = make_user(), make_user()
    for _ in range(3):
        start(make_chat(alice))
    start(make_chat(bob))


def test_a_refused_retry_changes_nothing():
    user = make_user()
    for _ in range(3):
        start(make_chat(user))
    chat = make_chat(user)
    with rx.session() as session:
        question, answer = repository.start_exchange(
            session=session, chat=chat, user_text="q", model="m", max_streams=0
        )
        repository.finish(
            session=session, message_id=answer.id, content="a", status=Status.COMPLETE
        )
        with pytest.raises(limits.TooManyStreams):
            repository.new_version(
                session=session, chat=chat, of=question, model="m", text="edited", max_streams=3
            )
        kept = repository.list_messages(session=session, chat_id=chat.id)
    assert [(m.content, m.streaming) for m in kept] == [("q", False), ("a", False)]


def test_an_ended_reply_frees_its_slot():
    user = make_user()
    replies = [start(make_chat(user)) for _ in range(3)]
    with rx.session() as session:
        repository.finish(
            session=session, message_id=replies[0].id, content="", status=Status.STOPPED
        )
    start(make_chat(user))


def test_a_reply_swept_as_interrupted_frees_its_slot():
    user = make_user()
    replies = [start(make_chat(user)) for _ in range(3)]
    others = set()
    with rx.session() as session:  # every other test's streaming reply stays alive
        others = set(repository.streaming_ids(session=session)) - {replies[0].public_id}
        ended = repository.interrupt_orphans(session=session, idle_for=timedelta(0), alive=others)
    assert ended == [replies[0].public_id]
    start(make_chat(user))


def test_zero_means_no_stream_limit():
    user = make_user()
    for _ in range(5):
        start(make_chat(user), max_streams=0)


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request, tmp_path: Path) -> Iterator[sa.Engine]:
    """A fresh, empty database of each kind, with the app's tables (and partial index)."""
    if request.param == "sqlite":
        engine = sa.create_engine(f"sqlite:///{tmp_path / 'race.db'}")
        SQLModel.metadata.create_all(engine)
        yield engine
        engine.dispose()
        return
    with fresh_postgres_database("chatstream_limits") as url:
        engine = sa.create_engine(url, pool_size=20)
        SQLModel.metadata.create_all(engine)
        yield engine
        engine.dispose()


def _user_with_chats(engine: sa.Engine, chats: int) -> tuple[int, list[int]]:
    with Session(engine) as session:
        user = LocalUser(username=f"racer-{uuid.uuid4().hex[:6]}", password_hash=b"x", enabled=True)
        session.add(user)
        session.commit()
        made = [Chat(owner_id=user.id, title=f"chat {i}") for i in range(chats)]
        session.add_all(made)
        session.commit()
        return user.id, [chat.id for chat in made]


def _race(engine: sa.Engine, chat_ids: list[int], attempt: Callable[[Session, Chat], None]):
    """Run `attempt` for each chat in its own thread and session, all released at once.
    Returns how many passed and the exceptions of the others."""
    barrier, passed, failed = threading.Barrier(len(chat_ids)), [], []

    def one(chat_id: int) -> None:
        with Session(engine) as session:
            chat = session.get(Chat, chat_id)
            barrier.wait()
            try:
                attempt(session, chat)
                passed.append(chat_id)
            except Exception as exc:
                failed.append(exc)

    threads = [threading.Thread(target=one, args=(chat_id,)) for chat_id in chat_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return passed, failed


def _streaming_count(engine: sa.Engine, user_id: int) -> int:
    with Session(engine) as session:
        return limits.count_streaming(session=session, owner_id=user_id)


def test_many_sends_at_once_with_one_slot_left_admit_exactly_one(database):
    user_id, chat_ids = _user_with_chats(database, 2 + 12)
    with Session(database) as session:
        for chat_id in chat_ids[:2]:
            repository.start_exchange(
                session=session, chat=session.get(Chat, chat_id), user_text="q", model="m"
            )

    def send(session: Session, chat: Chat) -> None:
        repository.start_exchange(
            session=session, chat=chat, user_text="q", model="m", max_streams=3
        )

    passed, failed = _race(database, chat_ids[2:], send)
    assert len(passed) == 1, failed
    assert all(isinstance(exc, limits.TooManyStreams) for exc in failed), failed
    assert _streaming_count(database, user_id) == 3
    with Session(database) as session:  # the refused sends saved no user message either
        saved = session.exec(sa.select(sa.func.count()).select_from(Message)).one()[0]
    assert saved == 2 * 3


def test_many_retries_at_once_with_one_slot_left_admit_exactly_one(database):
    user_id, chat_ids = _user_with_chats(database, 2 + 8)
    questions = {}
    with Session(database) as session:
        for index, chat_id in enumerate(chat_ids):
            chat = session.get(Chat, chat_id)
            question, answer = repository.start_exchange(
                session=session, chat=chat, user_text="q", model="m", max_streams=0
            )
            questions[chat_id] = answer.id
            if index >= 2:
                repository.finish(
                    session=session, message_id=answer.id, content="a", status=Status.COMPLETE
                )

    def retry(session: Session, chat: Chat) -> None:
        reply = session.get(Message, questions[chat.id])
        repository.new_version(session=session, chat=chat, of=reply, model="m", max_streams=3)

    passed, failed = _race(database, chat_ids[2:], retry)
    assert len(passed) == 1, failed
    assert all(isinstance(exc, limits.TooManyStreams) for exc in failed), failed
    assert _streaming_count(database, user_id) == 3


# Send rate ------------------------------------------------------------------------------------


def test_the_memory_window_admits_the_limit_then_says_how_long_to_wait():
    window = limits.MemoryWindow()
    assert [window.admit(1, 3, now=t) for t in (0.0, 10.0, 20.0)] == [
        (1, 0.0),
        (2, 0.0),
        (3, 0.0),
    ]
    assert window.admit(1, 3, now=48.0) == (3, 12.0)
    assert window.admit(2, 3, now=48.0) == (1, 0.0)  # another user
    assert window.admit(1, 3, now=60.0) == (3, 0.0)  # the first start left the window


def test_the_memory_window_forgets_idle_users():
    window = limits.MemoryWindow(max_users=2)
    for user_id in range(3):
        window.admit(user_id, 5, now=0.0)
    window.admit(9, 5, now=61.0)
    assert set(window._starts) == {9}


def test_the_notices_say_what_happened_and_when_to_go_on():
    assert limits.streams_notice(3) == (
        "You have 3 replies being written at once, the most allowed. "
        "Wait for one to finish or stop it."
    )
    assert limits.rate_notice(20, 11.2) == (
        "You have sent 20 messages in the last minute, the most allowed. Try again in 12 s."
    )
    assert limits.rate_notice(20, 0.01).endswith("Try again in 1 s.")


@pytest.fixture
async def prefix():
    prefix = f"cs-test-{uuid.uuid4().hex[:8]}"
    yield prefix
    client = redis.Redis.from_url(REDIS_URL)
    keys = [key async for key in client.scan_iter(f"{prefix}:*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


async def test_on_redis_many_sends_at_once_from_two_workers_admit_exactly_the_limit(prefix):
    workers = [RedisHub(REDIS_URL, prefix=prefix) for _ in range(2)]
    key = workers[0].key("sends", "7")
    results = await asyncio.gather(
        *(limits.redis_admit(workers[i % 2].client, key, 20) for i in range(50))
    )
    admitted = [count for count, wait in results if wait == 0]
    refused = [wait for count, wait in results if wait > 0]
    assert sorted(admitted) == list(range(1, 21))
    assert len(refused) == 30 and all(0 < wait <= 60 for wait in refused)
    for hub in workers:
        await hub.client.aclose()


async def test_on_redis_the_window_slides(prefix):
    client = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    key = f"{prefix}:sends:8"
    assert await limits.redis_admit(client, key, 2, window=0.5) == (1, 0)
    await asyncio.sleep(0.3)
    assert await limits.redis_admit(client, key, 2, window=0.5) == (2, 0)
    count, wait = await limits.redis_admit(client, key, 2, window=0.5)
    assert count == 2 and 0 < wait <= 0.2  # until the first start leaves the window
    await asyncio.sleep(wait + 0.05)
    assert await limits.redis_admit(client, key, 2, window=0.5) == (2, 0)
    assert 0 < await client.pttl(key) <= 500  # the key does not outlive its window
    await client.aclose()


@pytest.fixture
def fresh_memory(monkeypatch):
    monkeypatch.setattr(limits, "_memory", limits.MemoryWindow())


async def test_refuse_reply_counts_starts_against_the_rate(monkeypatch, fresh_memory):
    monkeypatch.setenv("CHATSTREAM_SENDS_PER_MINUTE", "2")
    user = make_user()
    assert await limits.refuse_reply(user.id) is None
    assert await limits.refuse_reply(user.id) is None
    refusal = await limits.refuse_reply(user.id)
    assert refusal and refusal.startswith("You have sent 2 messages in the last minute")
    assert await limits.refuse_reply(make_user().id) is None


async def test_refuse_reply_refuses_a_user_at_the_stream_limit(monkeypatch, fresh_memory):
    monkeypatch.setenv("CHATSTREAM_MAX_STREAMS_PER_USER", "2")
    user = make_user()
    for _ in range(2):
        start(make_chat(user), max_streams=None)
    assert await limits.refuse_reply(user.id) == limits.streams_notice(2)


async def test_with_redis_the_rate_holds_across_workers(monkeypatch, fresh_memory, prefix):
    monkeypatch.setenv("CHATSTREAM_SENDS_PER_MINUTE", "3")
    user = make_user()
    workers = [RedisHub(REDIS_URL, prefix=prefix) for _ in range(2)]
    refusals = []
    for i in range(4):
        monkeypatch.setattr(streams, "_hub", workers[i % 2])  # each send on the other worker
        refusals.append(await limits.refuse_reply(user.id))
    assert refusals[:3] == [None, None, None] and refusals[3]
    assert limits._memory._starts == {}  # counted in Redis only
    for hub in workers:
        await hub.client.aclose()


async def test_with_redis_away_the_rate_is_kept_in_memory(monkeypatch, fresh_memory):
    monkeypatch.setenv("CHATSTREAM_SENDS_PER_MINUTE", "2")
    monkeypatch.setattr(streams, "_hub", RedisHub(f"redis://127.0.0.1:{free_port()}/0"))
    user = make_user()
    refusals = [await limits.refuse_reply(user.id) for _ in range(3)]
    assert refusals[:2] == [None, None] and refusals[2]
