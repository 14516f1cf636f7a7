"""The tables. Users and auth sessions come from reflex-local-auth; chats and messages are ours."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from enum import StrEnum

import sqlalchemy as sa
from reflex_local_auth import LocalUser  # noqa: F401  (registers `localuser` in the metadata)
from reflex_local_auth.auth_session import LocalAuthSession  # noqa: F401
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_public_id() -> str:
    """A random, URL-safe id for links; database ids never leave the server."""
    return secrets.token_urlsafe(12)


def _timestamp(**kwargs) -> sa.Column:
    return sa.Column(sa.DateTime(timezone=True), nullable=False, **kwargs)


class Status(StrEnum):
    STREAMING = "streaming"
    COMPLETE = "complete"
    ERROR = "error"
    STOPPED = "stopped"
    INTERRUPTED = "interrupted"


class Chat(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    public_id: str = Field(default_factory=new_public_id, unique=True, index=True, max_length=32)
    owner_id: int = Field(foreign_key="localuser.id", index=True)
    title: str = Field(default="New chat", max_length=200)
    model: str | None = Field(default=None, max_length=200)
    """The model that writes this chat's next reply; None: the configured one."""
    system_prompt: str | None = Field(default=None, sa_type=sa.Text)
    """This chat's system prompt; None: the app's default, "" none at all."""
    current_leaf_id: int | None = Field(default=None)
    """The last message of the branch the chat shows (its messages form a tree, see
    `Message.parent_id`); None: the newest message. No foreign key: a chat and its messages
    would then refer to each other, and deleting the chat would have to break the cycle."""
    created_at: datetime = Field(default_factory=utcnow, sa_column=_timestamp())
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_timestamp(index=True))


class Message(SQLModel, table=True):
    __table_args__ = (
        # At most one reply streams per chat: a second send is refused by the database too.
        sa.Index(
            "ix_message_one_streaming_per_chat",
            "chat_id",
            unique=True,
            sqlite_where=sa.text("streaming"),
            postgresql_where=sa.text("streaming"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    public_id: str = Field(default_factory=new_public_id, unique=True, index=True, max_length=32)
    chat_id: int = Field(foreign_key="chat.id", index=True)
    parent_id: int | None = Field(default=None, foreign_key="message.id", index=True)
    """The message this one answers or follows; None for a first message. Messages with
    the same parent are versions of each other (a regenerated reply, an edited message)."""
    role: str = Field(max_length=16)
    content: str = Field(default="", sa_type=sa.Text)
    """The answer (of a reply); the model's thinking is in `reasoning`."""
    reasoning: str = Field(default="", sa_type=sa.Text, sa_column_kwargs={"server_default": ""})
    streaming: bool = Field(default=False, sa_column_kwargs={"server_default": sa.false()})
    status: str = Field(default=Status.COMPLETE.value, max_length=16)
    error: str | None = Field(default=None, sa_type=sa.Text)
    model: str | None = Field(default=None, max_length=200)
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    first_token_ms: int | None = None
    """From the model request to its first text, measured by the job."""
    duration_ms: int | None = None
    """From the model request to the end of the reply."""
    chunk_count: int | None = None
    """Text chunks received: the rate's measure when the endpoint reports no token usage."""
    reasoning_ms: int | None = None
    """From the model request to the answer's first text, when the model thought first."""
    reasoning_tokens: int | None = None
    """Of `completion_tokens`, those the endpoint says were spent thinking."""
    created_at: datetime = Field(default_factory=utcnow, sa_column=_timestamp())
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_timestamp())
