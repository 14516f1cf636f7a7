"""Export a chat as Markdown or as JSON, and check a JSON file before importing it.

The JSON format (version 1):

    {"format": "chatstream.chat", "version": 1, "title": "…", "exported_at": "ISO 8601",
     "model": "…" | null, "system_prompt": "…" | null,      (the chat's own; optional)
     "messages": [{"role": "user" | "assistant", "content": "…", "status": "complete" | …,
                   "model": "…" | null, "created_at": "ISO 8601"}]}

Import is the inverse, checked by `parse_import` alone (pure, no database): anything it
refuses raises `ImportRefused` with a sentence for the user, and nothing is created.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Sequence
from datetime import datetime

from .models import Status
from .settings import MAX_MESSAGE_CHARS, SYSTEM_PROMPT_CHARS

FORMAT = "chatstream.chat"
VERSION = 1
MAX_FILE_BYTES = 2 * 1024 * 1024
MAX_MESSAGES = 1000
MAX_TITLE_CHARS = 200
MAX_REPLY_CHARS = 200_000
"""A model reply may be longer than what a user may send (MAX_MESSAGE_CHARS)."""
ROLES = ("user", "assistant")
IMPORTED_STATUSES = tuple(s.value for s in Status if s is not Status.STREAMING)
"""An imported message never streams: a `streaming` status in a file is stored as `interrupted`."""
LABELS = {"user": "You", "assistant": "Assistant"}


class ImportRefused(ValueError):
    """The file cannot be imported; the message says why, in words for the user."""


@dataclasses.dataclass(frozen=True)
class ExportedMessage:
    role: str
    content: str
    status: str
    model: str | None
    created_at: datetime


@dataclasses.dataclass(frozen=True)
class ImportedChat:
    title: str
    messages: list[ExportedMessage]
    model: str | None = None
    """The chat's own model and system prompt (None: the app's)."""
    system_prompt: str | None = None


def to_json(
    *,
    title: str,
    messages: Sequence[ExportedMessage],
    exported_at: datetime,
    model: str | None = None,
    system_prompt: str | None = None,
) -> str:
    return json.dumps(
        {
            "format": FORMAT,
            "version": VERSION,
            "title": title,
            "exported_at": exported_at.isoformat(),
            "model": model,
            "system_prompt": system_prompt,
            "messages": [
                {
                    "role": m.role,
                    "content": m.content,
                    "status": m.status,
                    "model": m.model,
                    "created_at": m.created_at.isoformat(),
                }
                for m in messages
            ],
        },
        ensure_ascii=False,
        indent=2,
    )


def to_markdown(*, title: str, messages: Sequence[ExportedMessage]) -> str:
    parts = [f"# {title}"]
    for m in messages:
        parts.append(f"**{LABELS.get(m.role, m.role)}**")
        parts.append(m.content)
    return "\n\n".join(parts) + "\n"


def filename(title: str, extension: str) -> str:
    """A file name from a chat title: letters, digits, '-' and '_' only."""
    stem = re.sub(r"[^A-Za-z0-9_-]+", "-", title).strip("-_")[:80] or "chat"
    return f"{stem}.{extension}"


def parse_import(data: bytes) -> ImportedChat:
    """The chat in an exported JSON file, or `ImportRefused` saying what is wrong with it."""
    if len(data) > MAX_FILE_BYTES:
        raise ImportRefused(f"The file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB.")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ImportRefused("The file is not UTF-8 text.") from None
    try:
        document = json.loads(text)
    except ValueError:
        raise ImportRefused("The file is not JSON.") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ImportRefused(f'This is not a chatstream chat (no "format": "{FORMAT}").')
    if document.get("version") != VERSION or isinstance(document.get("version"), bool):
        raise ImportRefused(
            f"Unsupported version {document.get('version')!r}; this app reads version {VERSION}."
        )
    title = document.get("title")
    if not isinstance(title, str) or not title.strip():
        raise ImportRefused('"title" must be a non-empty text.')
    messages = document.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ImportRefused('"messages" must be a non-empty list.')
    if len(messages) > MAX_MESSAGES:
        raise ImportRefused(f"Too many messages ({len(messages):,}; at most {MAX_MESSAGES:,}).")
    parsed = [_message(index + 1, item) for index, item in enumerate(messages)]
    return ImportedChat(
        title=" ".join(title.split())[:MAX_TITLE_CHARS],
        messages=parsed,
        model=_optional_text(document, "model", 200) or None,
        system_prompt=_optional_text(document, "system_prompt", SYSTEM_PROMPT_CHARS),
    )


def _optional_text(document: dict, name: str, limit: int) -> str | None:
    value = document.get(name)
    if value is not None and not isinstance(value, str):
        raise ImportRefused(f'"{name}" must be a text or null.')
    if value is not None and len(value) > limit:
        raise ImportRefused(f'"{name}" has {len(value):,} characters; the limit is {limit:,}.')
    return value


def _message(number: int, item: object) -> ExportedMessage:
    where = f"Message {number}"
    if not isinstance(item, dict):
        raise ImportRefused(f"{where} is not an object.")
    role, content = item.get("role"), item.get("content")
    if role not in ROLES:
        raise ImportRefused(
            f'{where} has an unknown role {role!r} (expected "user" or "assistant").'
        )
    if not isinstance(content, str):
        raise ImportRefused(f'{where}: "content" must be a text.')
    limit = MAX_MESSAGE_CHARS if role == "user" else MAX_REPLY_CHARS
    if len(content) > limit:
        raise ImportRefused(f"{where} has {len(content):,} characters; the limit is {limit:,}.")
    status = item.get("status", Status.COMPLETE.value)
    if status == Status.STREAMING.value:
        status = Status.INTERRUPTED.value  # it was still being written when exported
    if status not in IMPORTED_STATUSES:
        raise ImportRefused(f"{where} has an unknown status {status!r}.")
    model = item.get("model")
    if model is not None and not isinstance(model, str):
        raise ImportRefused(f'{where}: "model" must be a text or null.')
    return ExportedMessage(
        role=role,
        content=content,
        status=status,
        model=model[:200] if model else None,
        created_at=_timestamp(where, item.get("created_at")),
    )


def _timestamp(where: str, value: object) -> datetime:
    if not isinstance(value, str):
        raise ImportRefused(f'{where}: "created_at" must be an ISO 8601 date and time.')
    try:
        stamp = datetime.fromisoformat(value)
    except ValueError:
        raise ImportRefused(f'{where}: "created_at" is not an ISO 8601 date and time.') from None
    if stamp.tzinfo is None:
        raise ImportRefused(f'{where}: "created_at" has no time zone.')
    return stamp
