"""Reply jobs: one asyncio task per streaming reply, independent of any browser tab.

A job reads the model stream, appends each delta to its live copy of the message,
publishes it on the message's channel, checkpoints to the database at most once per
`checkpoint_interval`, and always ends the message (`streaming=false`) in the database
before closing the channel, whatever happened: complete, error, stop or shutdown.

The database may go away for a while (a PostgreSQL restart): a failed checkpoint is
skipped, and the end of a reply is retried until the database is back, so a reply the user
saw completing is a reply that is saved.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import weakref
from dataclasses import dataclass, field
from datetime import timedelta

import reflex as rx
from reflex.config import get_config
from sqlalchemy import exc as sa_exc

from . import llm, pacing, repository, titles
from .models import Status
from .settings import Settings, get_settings
from .streams import get_hub

log = logging.getLogger(__name__)


@dataclass
class LiveMessage:
    """The job's in-memory copy of the reply it writes."""

    id: int
    public_id: str
    content: str = ""
    reasoning: str = ""
    """The model's thinking, beside the answer (`content`)."""
    streaming: bool = True
    status: Status = Status.STREAMING
    error: str | None = None
    usage: llm.Usage | None = None
    stop_requested: bool = field(default=False, repr=False)
    requested_at: float | None = None
    """time.monotonic() when the model request started; the facts below count from it."""
    first_token_ms: int | None = None
    duration_ms: int | None = None
    chunk_count: int = 0
    reasoning_ms: int | None = None
    """How long the model thought: from the request to its answer's first text (or to the
    end of a reply that never got past thinking)."""

    def elapsed_ms(self) -> int | None:
        if self.requested_at is None:
            return None
        return round(1000 * (time.monotonic() - self.requested_at))


_jobs: dict[str, tuple[asyncio.Task, LiveMessage]] = {}


class EndedElsewhere(Exception):
    """The message stopped streaming without this job: Stop handled by a process that does
    not run it, or its chat deleted. Leaving the stream closes the model's connection."""


def model_messages(
    history: list, system_prompt: str, *, send_reasoning: bool = False
) -> list[dict]:
    """The conversation as the model sees it: the system prompt, then every saved turn.
    Earlier replies' reasoning only with `send_reasoning` (many endpoints refuse it), as
    `reasoning_content`."""
    turns = [{"role": m.role, "content": m.content} for m in history if m.content]
    if send_reasoning:
        said = [m for m in history if m.content]
        for turn, message in zip(turns, said, strict=True):
            if message.role == "assistant" and getattr(message, "reasoning", ""):
                turn["reasoning_content"] = message.reasoning
    return [{"role": "system", "content": system_prompt}, *turns] if system_prompt else turns


NO_ANSWER = "The model stopped while still thinking: it wrote no answer."


def start(*, message_id: int, public_id: str, settings: Settings | None = None) -> asyncio.Task:
    """Start writing the reply `message_id` (already saved with `streaming=true`)."""
    live = LiveMessage(id=message_id, public_id=public_id)
    get_hub().open(live, on_stop=lambda: stop(public_id))
    task = asyncio.get_running_loop().create_task(
        _run(live, settings or get_settings()), name=f"reply-{public_id}"
    )
    _jobs[public_id] = (task, live)
    task.add_done_callback(lambda _: _ended(live))
    return task


_endings: set[asyncio.Task] = set()
"""Ends of replies whose job was cancelled before it began (see `_ended`); the shutdown
waits for them."""


def _ended(live: LiveMessage) -> None:
    """A job's task is done. A task cancelled before its first step never ran `_run` at all,
    so not its `finally` either: end the reply here, or it would stay `streaming` until the
    orphan sweep."""
    _jobs.pop(live.public_id, None)
    if not live.streaming:
        return
    live.status = Status.STOPPED if live.stop_requested else Status.INTERRUPTED
    live.error = None if live.stop_requested else "The server stopped during this reply."
    ending = asyncio.get_running_loop().create_task(
        _finish(live), name=f"reply-end-{live.public_id}"
    )
    _endings.add(ending)
    ending.add_done_callback(_endings.discard)


def stop(public_id: str) -> bool:
    """Ask the job writing `public_id` to stop; False if no such job runs in this process."""
    job = _jobs.get(public_id)
    if job is None:
        return False
    task, live = job
    live.stop_requested = True
    task.cancel()
    return True


async def stop_anywhere(public_id: str) -> bool:
    """Stop the job writing `public_id`, here or in another worker; False if none runs it."""
    return stop(public_id) or await get_hub().stop_elsewhere(public_id)


async def _run(live: LiveMessage, settings: Settings) -> None:
    try:
        with rx.session() as session:
            context = repository.reply_context(session=session, message_id=live.id)
        if context is None:
            raise EndedElsewhere  # its chat was deleted before the job began
        chat, history = context
        settings = settings.for_chat(model=chat.model, system_prompt=chat.system_prompt)
        messages = model_messages(
            history, settings.system_prompt, send_reasoning=settings.send_reasoning
        )
        await _stream(live, messages, settings)
        live.status = Status.COMPLETE
        if live.reasoning and not live.content:
            live.status, live.error = Status.ERROR, NO_ANSWER
    except EndedElsewhere:
        live.status = Status.STOPPED  # already saved; `_finish` changes nothing in the database
    except asyncio.CancelledError:
        live.status = Status.STOPPED if live.stop_requested else Status.INTERRUPTED
        live.error = None if live.stop_requested else "The server stopped during this reply."
    except llm.ModelError as exc:
        log.warning("reply %s failed: %s", live.public_id, exc, exc_info=exc.__cause__)
        live.status, live.error = Status.ERROR, str(exc)
    except Exception:
        log.exception("reply %s failed", live.public_id)
        live.status, live.error = Status.ERROR, "Something went wrong on the server."
    finally:
        await _finish(live)
    if live.status == Status.COMPLETE:  # the model titles a chat after its first reply
        titles.start(reply_id=live.id, settings=settings)


async def _stream(live: LiveMessage, messages: list[dict], settings: Settings) -> None:
    hub, last_checkpoint = get_hub(), time.monotonic()
    live.requested_at = time.monotonic()
    reply = llm.stream_reply(messages, settings)
    with pacing.streaming():
        async with contextlib.aclosing(reply):
            async for parts in reply:  # what one read of the stream brought
                if not _apply(live, parts):
                    continue
                hub.broadcast(live)
                if time.monotonic() - last_checkpoint >= settings.checkpoint_interval:
                    last_checkpoint = time.monotonic()
                    # Off the loop, in one transaction with the other replies' checkpoints.
                    # Safe against a racing end: it only updates a message still streaming.
                    saved = _checkpoints_here().save(live.id, live.content, live.reasoning)
                    if await saved is False:
                        raise EndedElsewhere


def _apply(live: LiveMessage, parts: list) -> bool:
    """Add the parts of the reply to `live`; whether its text (answer or reasoning) grew."""
    grew = False
    for item in parts:
        kind = type(item)
        if kind is str:  # answer text
            if live.reasoning_ms is None and live.reasoning:
                live.reasoning_ms = live.elapsed_ms()
            live.content += repository.without_nul(item)  # what the database will hold
        elif kind is llm.Thought:
            live.reasoning += repository.without_nul(item)
        elif item is llm.MOVED:  # no <think>, then </think>: the answer was reasoning
            live.reasoning, live.content = live.reasoning + live.content, ""
            continue
        else:
            live.usage = item
            continue
        if live.first_token_ms is None:
            live.first_token_ms = live.elapsed_ms()
        live.chunk_count += 1
        grew = True
    return grew


class Checkpoints:
    """Group commit of the checkpoints of every reply in this process: a checkpoint that falls
    due while a write is under way joins the next one, so N replies streaming at once cost
    one transaction per write, not N (at 300 replies, SQLite's 300 fsyncs a second were the
    largest cost of a chunk)."""

    def __init__(self) -> None:
        self._batch: dict[int, tuple[str, str, asyncio.Future]] = {}
        self._writer: asyncio.Task | None = None

    async def save(self, message_id: int, content: str, reasoning: str = "") -> bool | None:
        """Save the text (and reasoning) so far; False if the message no longer streams, None
        if the database is unreachable (the reply goes on: the next checkpoint or the end
        saves it)."""
        done = asyncio.get_running_loop().create_future()
        self._batch[message_id] = (content, reasoning, done)
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write(), name="checkpoints")
        return await done

    async def _write(self) -> None:
        while self._batch:
            batch, self._batch = self._batch, {}
            try:
                ended = await asyncio.to_thread(
                    _save_texts,
                    {m: t for m, (t, _, _) in batch.items()},
                    {m: r for m, (_, r, _) in batch.items() if r},
                )
            except sa_exc.OperationalError as exc:
                log.warning(
                    "checkpoint of %d replies skipped: database unreachable (%s)", len(batch), exc
                )
                ended = None
            except Exception:
                log.exception("checkpoint of %d replies failed", len(batch))
                ended = None
            for message_id, (_, _, done) in batch.items():
                if not done.done():
                    done.set_result(None if ended is None else message_id not in ended)


_checkpoints: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Checkpoints] = (
    weakref.WeakKeyDictionary()
)


def _checkpoints_here() -> Checkpoints:
    loop = asyncio.get_running_loop()
    if (checkpoints := _checkpoints.get(loop)) is None:
        checkpoints = _checkpoints[loop] = Checkpoints()
    return checkpoints


def _save_texts(texts: dict[int, str], reasonings: dict[int, str]) -> set[int]:
    with rx.session() as session:
        return repository.checkpoint_many(session=session, texts=texts, reasonings=reasonings)


FINISH_RETRY_SECONDS = 1.0
FINISH_ATTEMPTS = 300
"""About five minutes of a database away before the end of a reply is left to the sweep."""


async def _finish(live: LiveMessage) -> None:
    """Persist the end of the reply, then tell its followers. Never leaves it streaming."""
    live.streaming = False
    live.duration_ms = live.elapsed_ms()
    if live.reasoning and live.reasoning_ms is None:
        live.reasoning_ms = live.duration_ms  # it never got past thinking
    try:
        for attempt in range(1, FINISH_ATTEMPTS + 1):
            try:
                await asyncio.to_thread(_save_end, live)
                return
            except sa_exc.OperationalError as exc:
                if attempt == 1:
                    log.error(
                        "database unreachable: the end of reply %s waits (%s)", live.public_id, exc
                    )
                await asyncio.sleep(FINISH_RETRY_SECONDS)
            except Exception:
                break
        log.exception("could not save the end of reply %s", live.public_id)
    finally:  # the sweep ends it from its last checkpoint if it was never saved
        get_hub().end(live)


def _save_end(live: LiveMessage) -> None:
    with rx.session() as session:
        repository.finish(
            session=session,
            message_id=live.id,
            content=live.content,
            reasoning=live.reasoning,
            status=live.status,
            error=live.error,
            prompt_tokens=live.usage.prompt_tokens if live.usage else None,
            completion_tokens=live.usage.completion_tokens if live.usage else None,
            first_token_ms=live.first_token_ms,
            duration_ms=live.duration_ms,
            chunk_count=live.chunk_count or None,
            reasoning_ms=live.reasoning_ms,
            reasoning_tokens=live.usage.reasoning_tokens if live.usage else None,
        )


async def _sweep(idle_for: timedelta) -> None:
    """End streaming replies whose job is gone: no job here, no lease in another worker (when
    the hub knows leases), and nothing saved for `idle_for`."""
    hub, alive = get_hub(), set(_jobs)
    try:
        candidates = await asyncio.to_thread(_streaming_ids) - alive
        if not candidates:
            return
        if hub.knows_leases:
            leased = await hub.leased(candidates)
            if leased is None:
                return  # the leases are unreadable (Redis away): nothing is known to be dead
            alive |= leased
        # A dead worker's last text reached the hub after its last checkpoint: keep it.
        texts = await hub.last_texts(candidates - alive)
        ended = await asyncio.to_thread(_interrupt, idle_for, alive, texts)
    except sa_exc.OperationalError as exc:
        log.warning("orphan sweep skipped: database unreachable (%s)", exc)
        return
    if ended:
        log.warning("marked %d orphaned streaming replies as interrupted", len(ended))
        await hub.ended_elsewhere(ended)


def _streaming_ids() -> set[str]:
    with rx.session() as session:
        return set(repository.streaming_ids(session=session))


def _interrupt(idle_for: timedelta, alive: set[str], texts: dict[str, str]) -> list[str]:
    with rx.session() as session:
        return repository.interrupt_orphans(
            session=session, idle_for=idle_for, alive=alive, last_texts=texts
        )


async def _sweep_forever(idle_for: timedelta, interval: float) -> None:
    while True:
        await asyncio.sleep(interval)
        try:
            await _sweep(idle_for)
        except Exception:
            log.exception("orphan sweep failed")


@contextlib.asynccontextmanager
async def lifespan(sweep_interval: float | None = None):
    """App lifespan: start the hub; end orphaned replies (a server killed mid-reply) at
    start-up and then every `sweep_interval`; on shutdown, end every running reply as
    interrupted.

    One process (no Redis): at start-up every streaming reply is an orphan; later, one whose
    job has saved nothing for longer than a live job ever waits (the stall timeout, plus a
    margin) is. Several workers (Redis): a reply is an orphan once no worker holds its lease,
    which lapses `lease` seconds after its worker died.
    """
    hub = get_hub()
    await hub.start()
    if get_config().redis_url:
        lease = timedelta(seconds=hub.lease)
        first, later, interval = lease, lease, hub.lease / 2
    else:
        first, later, interval = (
            timedelta(0),
            timedelta(seconds=get_settings().stall_timeout + 30),
            30.0,
        )
    await _sweep(first)
    sweeper = asyncio.create_task(
        _sweep_forever(later, sweep_interval or interval), name="orphan-sweep"
    )
    try:
        yield
    finally:
        sweeper.cancel()
        tasks = [task for task, _ in _jobs.values()] + titles.running()
        for task in tasks:
            task.cancel()
        await asyncio.gather(sweeper, *tasks, return_exceptions=True)
        await asyncio.gather(*_endings, return_exceptions=True)
        await hub.close()
        await llm.close_clients()
