"""Plain data the pages render: what of a row the browser may see (public ids only)."""

from __future__ import annotations

import dataclasses

from .. import tree
from ..models import Message


@dataclasses.dataclass
class MessageView:
    id: str
    role: str
    content: str
    status: str
    error: str = ""
    model: str = ""
    facts: str = ""
    """Model, tokens, time to first token and rate of a finished reply; "" if none."""
    reasoning: str = ""
    """The model's thinking before this answer; "" if none."""
    thought: str = ""
    """How long it thought, as the folded block says it ("Thought for 12 s"); "" if unknown."""
    version: int = 0
    """Which of its versions this message is (1-based), and how many there are; 0 when it
    has no other version. `previous_id`, `next_id`: the versions beside it ("" at the ends)."""
    versions: int = 0
    previous_id: str = ""
    next_id: str = ""

    @classmethod
    def of(cls, message: Message, place: VersionsView | None = None) -> MessageView:
        place = place or VersionsView()
        return cls(
            id=message.public_id,
            role=message.role,
            content=message.content,
            status=message.status,
            error=message.error or "",
            model=message.model or "",
            facts=reply_facts(message),
            reasoning=message.reasoning or "",
            thought=thought_label(message.reasoning_ms),
            version=place.version,
            versions=place.versions,
            previous_id=place.previous_id,
            next_id=place.next_id,
        )


def thought_label(reasoning_ms: int | None) -> str:
    """`Thought for 12 s` (under 10 s with a decimal); `Thought` when the time is unknown."""
    if reasoning_ms is None:
        return "Thought"
    seconds = reasoning_ms / 1000
    return f"Thought for {seconds:.1f} s" if seconds < 10 else f"Thought for {seconds:,.0f} s"


@dataclasses.dataclass
class VersionsView:
    """A message's place among its versions, as the page shows it (public ids only)."""

    version: int = 0
    versions: int = 0
    previous_id: str = ""
    next_id: str = ""


def branch_views(branch: list[Message], messages: list[Message]) -> list[VersionsView]:
    """The place among its versions of each message of `branch`, from all of the chat's
    `messages` (a streaming reply counts as a version too)."""
    places, public = tree.versions(messages), {m.id: m.public_id for m in messages}
    views = []
    for message in branch:
        place = places.get(message.id)
        views.append(
            VersionsView(
                version=place.number,
                versions=place.count,
                previous_id=public.get(place.previous, ""),
                next_id=public.get(place.next, ""),
            )
            if place
            else VersionsView()
        )
    return views


def reply_facts(message: Message) -> str:
    """`model · 12 → 85 tokens · first token 0.21 s · 48 tokens/s`, each part only when
    known: tokens as the endpoint reported them, times as the job measured them. Without
    reported usage the rate counts the chunks received, and says so."""
    if message.role != "assistant" or message.status not in ("complete", "stopped"):
        return ""
    parts = [message.model] if message.model else []
    prompt, completion = message.prompt_tokens, message.completion_tokens
    if prompt is not None and completion is not None:
        parts.append(f"{prompt:,} → {completion:,} tokens")
    elif completion is not None:
        parts.append(f"{completion:,} tokens")
    if message.reasoning_tokens:
        parts.append(f"{message.reasoning_tokens:,} thinking")
    if message.reasoning_ms is not None:
        parts.append(f"thought {message.reasoning_ms / 1000:.1f} s")
    if message.first_token_ms is not None:
        parts.append(f"first token {message.first_token_ms / 1000:.2f} s")
    if message.first_token_ms is not None and message.duration_ms is not None:
        writing = (message.duration_ms - message.first_token_ms) / 1000
        count, unit = (completion, "tokens/s") if completion else (message.chunk_count, "chunks/s")
        if count and writing >= 0.05:
            parts.append(f"{count / writing:,.0f} {unit}")
    return " · ".join(parts)


@dataclasses.dataclass
class ChatLink:
    id: str
    title: str
