"""Search runs in a worker thread, never on the event loop that streams every reply."""

from __future__ import annotations

import asyncio
import secrets
import threading

from chatstream import search
from chatstream.state.search import SearchState
from tests.factories import make_chat, make_user, sign_in
from tests.reflex_client import ReflexTab, handler_name


async def test_a_search_runs_off_the_event_loop(backend_url, model, monkeypatch):
    user, token = make_user(), secrets.token_urlsafe(16)
    sign_in(user, token)
    make_chat(user, title="Bread baking notes")
    original, seen = search.search_chats, []

    def recording(**kwargs):
        try:
            asyncio.get_running_loop()
            seen.append("event loop")
        except RuntimeError:
            seen.append(threading.current_thread().name)
        return original(**kwargs)

    monkeypatch.setattr(search, "search_chats", recording)
    tab = ReflexTab(backend_url, local_storage={"_auth_token": token})
    try:
        await tab.open("/")
        await tab.send(handler_name(SearchState, "set_query"), value="bread")
        await tab.wait_for(lambda: tab.var(SearchState, "results"))
    finally:
        await tab.close()
    assert seen and "event loop" not in seen
    assert tab.var(SearchState, "results")[0]["href"].startswith("/chat/")
