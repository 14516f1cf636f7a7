"""Export a chat as Markdown (the branch it shows) or as JSON (its whole tree), and check a
JSON file before importing it.

The JSON format (version 2):

    {"format": "chatstream.chat", "version": 2, "title": "…", "exported_at": "ISO 8601",
     "model": "…" | null, "system_prompt": "…" | null,      (the chat's own; optional)
     "current": 4,           (the id of the message whose branch the chat shows; optional)
     "messages": [{"id": 1, "parent": null | <the id of an earlier message>,
                   "role": "user" | "assistant", "content": "…", "status": "complete" | …,
                   "model": "…" | null, "created_at": "ISO 8601",
                   "reasoning": "…"}]}                   (a reply's thinking; optional)

Ids are numbers of the file's own (1, 2, 3… in the order written), never database ids.
Messages with the same parent are versions of each other. Version 1 files (no ids, no
parents, no current) still import, as one branch: each message follows the one before it.

Import is the inverse, checked by `parse_import` alone (pure, no database): anything it
refuses raises `ImportRefused` with a sentence for the user, and nothing is created. An
upload too large to be a chat file is refused before it is read at all (`UploadLimit`).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime

from .models import Status
from .settings import MAX_MESSAGE_CHARS, SYSTEM_PROMPT_CHARS

log = logging.getLogger(__name__)

FORMAT = "chatstream.chat"
VERSION = 2
READS = (1, 2)
MAX_FILE_BYTES = 2 * 1024 * 1024
UPLOAD_OVERHEAD_BYTES = 64 * 1024
"""What a multipart upload of one file adds around it (boundaries, part headers, the event
arguments): an upload body longer than MAX_FILE_BYTES plus this is refused unread."""
TOO_LARGE = f"The file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB."
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
    reasoning: str = ""
    """A reply's thinking before its answer ("" none); older files have none."""
    parent: int | None = None
    """The index in the chat's messages of the message this one follows; None: a first one."""


@dataclasses.dataclass(frozen=True)
class ImportedChat:
    title: str
    messages: list[ExportedMessage]
    model: str | None = None
    """The chat's own model and system prompt (None: the app's)."""
    system_prompt: str | None = None
    current: int | None = None
    """The index of the message whose branch the chat shows; None: its newest message."""


def to_json(
    *,
    title: str,
    messages: Sequence[ExportedMessage],
    exported_at: datetime,
    model: str | None = None,
    system_prompt: str | None = None,
    current: int | None = None,
) -> str:
    """The whole tree: `messages` in the order written (a parent before its children)."""
    return json.dumps(
        {
            "format": FORMAT,
            "version": VERSION,
            "title": title,
            "exported_at": exported_at.isoformat(),
            "model": model,
            "system_prompt": system_prompt,
            "current": None if current is None else current + 1,
            "messages": [
                {
                    "id": index + 1,
                    "parent": None if m.parent is None else m.parent + 1,
                    "role": m.role,
                    "content": m.content,
                    "status": m.status,
                    "model": m.model,
                    "created_at": m.created_at.isoformat(),
                    **({"reasoning": m.reasoning} if m.reasoning else {}),
                }
                for index, m in enumerate(messages)
            ],
        },
        ensure_ascii=False,
        indent=2,
    )


def to_markdown(*, title: str, messages: Sequence[ExportedMessage]) -> str:
    """A transcript of `messages` (the branch the chat shows)."""
    parts = [f"# {title}"]
    for m in messages:
        parts.append(f"**{LABELS.get(m.role, m.role)}**")
        if m.reasoning:
            parts.append(f"<details><summary>Thinking</summary>\n\n{m.reasoning}\n\n</details>")
        parts.append(m.content)
    return "\n\n".join(parts) + "\n"


def filename(title: str, extension: str) -> str:
    """A file name from a chat title: letters, digits, '-' and '_' only."""
    stem = re.sub(r"[^A-Za-z0-9_-]+", "-", title).strip("-_")[:80] or "chat"
    return f"{stem}.{extension}"


def parse_import(data: bytes) -> ImportedChat:
    """The chat in an exported JSON file, or `ImportRefused` saying what is wrong with it."""
    if len(data) > MAX_FILE_BYTES:
        raise ImportRefused(TOO_LARGE)
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
    version = document.get("version")
    if version not in READS or isinstance(version, bool):
        raise ImportRefused(
            f"Unsupported version {version!r}; this app reads versions 1 and {VERSION}."
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
    current = None
    if version == 1:  # one branch: each message follows the one before it
        parsed = [dataclasses.replace(m, parent=i - 1 if i else None) for i, m in enumerate(parsed)]
    else:
        parsed, current = _tree(parsed, messages, document)
    return ImportedChat(
        title=" ".join(title.split())[:MAX_TITLE_CHARS],
        messages=parsed,
        current=current,
        model=_optional_text(document, "model", 200) or None,
        system_prompt=_optional_text(document, "system_prompt", SYSTEM_PROMPT_CHARS),
    )


def _tree(
    parsed: list[ExportedMessage], items: list[dict], document: dict
) -> tuple[list[ExportedMessage], int | None]:
    """Version 2: the parents as indexes (each an earlier message's id), and the current one."""
    index_of: dict[int, int] = {}
    tree = []
    for index, (message, item) in enumerate(zip(parsed, items, strict=True)):
        where = f"Message {index + 1}"
        number, parent = item.get("id"), item.get("parent")
        if not _is_id(number) or number in index_of:
            raise ImportRefused(f'{where}: "id" must be a number no other message has.')
        if parent is not None and (not _is_id(parent) or parent not in index_of):
            raise ImportRefused(f'{where}: "parent" must be null or the id of an earlier message.')
        index_of[number] = index
        tree.append(
            dataclasses.replace(message, parent=None if parent is None else index_of[parent])
        )
    current = document.get("current")
    if current is not None and (not _is_id(current) or current not in index_of):
        raise ImportRefused('"current" must be null or the id of a message.')
    return tree, None if current is None else index_of[current]


def _is_id(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


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
    reasoning = item.get("reasoning") or ""
    if not isinstance(reasoning, str):
        raise ImportRefused(f'{where}: "reasoning" must be a text.')
    if len(reasoning) > MAX_REPLY_CHARS:
        raise ImportRefused(
            f"{where} has {len(reasoning):,} characters of reasoning; the limit is "
            f"{MAX_REPLY_CHARS:,}."
        )
    return ExportedMessage(
        role=role,
        content=content,
        status=status,
        model=model[:200] if model else None,
        created_at=_timestamp(where, item.get("created_at")),
        reasoning=reasoning if role == "assistant" else "",
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


class UploadLimit:
    """ASGI middleware: an upload (`POST` to `path`) whose body is over `limit` bytes is
    refused with HTTP 413 before Reflex spools it to disk.

    A declared Content-Length over the limit is refused without reading a byte. A body of
    unknown length (chunked) is counted as it arrives; past the limit the app underneath is
    told the client went away (so it stops reading and writes nothing more), its answer is
    dropped and the 413 sent instead. `on_refused(client_token)` then tells the tab, since
    the page's upload code only logs a failed request to the console.
    """

    def __init__(
        self,
        app: Callable,
        *,
        path: str,
        limit: int,
        on_refused: Callable[[str], Awaitable[None]] | None = None,
    ) -> None:
        self.app, self.path, self.limit, self.on_refused = app, path.rstrip("/"), limit, on_refused

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if not self._guards(scope):
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        declared = headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            return await self._refuse(send, headers)
        received, over, started = 0, False, False

        async def counted_receive() -> dict:
            nonlocal received, over
            if over:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    over = True
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: dict) -> None:
            nonlocal started
            if over and not started:
                return  # the app's answer to a body it never saw whole: replaced by the 413
            started = True
            await send(message)

        await self.app(scope, counted_receive, guarded_send)
        if over and not started:
            await self._refuse(send, headers)

    def _guards(self, scope: dict) -> bool:
        return (
            scope["type"] == "http"
            and scope.get("method") == "POST"
            and scope.get("path", "").rstrip("/") == self.path
        )

    async def _refuse(self, send: Callable, headers: dict[str, str]) -> None:
        log.warning("refused an upload over %d bytes (HTTP 413)", self.limit)
        body = json.dumps({"detail": TOO_LARGE}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
        token = headers.get("reflex-client-token", "")
        if self.on_refused is not None and token:
            try:
                await self.on_refused(token)
            except Exception:
                log.exception("could not tell the tab that its upload was refused")
