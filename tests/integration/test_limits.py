"""The per-user stream limit through the real backend: one user's tabs start more replies at
once than allowed; only the limit streams, the others get the notice, and a slot that frees
admits a new one.

The replies are held mid-stream by the scripted model server (`Reply.hold_after`) until the
test releases them, so "at once" is certain.
"""

from __future__ import annotations

import asyncio
import uuid

import reflex as rx
from sqlmodel import col, select

from chatstream import limits
from chatstream.models import Chat, Message
from chatstream.state.chat import ChatState
from tests.fake_openai import FakeOpenAI, Reply
from tests.integration.test_concurrency import Tab, tabs_of, until_no_reply_streams
from tests.reflex_client import handler_name

SEND = handler_name(ChatState, "send")


def held(model: FakeOpenAI, marker: str) -> Reply:
    """A reply to `marker` that streams one chunk, then waits for the test's release."""
    return model.on(marker, Reply(chunks=[f"start of {marker} ", "the end."], hold_after=1))


async def send_from_new_chat(tab: Tab, text: str) -> str:
    """Send from the new-chat screen: the chat it opened, or "" when the composer shows a notice."""
    client = tab.client

    def outcome() -> str | None:
        if client.var(ChatState, "notice"):
            return "refused"
        if client.hydrated() and client.path.startswith("/chat/"):
            return client.path
        return None

    await client.send(SEND, form_data={"text": text})
    result = await client.wait_for(outcome, timeout=20)
    return "" if result == "refused" else result


def streaming(owner: int) -> int:
    with rx.session() as session:
        return limits.count_streaming(session=session, owner_id=owner)


def saved(owner: int) -> tuple[int, int]:
    """How many chats and messages the user has."""
    with rx.session() as session:
        chats = session.exec(select(Chat.id).where(Chat.owner_id == owner)).all()
        messages = session.exec(select(Message.id).where(col(Message.chat_id).in_(chats))).all()
    return len(chats), len(messages)


async def only_the_limit_streams(backend_urls: list[str], model: FakeOpenAI, limit: int) -> None:
    """`limit + 2` tabs of one user (spread over the backends) send at the same moment."""
    run = uuid.uuid4().hex[:6]
    owner, tabs = tabs_of(1, backend_urls, limit + 2)
    markers = [f"<limit {run}.{i}>" for i in range(len(tabs))]
    replies = {marker: held(model, marker) for marker in markers}
    try:
        await asyncio.gather(*(tab.client.open("/") for tab in tabs))
        outcomes = await asyncio.gather(
            *(send_from_new_chat(tab, f"hello {m}") for tab, m in zip(tabs, markers, strict=True))
        )
        admitted = [m for m, chat in zip(markers, outcomes, strict=True) if chat]
        refused = [tab for tab, chat in zip(tabs, outcomes, strict=True) if not chat]
        assert len(admitted) == limit and len(refused) == 2, outcomes
        assert streaming(owner) == limit
        for tab in refused:
            assert tab.client.var(ChatState, "notice") == limits.streams_notice(limit)
            assert tab.client.path == "/"
        asked = {r.last_user_message for r in model.requests if run in r.last_user_message}
        assert asked == {f"hello {m}" for m in admitted}  # the refused never reached the model
        assert saved(owner) == (limit, 2 * limit)  # nor the database

        replies[admitted[0]].release.set()  # one ends: its slot frees
        async with asyncio.timeout(15):
            while streaming(owner) == limit:
                await asyncio.sleep(0.05)
        again = f"<limit {run}.again>"
        replies[again] = held(model, again)
        await refused[0].client.navigate("/")  # the new-chat screen again, its notice gone
        assert await send_from_new_chat(refused[0], f"hello {again}")
        assert streaming(owner) == limit
    finally:
        for reply in replies.values():
            reply.release.set()
        await until_no_reply_streams()
        await asyncio.gather(*(tab.client.close() for tab in tabs))


async def test_one_user_in_many_tabs_streams_at_most_the_limit(backend_url, model, monkeypatch):
    monkeypatch.setenv("CHATSTREAM_MAX_STREAMS_PER_USER", "3")  # read at each send
    await only_the_limit_streams([backend_url], model, 3)
