"""One 4,000-character reply (1,000 chunks of 4 at 100/s) after 0 and after 50 earlier
messages of 500 characters: websocket payload and TCP bytes the backend sends, latency from
the model's send to the delta reaching a socket-level tab, database writes. And, ours only,
a reply that thinks first: 1,000 chunks of reasoning (`reasoning_content`), then the same
1,000 of answer, measured against both texts."""

from __future__ import annotations

import asyncio
import json
import secrets
import statistics

import reflex as rx
from sqlalchemy import event
from sqlalchemy.engine import Engine

from bench.harness import Proxy, reply_text
from bench.tabs import Watch, compressed, latencies, naive_on_delta, naive_state, ours_on_delta
from tests.fake_openai import FakeOpenAI, Reply, words
from tests.reflex_client import ReflexTab, handler_name

REPLY = reply_text(4000)
THOUGHT = reply_text(4000, seed=2).rstrip()
"""(No trailing space: the page's text of the two is then the sum of their lengths.)"""
_writes = [0]


def _count_message_writes(conn, cursor, statement: str, *args) -> None:
    if statement.lstrip().upper().startswith(("UPDATE MESSAGE", "INSERT INTO MESSAGE")):
        _writes[0] += 1


event.listen(Engine, "before_cursor_execute", _count_message_writes)


def _seed_ours(user_id: int, earlier: int) -> str:
    from chatstream.models import Message
    from tests.factories import make_chat

    class Owner:  # make_chat only reads the id
        id = user_id

    chat = make_chat(Owner, "bench")
    with rx.session() as session:
        parent_id = None  # one branch: each message follows the one before it
        for i in range(earlier):
            role = ("user", "assistant")[i % 2]
            message = Message(
                chat_id=chat.id, parent_id=parent_id, role=role, content=reply_text(500, seed=i)
            )
            session.add(message)
            session.flush()
            parent_id = message.id
        session.commit()
    return chat.public_id


async def _ours_tab(url: str, earlier: int, watch: Watch) -> tuple[ReflexTab, str]:
    from chatstream.state.chat import ChatState
    from tests.factories import make_user, sign_in

    user, token = make_user(), secrets.token_urlsafe(16)
    sign_in(user, token)
    tab = compressed(ReflexTab(url, local_storage={"_auth_token": token}))
    tab.on_delta = ours_on_delta(watch)
    if earlier:
        chat = _seed_ours(user.id, earlier)
        await tab.open(f"/chat/{chat}", {"chat_public_id": chat})
    else:
        await tab.open("/")
    return tab, handler_name(ChatState, "send")


async def _naive_tab(url: str, earlier: int, watch: Watch) -> tuple[ReflexTab, str]:
    state = naive_state()
    tab = compressed(ReflexTab(url))
    tab.on_delta = naive_on_delta(watch, earlier)
    await tab.open("/")
    await tab.send(handler_name(state, "seed"), count=earlier)
    await tab.wait_for(lambda: len(tab.var(state, "messages", [])) == earlier)
    return tab, handler_name(state, "send")


async def one_reply(
    design: str, proxy: Proxy, model: FakeOpenAI, earlier: int, thinking: bool = False
) -> dict:
    marker = f"<bench {design} {earlier}{' thinking' if thinking else ''}>"
    thought = words(THOUGHT, 4) if thinking else []
    model.on(marker, Reply(chunks=words(REPLY, 4), thinking=thought, delay=0.01))
    expected = "".join(thought) + REPLY
    watch = Watch()
    make = _ours_tab if design == "ours" else _naive_tab
    tab, send = await make(await proxy.start(), earlier, watch)
    by_var: dict[str, int] = {}
    show = tab.on_delta

    def on_delta(client: ReflexTab, delta) -> None:  # payload by var: where the bytes go
        for state, changes in delta.items():
            for var, value in changes.items():
                name = f"{state.rsplit('.', 1)[-1]}.{var.removesuffix('_rx_state_')}"
                by_var[name] = by_var.get(name, 0) + len(json.dumps(value))
        show(client, delta)

    tab.on_delta = on_delta
    proxy.reset()
    _writes[0] = 0
    await tab.send(send, form_data={"text": f"hello {marker}"})
    async with asyncio.timeout(120):
        while watch.text != expected:
            await asyncio.sleep(0.05)
    await asyncio.sleep(0.5)  # what follows the last chunk (the saved message, the sidebar)
    request = model.request_for(marker)
    await tab.close()
    lat = latencies(request.sent, watch.seen)
    streamed = request.sent[-1][0] - request.sent[0][0]
    return {
        "payload": proxy.total("payload") / len(expected),
        "tcp": proxy.total("tcp") / len(expected),
        "frames": proxy.total("frames"),
        "deflate": any(counter.compressed for counter in proxy.counters),
        "p50_ms": 1000 * statistics.median(lat),
        "p95_ms": 1000 * statistics.quantiles(lat, n=20)[-1],
        "max_ms": 1000 * max(lat),
        "first_ms": 1000 * lat[0],
        "db_writes": _writes[0] if design == "ours" else 0,
        "seconds": streamed,
        "complete": watch.text == expected,
        "max_at_chunk": lat.index(max(lat)),
        "top_vars": sorted(by_var.items(), key=lambda kv: -kv[1])[:4],
    }
