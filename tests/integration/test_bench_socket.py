"""The bench's capacity tabs use their own Socket.IO client (bench/lean_socket.py): it must
see what a tab on python-socketio's client sees, or the bench's 'lost' and latency figures
would be of the client, not of the app."""

from __future__ import annotations

import asyncio

from bench.lean_socket import LeanSocket
from tests.integration.test_concurrency import (
    live_text,
    saved_chats,
    script,
    shows,
    start_chat,
    tabs_of,
    until_no_reply_streams,
)


async def test_a_tab_on_the_bench_socket_shows_a_reply_as_one_on_the_library_client(
    backend_url, model
):
    owner, (library, lean) = tabs_of(1, [backend_url], 2)
    lean.client.listen(LeanSocket())
    markers = ["<bench socket library>", "<bench socket lean>"]
    texts = [script(model, marker, chunks=60).text for marker in markers]
    try:
        await asyncio.gather(library.client.open("/"), lean.client.open("/"))
        assert lean.client.connected()
        await asyncio.gather(
            *(start_chat(tab, m) for tab, m in zip((library, lean), markers, strict=True))
        )
        await until_no_reply_streams()
        chats = saved_chats([owner])
        for tab in (library, lean):
            await tab.client.wait_for(shows(tab, chats[tab.chats[-1]]))
    finally:
        await asyncio.gather(library.client.close(), lean.client.close())
    assert not lean.client.connected()

    for tab, text in zip((library, lean), texts, strict=True):
        question, reply = chats[tab.chats[-1]]
        assert (reply.content, reply.status) == (text, "complete")
        # Followed live: the follower's `live` pushes decoded (60 chunks in 1.2 s, an update
        # every 50 ms at most), each text shown a prefix of the reply.
        shown = {live for _, _, live in tab.live if live}
        assert len(shown) >= 10 and all(text.startswith(live) for live in shown)
        assert tab.gaps == 0
        assert live_text(tab) == ""  # the reply handed over to the list: no live reply shown
