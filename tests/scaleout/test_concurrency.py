"""The live issue's concurrency test on two workers, a reload that lands on the other one,
and 25 replies at once over the workers, none lost.

Socket-level tabs (`ReflexTab`) connect to server A or server B; the test reads the same
PostgreSQL database as the servers.
"""

from __future__ import annotations

import asyncio
import contextlib

from chatstream.state.chat import ChatState
from chatstream.state.live import LiveReply
from tests.fake_openai import Reply, words
from tests.integration.test_concurrency import (
    Tab,
    recorder,
    replies_reach_only_their_own_tabs,
    saved_chats,
    script,
    shows,
    start_chat,
    tabs_of,
    until_no_reply_streams,
)
from tests.reflex_client import ReflexTab
from tests.scaleout.conftest import STREAMS_PER_USER

AT_ONCE = 25
"""Replies streaming at once, `make bench`'s first capacity step, over the workers."""
PER_USER = 5
assert PER_USER < STREAMS_PER_USER  # the per-user limit refuses none of them


async def test_concurrent_replies_on_two_workers_reach_only_their_own_tabs(cluster, model):
    await replies_reach_only_their_own_tabs([cluster.a.url, cluster.b.url], model)


async def test_25_replies_at_once_over_the_workers_are_all_saved_and_shown_byte_exact(
    cluster, model
):
    """Every reply saved as the model sent it and shown whole in its tab, as `make bench`'s
    capacity steps count them (`lost_why`): a reply that is slow is not lost, one that is
    not saved, or not shown to the end, is."""
    users = AT_ONCE // PER_USER
    texts, owners, tabs, markers = {}, [], [], []
    for user in range(1, users + 1):
        owner, mine = tabs_of(user, [cluster.a.url, cluster.b.url], PER_USER)
        owners.append(owner)
        for index, tab in enumerate(mine):
            marker = f"<at once u{user}.t{index}>"
            texts[marker] = script(model, marker, chunks=150).text  # 3 s at 50 chunks/s
            tabs.append(tab)
            markers.append(marker)
    try:
        await asyncio.gather(*(tab.client.open("/") for tab in tabs))
        await asyncio.gather(*(start_chat(t, m) for t, m in zip(tabs, markers, strict=True)))
        await until_no_reply_streams(timeout=120)
        chats = saved_chats(owners)
        await asyncio.gather(*(_until_shown(tab, chats[tab.chats[-1]]) for tab in tabs))
    finally:
        await asyncio.gather(*(tab.client.close() for tab in tabs))

    lost = []  # as the bench's lost_why, with the marker
    for tab, marker in zip(tabs, markers, strict=True):
        question, *replies = chats[tab.chats[-1]]
        sent = "".join(text for _, text in model.request_for(marker).sent)
        saved = [(r.content, r.status, r.streaming) for r in replies]
        if question.content != f"hello {marker}" or sent != texts[marker]:
            lost.append(f"{marker}: the model was asked {question.content!r}, sent {len(sent)}")
        elif saved != [(texts[marker], "complete", False)]:
            lost.append(f"{marker}: saved {[(len(c), s, st) for c, s, st in saved]}")
        if not shows(tab, chats[tab.chats[-1]])():
            views = [
                *tab.client.var(ChatState, "messages", []),
                *tab.client.var(ChatState, "recent", []),
            ]
            shown = [f"{m['role']} {len(m['content'])} characters {m['status']}" for m in views]
            lost.append(f"{marker}: tab shows {shown}")
        if not all(texts[marker].startswith(text) for _, _, text in tab.live):
            lost.append(f"{marker}: tab showed live text that is not the reply's")
    assert not lost, f"{len(lost)} of {AT_ONCE} replies lost: {lost}"


async def _until_shown(tab: Tab, messages, grace: float = 30) -> None:
    """Until the tab shows the chat as saved, or `grace` seconds after the reply was saved
    (a tab that never shows it is counted lost above, not here)."""
    with contextlib.suppress(TimeoutError):
        await tab.client.wait_for(shows(tab, messages), timeout=grace)


async def test_a_reload_that_lands_on_another_worker_keeps_following(cluster, model):
    text = "".join(f"part {i} of the reply. " for i in range(150))
    model.on("<reload across workers>", Reply(chunks=words(text, 6), delay=0.03))
    _, (tab,) = tabs_of(1, [cluster.a.url], 1)
    await tab.client.open("/")
    await start_chat(tab, "<reload across workers>")
    chat = tab.chats[0]
    await tab.client.wait_for(lambda: len(tab.live) > 5 and tab.live[-1][2])
    await tab.client.close()

    # The reload: the same tab token (sessionStorage keeps it), now connected to server B.
    reloaded = Tab(1, ReflexTab(cluster.b.url, local_storage=tab.client.local_storage))
    reloaded.client.token = tab.client.token
    reloaded.client.on_delta = recorder(reloaded)
    try:
        await reloaded.client.open(f"/chat/{chat}", {"chat_public_id": chat})
        assert reloaded.client.var(LiveReply, "message_id"), "the reply no longer streams"
        await reloaded.client.wait_for(lambda: _final(reloaded) is not None, timeout=30)
    finally:
        await reloaded.client.close()

    assert _final(reloaded) == (text, "complete")
    live = [shown for _, _, shown in reloaded.live if shown]
    assert live and len(live) > 1 and len(live[0]) < len(text)  # it followed, live, on B
    assert all(text.startswith(shown) for shown in live)


def _final(tab: Tab) -> tuple[str, str] | None:
    views = [*tab.client.var(ChatState, "messages", []), *tab.client.var(ChatState, "recent", [])]
    replies = [m for m in views if m["role"] == "assistant"]
    return (replies[-1]["content"], replies[-1]["status"]) if replies else None
