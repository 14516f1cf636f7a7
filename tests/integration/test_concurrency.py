"""Many users and tabs, 24 replies streaming at once through the real backend: no cross-talk.

Each tab is a `ReflexTab` speaking the browser's websocket protocol. Every reply is scripted
with its own marker, `<u{user}.t{tab}.c{chat}>`, so text that reached the wrong tab, chat or
user shows.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import product

import reflex as rx
from sqlmodel import col, select

from chatstream.models import Chat, Message
from chatstream.state.chat import ChatState
from chatstream.state.live import LiveReply
from tests.factories import make_user, sign_in
from tests.fake_openai import FakeOpenAI, Reply, words
from tests.reflex_client import Delta, ReflexTab, handler_name

USERS = 4
TABS = 3  # per user, each starting two chats: USERS * TABS * 2 replies stream at once
CHUNKS = {1: 120, 2: 60}  # the first chat's reply still streams when the second starts
LIVE = LiveReply.get_full_name()


@dataclass
class Tab:
    user: int
    client: ReflexTab
    chats: list[str] = field(default_factory=list)
    """The chats this tab showed, in order."""
    live: list[tuple[str, str, str]] = field(default_factory=list)
    """Each live text received, with the chat and the reply the tab showed then."""
    received: list[str] = field(default_factory=list)
    """Every delta received, as JSON."""
    held: tuple[str | None, str] = (None, "")
    """The live reply component's base and text, when the text comes in chunks."""
    gaps: int = 0


def live_text(tab: Tab) -> str:
    """The live text the tab shows: `base`, then each `chunk` at `offset`, put together as
    `LiveMarkdown` does (components/markdown.jsx), afresh when no reply shows."""
    client = tab.client
    if not client.var(LiveReply, "message_id"):
        tab.held = (None, "")
        return ""
    base, chunk, offset = (client.var(LiveReply, name) for name in ("base", "chunk", "offset"))
    held_base, text = tab.held
    text = base if base != held_base else text
    if offset > len(text):
        tab.gaps += 1
    elif offset + len(chunk) > len(text):
        text = text[:offset] + chunk
    tab.held = (base, text)
    return text


def recorder(tab: Tab) -> Callable[[ReflexTab, Delta], None]:
    def on_delta(client: ReflexTab, delta: Delta) -> None:
        tab.received.append(json.dumps(delta))
        if LIVE in delta:
            shown = client.var(ChatState, "public_id"), client.var(LiveReply, "message_id")
            tab.live.append((*shown, live_text(tab)))

    return on_delta


def script(model: FakeOpenAI, marker: str, chunks: int, hold_after: int | None = None) -> Reply:
    """Answer the message naming `marker` with `chunks` chunks that name it all along
    (`hold_after` of them, then nothing until the reply is released)."""
    text = "".join(f"reply for {marker} #{i}. " for i in range(chunks))
    reply = Reply(chunks=words(text, 5)[:chunks], delay=0.02, hold_after=hold_after)
    return model.on(marker, reply)


MID_STREAM = 10
"""The chunks of a user's first reply sent before their late tab opens its chat."""


async def start_chat(tab: Tab, marker: str) -> None:
    """Send a message from the new-chat screen; the tab follows the redirect to the chat."""
    client = tab.client
    await client.send(handler_name(ChatState, "send"), form_data={"text": f"hello {marker}"})
    chat = await client.wait_for(
        lambda: (
            client.hydrated()
            and client.path.startswith("/chat/")
            and client.path.removeprefix("/chat/") not in tab.chats
            and client.path.removeprefix("/chat/")
        )
    )
    tab.chats.append(chat)


async def two_chats(tab: Tab, index: int, first_sent: asyncio.Event) -> None:
    await tab.client.open("/")
    await start_chat(tab, f"<u{tab.user}.t{index}.c1>")
    first_sent.set()
    await tab.client.navigate("/")  # "New chat": the first reply goes on without this tab
    await start_chat(tab, f"<u{tab.user}.t{index}.c2>")


async def open_mid_stream(
    tab: Tab, leader: Tab, model: FakeOpenAI, held: Reply, sent: asyncio.Event
) -> None:
    """Open the leader's first chat in a new tab once its reply is under way; the reply goes
    on once the tab has opened (however slow the opening, it opens mid-stream)."""
    await sent.wait()
    request = model.request_for(f"<u{tab.user}.t0.c1>")
    while len(request.sent) < MID_STREAM:
        await asyncio.sleep(0.02)
    tab.chats.append(leader.chats[0])
    try:
        await tab.client.open(f"/chat/{leader.chats[0]}", {"chat_public_id": leader.chats[0]})
    finally:
        held.release.set()


async def until_no_reply_streams(timeout: float = 40) -> None:
    async with asyncio.timeout(timeout):
        while True:
            with rx.session() as session:
                if session.exec(select(Message).where(col(Message.streaming))).first() is None:
                    return
            await asyncio.sleep(0.2)


def saved_chats(owners: list[int]) -> dict[str, list[Message]]:
    """The messages of every chat of these users, oldest first, by chat public id."""
    with rx.session() as session:
        rows = session.exec(
            select(Message, Chat)
            .join(Chat)
            .where(col(Chat.owner_id).in_(owners))
            .order_by(col(Message.id))
        ).all()
    chats: dict[str, list[Message]] = {}
    for message, chat in rows:
        chats.setdefault(chat.public_id, []).append(message)
    return chats


def shows(tab: Tab, messages: list[Message]) -> Callable[[], bool]:
    """Whether the tab's messages (as loaded, then added since) are exactly `messages`."""
    saved = [(m.public_id, m.content, m.status) for m in messages]

    def shown() -> list[tuple[str, str, str]]:
        views = [
            *tab.client.var(ChatState, "messages", []),
            *tab.client.var(ChatState, "recent", []),
        ]
        return [(m["id"], m["content"], m["status"]) for m in views]

    return lambda: shown() == saved


def tabs_of(user: int, backend_urls: list[str], count: int) -> tuple[int, list[Tab]]:
    """A new user's id and `count` tabs, signed in (one token, shared like localStorage),
    connected to the backends (workers) in turn."""
    account, token = make_user(), secrets.token_urlsafe(16)
    sign_in(account, token)
    storage = {"_auth_token": token}
    tabs = [
        Tab(user, ReflexTab(backend_urls[i % len(backend_urls)], local_storage=storage))
        for i in range(count)
    ]
    for tab in tabs:
        tab.client.on_delta = recorder(tab)
    return account.id, tabs


async def test_concurrent_replies_reach_only_their_own_tabs(backend_url, model):
    await replies_reach_only_their_own_tabs([backend_url], model)


async def replies_reach_only_their_own_tabs(backend_urls: list[str], model: FakeOpenAI) -> None:
    """The scenario, with tabs spread over these backends (in turn, per user): a user's tab
    opened mid-stream is on another backend than the tab that sent, when there are two."""
    scripted: dict[str, str] = {}  # marker -> its reply's text
    replies: dict[str, Reply] = {}
    for user, index, (chat, chunks) in product(range(1, USERS + 1), range(TABS), CHUNKS.items()):
        marker = f"<u{user}.t{index}.c{chat}>"
        hold = MID_STREAM if (index, chat) == (0, 1) else None  # (see open_mid_stream)
        replies[marker] = script(model, marker, chunks, hold_after=hold)
        scripted[marker] = replies[marker].text
    tabs: list[Tab] = []
    late: list[Tab] = []  # one per user, opened on a chat of the user's first tab mid-stream
    owners: list[int] = []
    runs = []
    for user in range(1, USERS + 1):
        owner, (*mine, later) = tabs_of(user, backend_urls, TABS + 1)
        owners.append(owner)
        first_sent = asyncio.Event()
        runs.append(two_chats(mine[0], 0, first_sent))
        runs += [two_chats(tab, index, asyncio.Event()) for index, tab in enumerate(mine[1:], 1)]
        held = replies[f"<u{user}.t0.c1>"]
        runs.append(open_mid_stream(later, mine[0], model, held, first_sent))
        tabs += mine
        late.append(later)
    try:
        await asyncio.gather(*runs)
        await until_no_reply_streams()
        chats = saved_chats(owners)
        for tab in tabs + late:  # the tab's last reply has moved from the live text into its list
            await tab.client.wait_for(shows(tab, chats[tab.chats[-1]]))
    finally:
        await asyncio.gather(*(tab.client.close() for tab in tabs + late))

    # (a) every reply is saved exactly as the model sent it, and complete
    asked = [r for r in model.requests if any(m in r.last_user_message for m in scripted)]
    assert len(asked) == len(chats) == len(scripted) == USERS * TABS * 2
    final: dict[str, str] = {}  # reply public id -> its saved text
    chat_of: dict[str, str] = {}  # reply public id -> its chat
    for chat, messages in chats.items():
        question, reply = messages
        marker = question.content.removeprefix("hello ")
        request = model.request_for(marker)
        assert (reply.role, reply.status, reply.streaming) == ("assistant", "complete", False)
        assert reply.content == "".join(text for _, text in request.sent) == scripted[marker]
        final[reply.public_id], chat_of[reply.public_id] = reply.content, chat

    # (b) a tab only ever shows a prefix of the reply of the chat it shows, and of its user
    for tab in tabs + late:
        others = [f"<u{user}." for user in range(1, USERS + 1) if user != tab.user]
        live = [(chat, reply, text) for chat, reply, text in tab.live if text]
        assert live, f"user {tab.user}'s tab {tab.client.token} was sent no live text"
        assert tab.gaps == 0, "the tab missed a live update"
        for chat, reply, text in live:
            assert chat in tab.chats and chat_of[reply] == chat, (tab.user, chat, reply)
            assert final[reply].startswith(text), f"{text!r} is not a prefix of {reply}"
        assert not [delta for delta in tab.received for marker in others if marker in delta]

    # (c) a tab opened mid-stream follows the reply live from its page load on
    for tab in late:
        reply = chats[tab.chats[0]][1].public_id
        texts = [text for _, shown, text in tab.live if shown == reply and text]
        assert texts and len(texts[0]) < len(final[reply]), texts[:1]
