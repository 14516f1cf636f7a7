"""Chat titles written by the model, in the background, after a chat's first exchange.

A new chat is titled with the first words of its first message (`repository.title_from`).
When the chat's first reply completes, `start` asks the model, in a task of its own, for a
3–6 word title, and gives it to the chat only if the chat still has its automatic title
(nobody renamed it meanwhile; an imported chat keeps its own). The tabs that show the chat
hear of it on the chat's news channel (`TITLE_CHANGED`). Any failure keeps the first words.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass

import reflex as rx

from . import llm, repository
from .models import Status
from .settings import Settings
from .streams import TITLE_CHANGED, get_hub

log = logging.getLogger(__name__)

PROMPT = (
    "Write a short title, 3 to 6 words, for the conversation below. Answer with the title "
    "only: no quotes, no trailing punctuation, no preamble."
)
"""The system message; the tests' model recognises a title request by its first words."""
QUESTION_CHARS = 1_000
ANSWER_CHARS = 300
MAX_TOKENS = 24
MAX_WORDS = 6
MAX_CHARS = 60

_tasks: set[asyncio.Task] = set()
"""Title tasks running in this process: kept so they are not garbage-collected, and so the
app's shutdown can cancel them."""

_PREFIX = re.compile(r"^\s*(?:[#>*\-•]+\s*|\d+[.)]\s+)*(?:(?:chat\s+)?title\s*:\s*)?", re.I)
_QUOTES = "\"'`“”‘’«»„"
_TRAILING = ".,;:!?…-–—" + _QUOTES


def clean(raw: str) -> str | None:
    """The model's answer as a title: its first line without markdown, quotes, a "Title:"
    prefix or trailing punctuation, at most MAX_WORDS words and about MAX_CHARS characters;
    None when nothing usable is left."""
    line = next((line for line in (raw or "").splitlines() if line.strip()), "")
    line = line.replace("**", "").replace("__", "")
    line = _PREFIX.sub("", line).strip().strip(_QUOTES).strip()
    line = _PREFIX.sub("", line)  # `"Title: …"`: a prefix inside the quotes
    words = "".join(c for c in line if c not in '"`“”«»„').split()[:MAX_WORDS]
    title = " ".join(words)
    if len(title) > MAX_CHARS:
        title = title[:MAX_CHARS].rsplit(" ", 1)[0]
    title = title.rstrip(_TRAILING + " ").lstrip(_QUOTES + " ")
    return title if any(c.isalnum() for c in title) else None


async def suggest(first_user_text: str, reply_text: str, settings: Settings) -> str | None:
    """The model's title for a conversation that starts with this exchange; None if it
    gave nothing usable. Raises `llm.ModelError` when the request fails or times out."""
    question = first_user_text.strip()[:QUESTION_CHARS]
    answer = reply_text.strip()[:ANSWER_CHARS]
    messages = [
        {"role": "system", "content": PROMPT},
        {"role": "user", "content": f"User: {question}\n\nAssistant: {answer}"},
    ]
    raw = await llm.complete(
        messages, settings, max_tokens=MAX_TOKENS, timeout=settings.title_timeout
    )
    return clean(raw)


@dataclass(frozen=True)
class _FirstExchange:
    chat_id: int
    chat_public_id: str
    title: str
    question: str
    answer: str


def _first_exchange(reply_id: int) -> _FirstExchange | None:
    """The chat's first exchange if `reply_id` is its first complete reply to its first
    message (the first exchange of the first branch), and the chat still has its automatic
    title; else None."""
    with rx.session() as session:
        reply = repository.get_message(session=session, message_id=reply_id)
        if reply is None or reply.streaming or reply.status != Status.COMPLETE.value:
            return None
        question = repository.first_exchange_question(session=session, chat_id=reply.chat_id)
        if question is None or question.id != reply.parent_id:
            return None
        first_reply = repository.first_complete_reply(session=session, question=question)
        if first_reply is None or first_reply.id != reply_id:
            return None
        chat = repository.chat_of(session=session, message=reply)
        if chat is None or chat.title != repository.title_from(question.content):
            return None  # renamed by the user, or imported with a title of its own
        return _FirstExchange(chat.id, chat.public_id, chat.title, question.content, reply.content)


def _set_title(chat_id: int, expected: str, title: str) -> bool:
    with rx.session() as session:
        return repository.set_auto_title(
            session=session, chat_id=chat_id, expected=expected, title=title
        )


async def retitle(*, reply_id: int, settings: Settings) -> str | None:
    """Give the chat of `reply_id` a title from the model if that reply is the chat's first
    and the chat still has its automatic title; the new title, or None. Never raises."""
    try:
        exchange = await asyncio.to_thread(_first_exchange, reply_id)
        if exchange is None:
            return None
        title = await suggest(exchange.question, exchange.answer, settings)
        if title is None:
            log.info("chat %s keeps its first words: no usable title", exchange.chat_public_id)
            return None
        if title == exchange.title:
            return None
        # Compare-and-set: a rename while the model was thinking wins.
        if not await asyncio.to_thread(_set_title, exchange.chat_id, exchange.title, title):
            return None
        await get_hub().announce(exchange.chat_public_id, TITLE_CHANGED)
        return title
    except llm.ModelError as exc:  # one line: a flaky title endpoint must not flood the log
        log.warning(
            "no title for the chat of reply %s: %s (%s)", reply_id, exc, llm.describe(exc.__cause__)
        )
    except Exception:
        log.exception("no title for the chat of reply %s", reply_id)
    return None


def start(*, reply_id: int, settings: Settings) -> asyncio.Task | None:
    """Retitle the chat of a reply that just completed, in the background (if titles are on)."""
    if not settings.titles:
        return None
    task = asyncio.get_running_loop().create_task(
        retitle(reply_id=reply_id, settings=settings), name=f"title-{reply_id}"
    )
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)
    return task


def running() -> list[asyncio.Task]:
    """The title tasks of this process that have not finished."""
    return list(_tasks)
