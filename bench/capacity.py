"""Capacity: `load` replies streaming at once on one backend worker in its own process (model
at 50 chunks/s each, bench/load_model.py in a process of its own), one socket-level tab per
reply in this process."""

from __future__ import annotations

import asyncio
import os
import resource
import secrets
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import psutil
import socketio

from bench.harness import reply_text
from bench.lean_socket import LeanSocket
from bench.load_model import LoadModel

__all__ = ["LoadModel", "backend_process", "load_model", "model_environment", "step"]
from bench.tabs import Watch, latencies, naive_on_delta, naive_state, ours_on_delta
from tests.fake_openai import words
from tests.reflex_client import ReflexTab, handler_name

CHUNKS = 1000  # 20 seconds of streaming per reply
DELAY = 0.02  # between two chunks of a reply: 50 a second
SENDS_PER_SECOND = 30
"""The tabs send their questions evenly over `load / SENDS_PER_SECOND` seconds (10 s for
300): people do not all press Enter in the same millisecond, and what is measured here is
streaming, not the start of an exchange (a chat created, the page's events). Every reply
streams alongside all the others for at least half of its 20 seconds."""
_round = [0]


@contextmanager
def load_model() -> Iterator[LoadModel]:
    """bench/load_model.py in a child process."""
    server = subprocess.Popen(
        [sys.executable, "-m", "bench.load_model"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        yield LoadModel(server.stdout.readline().strip(), server.pid)
    finally:
        server.stdin.close()
        server.wait(30)


def model_environment(model: LoadModel) -> dict[str, str]:
    """The environment of a backend process that streams from `model`: each tab is a user of
    its own, so the per-user limits are the app's own (one reply each is within them)."""
    return os.environ | {
        "OPENAI_BASE_URL": model.url,
        "CHATSTREAM_MAX_STREAMS_PER_USER": "3",
        "CHATSTREAM_SENDS_PER_MINUTE": "20",
    }


def _signed_in(count: int) -> list[str]:
    """The sign-in tokens of `count` new users, one per tab: 300 replies at once are 300
    people's, not one person's 300 chats (whose sidebar, sent again with every question,
    would grow with the step). Made in one transaction, with one bcrypt hash for all."""
    import reflex as rx
    from reflex_local_auth import LocalUser
    from reflex_local_auth.auth_session import LocalAuthSession

    if not _password_hash:
        _password_hash.append(LocalUser.hash_password("correct horse battery"))
    tokens = [secrets.token_urlsafe(16) for _ in range(count)]
    expiration = datetime.now(UTC) + timedelta(days=1)
    with rx.session() as session:
        users = [
            LocalUser(username=f"cap-{token}", password_hash=_password_hash[0], enabled=True)
            for token in tokens
        ]
        session.add_all(users)
        session.flush()
        session.add_all(
            LocalAuthSession(user_id=user.id, session_id=token, expiration=expiration)
            for user, token in zip(users, tokens, strict=True)
        )
        session.commit()
    return tokens


_password_hash: list[bytes] = []


@contextmanager
def backend_process(design: str, env: dict[str, str] | None = None) -> Iterator[tuple[str, int]]:
    """bench/serve.py in a child process: its URL and pid. Its log goes to BENCH_BACKEND_LOG
    when that names a file."""
    path = os.environ.get("BENCH_BACKEND_LOG")
    log = open(path, "a") if path else subprocess.DEVNULL  # noqa: SIM115 (closed below)
    server = subprocess.Popen(
        [sys.executable, "-m", "bench.serve", design],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
    )
    try:
        url = next(line for line in server.stdout if line.startswith("http")).strip()
        yield url, server.pid
    finally:
        server.stdin.close()
        server.wait(30)
        if path:
            log.close()


def _cpu(pids: list[int], model: LoadModel) -> tuple[float, float, float]:
    """CPU seconds so far of the backend processes, of this one (the tabs) and of the model."""
    backend = sum(sum(psutil.Process(pid).cpu_times()[:2]) for pid in pids)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    model_cpu = sum(psutil.Process(model.pid).cpu_times()[:2])
    return backend, usage.ru_utime + usage.ru_stime, model_cpu


OPENING = 25
"""Tabs that connect at once: a burst of page loads larger than this makes the socket client
give up (python-socketio waits 1 s for the namespace), which is no reply lost."""
OPEN_ATTEMPTS = 3
GRACE = 60.0
"""Seconds a tab has, after its reply ended (saved, or sent by the model for the naive
design), to show all of it; slower than that, or never, counts as lost. Slow is measured by
the latency figures, not here."""
GIVE_UP = 600.0
"""Seconds after the start of the replies when every tab stops waiting (a step that stalls)."""


def _tab(design: str, url: str, token: str | None, watch: Watch) -> tuple[ReflexTab, str]:
    """A socket-level tab, on `LeanSocket`: python-socketio's client cost more CPU than the
    backend can spare on these two cores."""
    if design == "ours":
        from chatstream.state.chat import ChatState

        tab = ReflexTab(url, local_storage={"_auth_token": token}, socket=LeanSocket())
        tab.on_delta, send = ours_on_delta(watch), handler_name(ChatState, "send")
    else:
        tab = ReflexTab(url, socket=LeanSocket())
        tab.on_delta, send = naive_on_delta(watch, 0), handler_name(naive_state(), "send")
    return tab, send


async def _one(
    design: str,
    url: str,
    token: str | None,
    marker: str,
    text: str,
    go: asyncio.Event,
    opened: list[str],
    opening: asyncio.Semaphore,
    ended: dict[str, float],
    wait: float,
) -> Watch | None:
    """One tab: open, send when `go`, watch the reply until it shows whole, or until `GRACE`
    seconds after `ended[marker]` (when its reply ended); it sends `wait` seconds after `go`.
    None: the tab never connected."""
    watch, tab = Watch(), None
    try:
        async with opening:
            for attempt in range(1, OPEN_ATTEMPTS + 1):
                tab, send = _tab(design, url, token, watch)
                try:
                    await tab.open("/")
                    break
                except (TimeoutError, OSError, socketio.exceptions.SocketIOError):
                    await tab.close()
                    tab = None
                    if attempt == OPEN_ATTEMPTS:
                        return None
    finally:
        opened.append(marker)
    await go.wait()
    await asyncio.sleep(wait)
    started = time.monotonic()
    try:  # a tab that fails shows less than the reply: counted as lost
        await tab.send(send, form_data={"text": f"hello {marker}"})
        while watch.text != text and time.monotonic() - started < GIVE_UP:
            if marker in ended and time.monotonic() - ended[marker] > GRACE:
                break
            await asyncio.sleep(0.1)
        else:
            await asyncio.sleep(0.5)
    except (OSError, socketio.exceptions.SocketIOError):
        pass
    finally:
        await tab.close()
    return watch


async def _quiet(pids: list[int], timeout: float = 60.0) -> None:
    """Wait until the backend processes use less than 10% of a core."""
    processes = [psutil.Process(pid) for pid in pids]
    async with asyncio.timeout(timeout):
        while True:
            for process in processes:
                process.cpu_percent()
            await asyncio.sleep(0.5)
            if all(process.cpu_percent() < 10 for process in processes):
                return


def _saved(markers: list[str], *, content: bool = True) -> dict[str, Any]:
    """Each reply as saved in the database, by the marker of its question: a row with its
    `streaming`, `status` and (with `content`) `content`.

    By chat: two workers insert at once, so one chat's question and reply need not be
    neighbours in id order (taking "the row after the question" gave one reply to two
    questions, and none to the other: 'saved 0 of 600' and 'saved 600 of 600' in the run
    that reported two replies lost, all of them saved and shown whole). Plain SQL, the
    questions' chats only: read every half second while the replies stream, it must not be
    what loads the machine."""
    import reflex as rx
    import sqlalchemy as sa

    from chatstream.models import Message

    table = Message.__table__
    wanted = {f"hello {m}": m for m in markers}
    with rx.session() as session:
        db = session.connection()
        asked = dict(
            db.execute(
                sa.select(table.c.chat_id, table.c.content).where(
                    table.c.role == "user", table.c.content.in_(list(wanted))
                )
            ).all()
        )
        columns = [table.c.chat_id, table.c.streaming, table.c.status]
        rows = db.execute(
            sa.select(*columns, *([table.c.content] if content else []))
            .where(table.c.role == "assistant", table.c.chat_id.in_(list(asked)))
            .order_by(table.c.chat_id, table.c.id)
        ).all()
    return {wanted[asked[row.chat_id]]: row for row in rows}


async def _watch_ends(
    design: str, model: LoadModel, markers: list[str], ended: dict[str, float], go, chunks: int
) -> None:
    """Note when each reply ends: saved with `streaming` false (ours), or sent whole by the
    model (naive). A reply with no request a minute after the start counts as ended."""
    await go.wait()
    started = time.monotonic()
    while len(ended) < len(markers):
        if design == "ours":
            rows = await asyncio.to_thread(_saved, markers, content=False)
            done = {m for m, row in rows.items() if not row.streaming}
        else:
            sent = await asyncio.to_thread(model.sent)
            done = {m for m in markers if len(sent.get(m, ())) == chunks}
        if time.monotonic() - started > 60 + len(markers) / SENDS_PER_SECOND:
            asked = set(await asyncio.to_thread(model.sent))
            done |= set(markers) - asked
        for marker in done - ended.keys():
            ended[marker] = time.monotonic()
        await asyncio.sleep(0.5)


async def step(
    design: str,
    url: str | list[str],
    model: LoadModel,
    load: int,
    pid: int | list[int],
    *,
    chunks: int = CHUNKS,
    on_go: Callable[[], object] | None = None,
) -> dict:
    """`load` replies of `chunks` chunks at once; with several backend URLs (workers), the
    tabs take them in turn. `on_go`: called as the first question is sent (a profiler's
    start). Besides the latency of every chunk, `steady_p95_ms` is that of the chunks sent
    while every reply streamed and no question or end came (from two seconds after the last
    question to the first reply's end): streaming alone, without the work of an exchange."""
    urls, pids = (
        (url if isinstance(url, list) else [url]),
        (pid if isinstance(pid, list) else [pid]),
    )
    _round[0] += 1
    tokens = _signed_in(load) if design == "ours" else [None] * load
    markers = [f"<cap {_round[0]}.{i}>" for i in range(load)]
    texts = {m: reply_text(chunks * 4, seed=i) for i, m in enumerate(markers)}
    model.script({m: words(texts[m], 4) for m in markers}, delay=DELAY)
    go, opened, ended = asyncio.Event(), [], {}
    opening = asyncio.Semaphore(OPENING)
    runs = [
        asyncio.create_task(
            _one(
                design,
                urls[i % len(urls)],
                *(tokens[i], m, texts[m], go, opened, opening, ended, i / SENDS_PER_SECOND),
            )
        )
        for i, m in enumerate(markers)
    ]
    ends = asyncio.create_task(_watch_ends(design, model, markers, ended, go, chunks))
    async with asyncio.timeout(120 + load):
        while len(opened) < load:  # every tab open before the replies start
            await asyncio.sleep(0.2)
    await _quiet(pids)  # and the pages' own events (sidebar, model list…) all answered
    cpu = _cpu(pids, model)
    go.set()
    went = time.time()  # (the clock of the model's send times)
    if on_go is not None:
        on_go()
    watches = await asyncio.gather(*runs, return_exceptions=True)
    cpu = [after - before for after, before in zip(_cpu(pids, model), cpu, strict=True)]
    ends.cancel()
    calm = (went + load / SENDS_PER_SECOND + 2, went + chunks * DELAY)
    lat, steady, lost, counted, why = [], [], 0, 0, []
    saved = _saved(markers) if design == "ours" else {}
    sent_by_marker = model.sent()
    for m, watch in zip(markers, watches, strict=True):
        if not isinstance(watch, Watch):  # the load generator's failure, not the app's
            lost += 1
            why.append(f"{m}: tab never connected ({watch!r})")
            continue
        if (request_sent := sent_by_marker.get(m)) is None:  # the reply never started
            lost += 1
            why.append(f"{m}: never started")
            continue
        sent = "".join(text for _, text in request_sent)
        counted += len(request_sent)
        mine = latencies(request_sent, watch.seen)
        lat += mine
        steady += [
            late
            for (at, _), late in zip(request_sent, mine, strict=False)
            if calm[0] <= at < calm[1]
        ]
        shown_ok = watch.text == texts[m] == sent
        row = saved.get(m)
        saved_ok = design != "ours" or (row is not None and row.content == texts[m])
        lost += not (shown_ok and saved_ok)
        if not shown_ok:
            why.append(f"{m}: tab showed {len(watch.text)} of {len(texts[m])} characters")
        if not saved_ok:
            what = (
                f"{len(row.content)} of {len(texts[m])} characters, {row.status}" if row else "none"
            )
            why.append(f"{m}: saved {what}")
    return {
        "load": load,
        "p50_ms": 1000 * statistics.median(lat) if lat else float("inf"),
        "p95_ms": 1000 * statistics.quantiles(lat, n=20)[-1] if len(lat) > 1 else float("inf"),
        "lost": lost,
        "lost_why": why,
        "steady_p95_ms": 1000 * statistics.quantiles(steady, n=20)[-1] if len(steady) > 1 else None,
        "cpu_per_1000": 1000 * cpu[0] / max(counted, 1),
        "client_cpu_per_1000": 1000 * cpu[1] / max(counted, 1),
        "model_cpu_per_1000": 1000 * cpu[2] / max(counted, 1),
        "backend_cpu_s": cpu[0],
    }
