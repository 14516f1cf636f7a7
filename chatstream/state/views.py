"""Plain data the pages render: what of a row the browser may see (public ids only)."""

from __future__ import annotations

import dataclasses

from ..models import Chat, Message


@dataclasses.dataclass
class MessageView:
    id: str
    role: str
    content: str
    status: str
    error: str = ""
    model: str = ""

    @classmethod
    def of(cls, message: Message) -> MessageView:
        return cls(
            id=message.public_id,
            role=message.role,
            content=message.content,
            status=message.status,
            error=message.error or "",
            model=message.model or "",
        )


@dataclasses.dataclass
class ChatLink:
    id: str
    title: str

    @classmethod
    def of(cls, chat: Chat) -> ChatLink:
        return cls(id=chat.public_id, title=chat.title)
