"""The live issue's concurrency test on two workers, and a reload that lands on the other one.

Socket-level tabs (`ReflexTab`) connect to server A or server B; the test reads the same
PostgreSQL database as the servers.
"""

from __future__ import annotations

from chatstream.state.chat import ChatState
from chatstream.state.live import LiveReply
from tests.fake_openai import Reply, words
from tests.integration.test_concurrency import (
    Tab,
    recorder,
    replies_reach_only_their_own_tabs,
    start_chat,
    tabs_of,
)
from tests.reflex_client import ReflexTab


async def test_concurrent_replies_on_two_workers_reach_only_their_own_tabs(cluster, model):
    await replies_reach_only_their_own_tabs([cluster.a.url, cluster.b.url], model)


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
