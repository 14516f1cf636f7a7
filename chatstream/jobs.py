"""Reply jobs: one asyncio task per streaming reply, independent of any browser tab.

A job reads the model stream, appends each delta to its live copy of the message,
publishes it on the message's channel, checkpoints to the database at most once per
`checkpoint_interval`, and always ends the message (`streaming=false`) in the database
before closing the channel, whatever happened: complete, error, stop or shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from datetime import timedelta

import reflex as rx
from reflex.config import get_config

from . import llm, repository
from .models import Status
from .settings import Settings, get_settings
from .streams import hub

log = logging.getLogger(__name__)


@dataclass
class LiveMessage:
    """The job's in-memory copy of the reply it writes."""

    id: int
    public_id: str
    content: str = ""
    streaming: bool = True
    status: Status = Status.STREAMING
    error: str | None = None
    usage: llm.Usage | None = None
    stop_requested: bool = field(default=False, repr=False)


_jobs: dict[str, tuple[asyncio.Task, LiveMessage]] = {}


class EndedElsewhere(Exception):
    """The message stopped streaming without this job: Stop handled by a process that does
    not run it, or its chat deleted. Leaving the stream closes the model's connection."""


def model_messages(history: list, system_prompt: str) -> list[dict]:
    """The conversation as the model sees it: the system prompt, then every saved turn."""
    turns = [{"role": m.role, "content": m.content} for m in history if m.content]
    return [{"role": "system", "content": system_prompt}, *turns] if system_prompt else turns


def start(*, message_id: int, public_id: str, settings: Settings | None = None) -> asyncio.Task:
    """Start writing the reply `message_id` (already saved with `streaming=true`)."""
    live = LiveMessage(id=message_id, public_id=public_id)
    hub.open(live)
    task = asyncio.get_running_loop().create_task(
        _run(live, settings or get_settings()), name=f"reply-{public_id}"
    )
    _jobs[public_id] = (task, live)
    task.add_done_callback(lambda _: _jobs.pop(public_id, None))
    return task


def stop(public_id: str) -> bool:
    """Ask the job writing `public_id` to stop; False if no such job runs in this process."""
    job = _jobs.get(public_id)
    if job is None:
        return False
    task, live = job
    live.stop_requested = True
    task.cancel()
    return True


async def _run(live: LiveMessage, settings: Settings) -> None:
    try:
        with rx.session() as session:
            message = repository.get_message(session=session, message_id=live.id)
            history = repository.history_before(session=session, message=message)
        await _stream(live, model_messages(history, settings.system_prompt), settings)
        live.status = Status.COMPLETE
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
        _finish(live)


async def _stream(live: LiveMessage, messages: list[dict], settings: Settings) -> None:
    last_checkpoint = time.monotonic()
    async with contextlib.aclosing(llm.stream_reply(messages, settings)) as reply:
        async for item in reply:
            if isinstance(item, llm.Usage):
                live.usage = item
                continue
            live.content += item
            hub.broadcast(live)
            if time.monotonic() - last_checkpoint >= settings.checkpoint_interval:
                last_checkpoint = time.monotonic()
                # In a thread: the loop keeps serving other replies while the database writes.
                # Safe against a racing end: a checkpoint only updates a message still streaming.
                if not await asyncio.to_thread(_checkpoint, live.id, live.content):
                    raise EndedElsewhere


def _checkpoint(message_id: int, content: str) -> bool:
    with rx.session() as session:
        return repository.checkpoint(session=session, message_id=message_id, content=content)


def _finish(live: LiveMessage) -> None:
    """Persist the end of the reply, then tell its followers. Never leaves it streaming."""
    live.streaming = False
    try:
        with rx.session() as session:
            repository.finish(
                session=session,
                message_id=live.id,
                content=live.content,
                status=live.status,
                error=live.error,
                prompt_tokens=live.usage.prompt_tokens if live.usage else None,
                completion_tokens=live.usage.completion_tokens if live.usage else None,
            )
    except Exception:  # the orphan sweep will end it from its last checkpoint
        log.exception("could not save the end of reply %s", live.public_id)
    finally:
        hub.end(live)


def _sweep(idle_for: timedelta) -> None:
    try:
        with rx.session() as session:
            count = repository.interrupt_orphans(session=session, idle_for=idle_for, alive=_jobs)
        if count:
            log.warning("marked %d orphaned streaming replies as interrupted", count)
    except Exception:
        log.exception("orphan sweep failed")


async def _sweep_forever(lease: timedelta, interval: float) -> None:
    while True:
        await asyncio.sleep(interval)
        _sweep(lease)


@contextlib.asynccontextmanager
async def lifespan(sweep_interval: float = 30.0):
    """App lifespan: end orphaned replies (the server was killed mid-reply), at start-up and
    then every `sweep_interval`; on shutdown, end every running reply as interrupted.

    At start-up every streaming reply of a single-process app is an orphan. With several
    workers (Redis), a reply is an orphan once it has gone unsaved for longer than a live job
    ever waits between checkpoints (the stall timeout), plus a margin.
    """
    lease = timedelta(seconds=get_settings().stall_timeout + 30)
    _sweep(lease if get_config().redis_url else timedelta(0))
    sweeper = asyncio.create_task(_sweep_forever(lease, sweep_interval), name="orphan-sweep")
    try:
        yield
    finally:
        sweeper.cancel()
        tasks = [task for task, _ in _jobs.values()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(sweeper, *tasks, return_exceptions=True)
