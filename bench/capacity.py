"""Capacity: `load` replies streaming at once on one backend worker (model at 50 chunks/s
each), one socket-level tab per reply, all in this process with the backend."""

from __future__ import annotations

import asyncio
import resource
import secrets
import statistics

from bench.harness import reply_text
from bench.tabs import Watch, latencies, naive_on_delta, naive_state, ours_on_delta
from tests.fake_openai import FakeOpenAI, Reply, words
from tests.reflex_client import ReflexTab, handler_name

CHUNKS = 150  # 3 seconds of streaming per reply
_round = [0]


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _one(design: str, url: str, token: str | None, marker: str, text: str, go, opened) -> Watch:
    watch = Watch()
    if design == "ours":
        from chatstream.state.chat import ChatState

        tab = ReflexTab(url, local_storage={"_auth_token": token})
        tab.on_delta, send = ours_on_delta(watch), handler_name(ChatState, "send")
    else:
        tab = ReflexTab(url)
        tab.on_delta, send = naive_on_delta(watch, 0), handler_name(naive_state(), "send")
    await tab.open("/")
    opened.append(marker)
    await go.wait()
    await tab.send(send, form_data={"text": f"hello {marker}"})
    try:
        async with asyncio.timeout(60 + CHUNKS * 0.02):
            while watch.text != text:
                await asyncio.sleep(0.1)
        await asyncio.sleep(0.5)
    except TimeoutError:
        pass
    finally:
        await tab.close()
    return watch


def _saved(markers: list[str]) -> dict[str, str]:
    """Each reply's text as saved in the database, by the marker of its question."""
    import reflex as rx
    from sqlmodel import select

    from chatstream.models import Message

    with rx.session() as session:
        rows = session.exec(select(Message).order_by(Message.id)).all()
    saved, question = {}, None
    for row in rows:
        if row.role == "user":
            question = row.content.removeprefix("hello ")
        elif question in markers:
            saved[question] = row.content
    return saved


async def step(design: str, url: str, model: FakeOpenAI, load: int) -> dict:
    _round[0] += 1
    token = None
    if design == "ours":
        from tests.factories import make_user, sign_in

        token = secrets.token_urlsafe(16)
        sign_in(make_user(), token)
    markers = [f"<cap {_round[0]}.{i}>" for i in range(load)]
    texts = {m: reply_text(CHUNKS * 4, seed=i) for i, m in enumerate(markers)}
    for m in markers:
        model.on(m, Reply(chunks=words(texts[m], 4), delay=0.02))
    go, opened = asyncio.Event(), []
    runs = [
        asyncio.create_task(_one(design, url, token, m, texts[m], go, opened)) for m in markers
    ]
    async with asyncio.timeout(120):
        while len(opened) < load:  # every tab open before the replies start
            await asyncio.sleep(0.2)
    cpu = _cpu()
    go.set()
    watches = await asyncio.gather(*runs)
    cpu = _cpu() - cpu
    lat, lost, chunks = [], 0, 0
    saved = _saved(markers) if design == "ours" else {}
    for m, watch in zip(markers, watches, strict=True):
        request = model.request_for(m)
        sent = "".join(text for _, text in request.sent)
        chunks += len(request.sent)
        lat += latencies(request.sent, watch.seen)
        shown_ok = watch.text == texts[m] == sent
        saved_ok = design != "ours" or saved.get(m) == texts[m]
        lost += not (shown_ok and saved_ok)
    return {
        "load": load,
        "p50_ms": 1000 * statistics.median(lat),
        "p95_ms": 1000 * statistics.quantiles(lat, n=20)[-1],
        "lost": lost,
        "cpu_per_1000": 1000 * cpu / max(chunks, 1),
    }
