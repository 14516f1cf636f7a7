"""A tab follows a reply once, however often it asks: `follow` replaces, never multiplies."""

from __future__ import annotations

import asyncio
import contextlib
import secrets

from chatstream.state.chat import ChatState
from chatstream.state.live import LiveReply
from chatstream.streams import get_hub
from tests.factories import make_user, sign_in
from tests.fake_openai import Reply, words
from tests.reflex_client import ReflexTab, handler_name


@contextlib.contextmanager
def counting_followers(monkeypatch):
    """How many followers are subscribed to a reply right now, in this process."""
    hub = type(get_hub())
    original, live = hub.follow, {"now": 0, "started": 0}

    @contextlib.asynccontextmanager
    async def follow(self, public_id):
        live["now"] += 1
        live["started"] += 1
        try:
            async with original(self, public_id) as channel:
                yield channel
        finally:
            live["now"] -= 1

    monkeypatch.setattr(hub, "follow", follow)
    yield live


@contextlib.asynccontextmanager
async def held_reply_in_a_new_chat(backend_url: str, model, name: str):
    """A tab that sent a message from a new chat and shows its reply, held after 3 chunks, on
    the chat's page; on leaving, the reply goes on and must end in the tab exactly."""
    marker = f"<{name}-{secrets.token_hex(4)}>"
    reply = Reply(chunks=words(f"the reply to {marker}, " * 20, 6), delay=0.01, hold_after=3)
    model.on(marker, reply)
    user, token = make_user(), secrets.token_urlsafe(16)
    sign_in(user, token)
    tab = ReflexTab(backend_url, local_storage={"_auth_token": token})
    try:
        await tab.open("/")
        await tab.send(handler_name(ChatState, "send"), form_data={"text": marker})
        await tab.wait_for(
            lambda: (
                tab.path.startswith("/chat/")
                and tab.hydrated()
                and tab.var(LiveReply, "message_id")
            )
        )
        yield tab
        reply.release.set()
        await tab.wait_for(lambda: not tab.var(LiveReply, "message_id"), timeout=30)
        shown = [*tab.var(ChatState, "messages", []), *tab.var(ChatState, "recent", [])]
        assert shown[-1]["content"] == reply.text
    finally:
        reply.release.set()
        await tab.close()


async def test_a_repeated_follow_replaces_the_running_one(backend_url, model, monkeypatch):
    with counting_followers(monkeypatch) as followers:
        async with held_reply_in_a_new_chat(backend_url, model, "follow-once") as tab:
            await asyncio.sleep(0.5)  # (the page's own follower has started)
            for _ in range(6):  # as a hostile page would
                await tab.send(handler_name(LiveReply, "follow"))
            try:
                async with asyncio.timeout(10):  # each newer one cancels the one before
                    while followers["now"] != 1:
                        await asyncio.sleep(0.05)
            except TimeoutError:
                raise AssertionError(f"followers: {followers}") from None
            await asyncio.sleep(1.0)  # six of them would still be there now
            assert followers["now"] == 1, followers
    assert followers["now"] == 0


async def test_a_new_chats_page_keeps_the_follower_its_send_started(
    backend_url, model, monkeypatch
):
    """The send starts the follower, the redirect's page shows the same reply: it is not
    started again (that would hold back the reply's first update)."""
    with counting_followers(monkeypatch) as followers:
        async with held_reply_in_a_new_chat(backend_url, model, "follow-kept"):
            await asyncio.sleep(0.5)  # (a second follower would have started by now)
            assert followers == {"now": 1, "started": 1}
