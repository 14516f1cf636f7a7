"""Small database functions: keyword-only, a session passed in, typed returns."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from reflex_local_auth.auth_session import LocalAuthSession
from reflex_local_auth.user import LocalUser
from sqlmodel import Session, col, select

from . import database, limits, tree  # noqa: F401  (database: SQLite's WAL and busy timeout)
from .models import Chat, Message, Status, utcnow

TITLE_CHARS = 60
NUL, REPLACEMENT = "\x00", "\ufffd"


def without_nul(value: str | None) -> str | None:
    """Text as stored: a NUL character becomes U+FFFD (the replacement character), since a
    PostgreSQL text column cannot hold NUL and refuses the whole write. Applied here, to
    every text a user, a model or an import gives, so both databases store the same."""
    return value.replace(NUL, REPLACEMENT) if value and NUL in value else value


class ReplyInProgress(Exception):
    """A reply in this chat is still streaming; a second one is refused."""


def title_from(text: str) -> str:
    """The first line of the first message, cut at a word near TITLE_CHARS."""
    line = " ".join(without_nul(text).split())
    if len(line) <= TITLE_CHARS:
        return line or "New chat"
    cut = line[:TITLE_CHARS].rsplit(" ", 1)[0] or line[:TITLE_CHARS]
    return cut + "…"


def _one_line(title: str) -> str:
    """A title as stored: whitespace collapsed, at most the column's 200 characters."""
    return " ".join(without_nul(title).split())[:200]


AUTH_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,255}")
"""What an auth token may look like: ours (43 URL-safe characters) and reflex-local-auth's
older ones (the tab's client token, a UUID). Anything else is no one's, and is not sent to
the database (where a NUL character, say, is an error on PostgreSQL)."""
SESSION_DAYS = 7


_SESSIONS, _USERS = LocalAuthSession.__table__, LocalUser.__table__
_USER_OF_TOKEN = (
    sa.select(_SESSIONS.c.user_id)
    .join(_USERS, _USERS.c.id == _SESSIONS.c.user_id)
    .where(
        _SESSIONS.c.session_id == sa.bindparam("token"),
        _SESSIONS.c.expiration >= sa.bindparam("now"),
        _USERS.c.enabled.is_(True),
    )
)
"""Built once, run as plain SQL: every event that acts for a user asks it (a send, about six
times), 76 µs a time where the ORM query took 295."""


def user_id_for_token(*, session: Session | sa.Connection, auth_token: object) -> int | None:
    """The signed-in, enabled user of an auth token, read fresh from the database.

    The token comes from the browser's storage: anything but a short string is no one's.
    Given a connection rather than a session, as every event's check is: no session to
    begin and close around the one statement (36 against 65 µs a read here).
    """
    if not _is_token(auth_token):
        return None
    connection = session if isinstance(session, sa.Connection) else session.connection()
    return connection.execute(
        _USER_OF_TOKEN, {"token": auth_token, "now": datetime.now(UTC)}
    ).scalar()


def _is_token(value: object) -> bool:
    return isinstance(value, str) and AUTH_TOKEN.fullmatch(value) is not None


def start_session(*, session: Session, user_id: int, days: int = SESSION_DAYS) -> str:
    """A new sign-in of `user_id`: its token, made here from a CSPRNG, never by the browser."""
    token = secrets.token_urlsafe(32)
    session.add(
        LocalAuthSession(
            user_id=user_id, session_id=token, expiration=datetime.now(UTC) + timedelta(days=days)
        )
    )
    session.commit()
    return token


def end_session(*, session: Session, auth_token: object) -> None:
    """Sign out: the token is no one's any more (a token that is not a string never was)."""
    if _is_token(auth_token):
        session.exec(sa.delete(LocalAuthSession).where(LocalAuthSession.session_id == auth_token))
        session.commit()


def disable_user(*, session: Session, user_id: int) -> None:
    """Disable an account and end all its sessions: every tab signed in as it is signed out
    at its next event (`user_id_for_token` also refuses a disabled user's tokens)."""
    session.exec(sa.update(LocalUser).where(col(LocalUser.id) == user_id).values(enabled=False))
    session.exec(sa.delete(LocalAuthSession).where(LocalAuthSession.user_id == user_id))
    session.commit()


def username_taken(*, session: Session, username: str) -> bool:
    return (
        session.exec(select(LocalUser.id).where(LocalUser.username == username)).first() is not None
    )


def create_user(*, session: Session, username: str, password_hash: bytes) -> LocalUser:
    """An enabled account (the caller checked the rules and hashed the password)."""
    user = LocalUser(username=username, password_hash=password_hash, enabled=True)
    session.add(user)
    session.commit()
    session.refresh(user)
    return user


def create_chat(
    *,
    session: Session,
    owner_id: int,
    title: str,
    model: str | None = None,
    system_prompt: str | None = None,
    commit: bool = True,
) -> Chat:
    """A new chat of the user's. `commit=False`: only flushed (it has its id), saved with
    the rest of the transaction, gone with it if that is rolled back (a refused first send)."""
    chat = Chat(
        owner_id=owner_id,
        title=title_from(title),
        model=without_nul(model),
        system_prompt=without_nul(system_prompt),
    )
    session.add(chat)
    if not commit:
        session.flush()
        return chat
    session.commit()
    session.refresh(chat)
    return chat


def list_chats(*, session: Session, owner_id: int) -> list[Chat]:
    return list(
        session.exec(
            select(Chat)
            .where(Chat.owner_id == owner_id)
            .order_by(col(Chat.updated_at).desc(), col(Chat.id).desc())
        )
    )


def chat_links(*, session: Session, owner_id: int) -> list[tuple[str, str]]:
    """The user's chats as the sidebar lists them, newest first: (public id, title) only.
    Read without building a `Chat` per row, which cost 30 µs a chat: a send re-reads the
    list, and a user may have hundreds of chats."""
    return [tuple(row) for row in session.connection().execute(_CHAT_LINKS, {"owner_id": owner_id})]


def chat_title(*, session: Session, owner_id: int, public_id: str) -> str | None:
    """The title of the chat with this public id if `owner_id` owns it (as `get_chat`)."""
    return (
        session.connection()
        .execute(_CHAT_TITLE, {"owner_id": owner_id, "public_id": public_id})
        .scalar()
    )


_CHATS = Chat.__table__
# Built once (see `_CHAT_MESSAGES`).
_CHAT_LINKS = (
    sa.select(_CHATS.c.public_id, _CHATS.c.title)
    .where(_CHATS.c.owner_id == sa.bindparam("owner_id"))
    .order_by(_CHATS.c.updated_at.desc(), _CHATS.c.id.desc())
)
_CHAT_TITLE = sa.select(_CHATS.c.title).where(
    _CHATS.c.public_id == sa.bindparam("public_id"), _CHATS.c.owner_id == sa.bindparam("owner_id")
)


def get_chat(*, session: Session, owner_id: int, public_id: str) -> Chat | None:
    """The chat with this public id if `owner_id` owns it; None for unknown and foreign ids alike."""
    return session.exec(
        select(Chat).where(Chat.public_id == public_id, Chat.owner_id == owner_id)
    ).first()


def rename_chat(*, session: Session, chat: Chat, title: str) -> Chat:
    chat.title = _one_line(title) or chat.title
    session.add(chat)
    session.commit()
    session.refresh(chat)
    return chat


KEEP = "\0keep"
"""`set_chat_settings`: leave this one as it is."""


def set_chat_settings(
    *, session: Session, chat: Chat, model: str | None = KEEP, system_prompt: str | None = KEEP
) -> Chat:
    """The model and system prompt of the chat's next replies (None: the app's)."""
    if model != KEEP:
        chat.model = without_nul(model)
    if system_prompt != KEEP:
        chat.system_prompt = without_nul(system_prompt)
    session.add(chat)
    session.commit()
    session.refresh(chat)
    return chat


def chat_of(*, session: Session, message: Message) -> Chat | None:
    return session.get(Chat, message.chat_id)


def set_auto_title(*, session: Session, chat_id: int, expected: str, title: str) -> bool:
    """Give a chat the model's title, only if its title is still `expected` (the automatic
    one): a rename that happened meanwhile wins. False if it changed nothing."""
    result = session.exec(
        sa.update(Chat)
        .where(col(Chat.id) == chat_id, col(Chat.title) == expected)
        .values(title=_one_line(title))
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return result.rowcount == 1


def delete_chat(*, session: Session, chat: Chat) -> None:
    session.exec(sa.delete(Message).where(col(Message.chat_id) == chat.id))
    session.delete(chat)
    session.commit()


_MESSAGES = Message.__table__
_CHAT_MESSAGES = (
    sa.select(_MESSAGES)
    .where(_MESSAGES.c.chat_id == sa.bindparam("chat_id"))
    .order_by(_MESSAGES.c.id)
)
"""Built once, as the other statements read on every exchange: made per call, a statement
costs more to build and to key for SQLAlchemy's compiled cache than the database to run it."""


def list_messages(*, session: Session, chat_id: int) -> list[sa.Row]:
    """The chat's messages, oldest first, as read-only rows with a `Message`'s fields as
    attributes: read without the ORM, 3 µs a message where a `Message` cost 30, and a chat
    may hold hundreds (its page, its model history and its branches all read them)."""
    session.flush()  # what the session holds counts, as with an ORM query
    return list(session.connection().execute(_CHAT_MESSAGES, {"chat_id": chat_id}))


def first_exchange_question(*, session: Session, chat_id: int) -> Message | None:
    """The chat's first message: the first of its first versions (what titles it)."""
    return session.exec(
        select(Message)
        .where(Message.chat_id == chat_id, col(Message.parent_id).is_(None))
        .order_by(col(Message.id))
        .limit(1)
    ).first()


def first_complete_reply(*, session: Session, question: Message) -> Message | None:
    """The first version of the replies to `question` that completed."""
    return session.exec(
        select(Message)
        .where(
            Message.parent_id == question.id,
            Message.status == Status.COMPLETE.value,
            col(Message.streaming).is_(False),
        )
        .order_by(col(Message.id))
        .limit(1)
    ).first()


def get_message(*, session: Session, message_id: int) -> Message | None:
    return session.get(Message, message_id)


def streaming_message(*, session: Session, chat_id: int) -> Message | None:
    return session.exec(
        select(Message).where(Message.chat_id == chat_id, col(Message.streaming).is_(True))
    ).first()


def _open_reply(
    *,
    session: Session,
    chat: Chat,
    model: str,
    parent_id: int | None,
    max_streams: int | None = None,
) -> Message:
    """Commit a new streaming reply to `parent_id`, as the chat's current leaf, with whatever
    the session holds, or nothing: at most one streams per chat (`ReplyInProgress`),
    `max_streams` per user (`TooManyStreams`; None: the setting), counted under a lock on the
    user in this same transaction."""
    try:
        limits.admit_stream(session=session, owner_id=chat.owner_id, limit=max_streams)
    except limits.TooManyStreams:
        session.rollback()
        raise
    reply = Message(
        chat_id=chat.id,
        parent_id=parent_id,
        role="assistant",
        content="",
        streaming=True,
        status=Status.STREAMING.value,
        model=without_nul(model),
    )
    session.add(reply)
    try:
        session.flush()
    except sa.exc.IntegrityError as exc:  # the one-streaming-reply-per-chat index
        session.rollback()
        raise ReplyInProgress from exc
    chat.current_leaf_id, chat.updated_at = reply.id, utcnow()
    session.add(chat)
    _commit_kept(session)
    return reply


def _commit_kept(session: Session) -> None:
    """Commit, keeping the values of the objects in the session: every one was set here, so
    reading them back (the default, one SELECT per object) would only cost the sender."""
    session.expire_on_commit, kept = False, session.expire_on_commit
    try:
        session.commit()
    finally:
        session.expire_on_commit = kept


def branch(*, session: Session, chat: Chat) -> list[sa.Row]:
    """The messages the chat shows: its current branch, first message first."""
    return tree.current_branch(
        list_messages(session=session, chat_id=chat.id), chat.current_leaf_id
    )


def chat_message(*, session: Session, chat: Chat, public_id: str) -> Message | None:
    """The message with this public id if it is one of `chat`'s; None otherwise."""
    return session.exec(
        select(Message).where(Message.public_id == public_id, Message.chat_id == chat.id)
    ).first()


def start_exchange(
    *,
    session: Session,
    chat: Chat,
    user_text: str,
    model: str,
    after: Message | None = None,
    max_streams: int | None = None,
) -> tuple[Message, Message]:
    """Save the user's message, following `after` (None: the chat's current leaf), and an
    empty streaming reply to it, atomically: if a reply already streams in the chat, the
    one-streaming-reply index refuses both (`ReplyInProgress`), and so does the user's limit
    of replies streaming at once (`limits.TooManyStreams`)."""
    if after is None:
        shown = branch(session=session, chat=chat)
        parent_id = shown[-1].id if shown else None
    else:
        parent_id = after.id
    return _ask(
        session=session,
        chat=chat,
        parent_id=parent_id,
        text=user_text,
        model=model,
        max_streams=max_streams,
    )


def _ask(
    *,
    session: Session,
    chat: Chat,
    parent_id: int | None,
    text: str,
    model: str,
    max_streams: int | None,
) -> tuple[Message, Message]:
    user_message = Message(
        chat_id=chat.id, parent_id=parent_id, role="user", content=without_nul(text)
    )
    session.add(user_message)
    session.flush()
    reply = _open_reply(
        session=session, chat=chat, model=model, parent_id=user_message.id, max_streams=max_streams
    )
    return user_message, reply


def new_version(
    *,
    session: Session,
    chat: Chat,
    of: Message,
    model: str,
    text: str | None = None,
    max_streams: int | None = None,
) -> tuple[Message | None, Message]:
    """A new version beside `of`, nothing deleted, as the chat's current branch: a reply
    (`of` a reply: Retry, Regenerate), or a user message with `text` and a reply to it (`of`
    a user message: Edit). Returns (the new user message or None, the new streaming reply);
    refused as `start_exchange` is, with nothing changed."""
    if of.role == "user":
        if text is None:
            raise ValueError("a new version of a user message needs its text")
        return _ask(
            session=session,
            chat=chat,
            parent_id=of.parent_id,
            text=text,
            model=model,
            max_streams=max_streams,
        )
    reply = _open_reply(
        session=session, chat=chat, model=model, parent_id=of.parent_id, max_streams=max_streams
    )
    return None, reply


def switch_branch(*, session: Session, chat: Chat, to: Message) -> sa.Row:
    """Show the branch through `to` (one of the chat's messages): its newest message under
    it becomes the chat's current leaf. Returns that leaf."""
    messages = list_messages(session=session, chat_id=chat.id)
    leaf_id = tree.newest_leaf(messages, to.id)
    chat.current_leaf_id = leaf_id
    session.add(chat)
    session.commit()
    return next(m for m in messages if m.id == leaf_id)


def reply_context(*, session: Session, message_id: int) -> tuple[sa.Row, list[sa.Row]] | None:
    """What the model is asked for the reply `message_id`: its chat's `model` and
    `system_prompt`, and the branch above it (`history_before`); None if it is gone."""
    reply = session.connection().execute(_REPLY_CONTEXT, {"message_id": message_id}).first()
    if reply is None:
        return None
    return reply, history_before(session=session, message=reply)


_REPLY_CONTEXT = (
    sa.select(_MESSAGES.c.chat_id, _MESSAGES.c.parent_id, _CHATS.c.model, _CHATS.c.system_prompt)
    .join(_CHATS, _CHATS.c.id == _MESSAGES.c.chat_id)
    .where(_MESSAGES.c.id == sa.bindparam("message_id"))
)


def history_before(*, session: Session, message: Message | sa.Row) -> list[sa.Row]:
    """The branch above `message` (anything with its `chat_id` and `parent_id`), first
    message first: exactly what the model is asked to continue (no other version of
    anything)."""
    return tree.path(list_messages(session=session, chat_id=message.chat_id), message.parent_id)


def checkpoint(*, session: Session, message_id: int, content: str) -> bool:
    """Save the text so far of a streaming reply; False if it no longer streams."""
    return message_id not in checkpoint_many(session=session, texts={message_id: content})


def checkpoint_many(
    *, session: Session, texts: dict[int, str], reasonings: Mapping[int, str] | None = None
) -> set[int]:
    """Save the text (and reasoning, for those in `reasonings`) so far of several streaming
    replies in one transaction (one commit for every reply of the process); the ids of those
    that no longer stream (ended or deleted)."""
    if not texts:
        return set()
    table, now, reasonings = Message.__table__, utcnow(), reasonings or {}
    session.connection().execute(
        sa.update(table)
        .where(table.c.id == sa.bindparam("message_id"), table.c.streaming.is_(True))
        .values(
            content=sa.bindparam("text"),
            reasoning=sa.func.coalesce(sa.bindparam("thought", type_=sa.Text), table.c.reasoning),
            updated_at=now,
        ),
        [
            {"message_id": mid, "text": without_nul(text), "thought": reasonings.get(mid)}
            for mid, text in texts.items()
        ],
    )
    session.commit()
    streaming = session.exec(
        select(Message.id).where(col(Message.id).in_(list(texts)), col(Message.streaming))
    )
    return set(texts) - set(streaming)


def finish(
    *,
    session: Session,
    message_id: int,
    content: str,
    status: Status,
    reasoning: str = "",
    error: str | None = None,
    prompt_tokens: int | None = None,
    completion_tokens: int | None = None,
    first_token_ms: int | None = None,
    duration_ms: int | None = None,
    chunk_count: int | None = None,
    reasoning_ms: int | None = None,
    reasoning_tokens: int | None = None,
) -> bool:
    """End a streaming reply: `streaming=false`, its final text and status, and the facts
    measured by its job. False if already ended."""
    result = session.connection().execute(
        _FINISH,
        dict(
            message_id=message_id,
            content=without_nul(content),
            reasoning=without_nul(reasoning),
            streaming=False,
            status=status.value,
            error=without_nul(error),
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            first_token_ms=first_token_ms,
            duration_ms=duration_ms,
            chunk_count=chunk_count,
            reasoning_ms=reasoning_ms,
            reasoning_tokens=reasoning_tokens,
            updated_at=utcnow(),
        ),
    )
    session.commit()
    return result.rowcount == 1


_FINISH = sa.update(_MESSAGES).where(
    _MESSAGES.c.id == sa.bindparam("message_id"), _MESSAGES.c.streaming.is_(True)
)
"""The columns set are the parameters' other keys (built once: see `_CHAT_MESSAGES`)."""


def streaming_ids(*, session: Session) -> list[str]:
    """Public ids of every message still marked streaming."""
    return list(session.exec(select(Message.public_id).where(col(Message.streaming).is_(True))))


def interrupt_orphans(
    *,
    session: Session,
    idle_for: timedelta,
    alive: Iterable[str] = (),
    last_texts: Mapping[str, str] | None = None,
) -> list[str]:
    """Mark streaming replies whose job is gone (nothing saved for `idle_for`) as interrupted.

    `alive`: public ids of replies whose jobs are known to run, which are never orphans.
    `last_texts`: text known beyond the last checkpoint, kept when it extends the saved one.
    Returns the public ids of the replies it ended.
    """
    result = session.exec(
        sa.update(Message)
        .where(
            col(Message.streaming).is_(True),
            col(Message.updated_at) <= utcnow() - idle_for,
            col(Message.public_id).not_in(list(alive)),
        )
        .values(
            streaming=False,
            status=Status.INTERRUPTED.value,
            error="The server stopped while this reply was being written.",
            updated_at=utcnow(),
        )
        .returning(Message.public_id)
        .execution_options(synchronize_session=False)
    )
    ended = list(result.scalars())
    for public_id in set(ended) & set(last_texts or {}):
        last = without_nul(last_texts[public_id])
        session.exec(
            sa.update(Message)
            .where(Message.public_id == public_id, sa.func.length(Message.content) < len(last))
            .values(content=last)
            .execution_options(synchronize_session=False)
        )
    session.commit()
    return ended


def import_chat(
    *,
    session: Session,
    owner_id: int,
    title: str,
    messages: Iterable[Mapping[str, object]],
    model: str | None = None,
    system_prompt: str | None = None,
    current: int | None = None,
) -> Chat:
    """A new chat with these messages (role, content, status, model, created_at, and
    `parent`: the index of an earlier message in `messages`, or None for a first message;
    without `parent`, each message follows the one before it), in one transaction: a failure
    creates nothing. None of them streams. `current`: the index of the message whose branch
    the chat shows (its newest message under it); None: the newest message."""
    chat = Chat(
        owner_id=owner_id,
        title=_one_line(title) or "Imported chat",
        model=without_nul(model),
        system_prompt=without_nul(system_prompt),
    )
    session.add(chat)
    session.flush()
    rows: list[Message] = []
    for index, fields in enumerate(messages):
        cleaned = {k: without_nul(v) if isinstance(v, str) else v for k, v in fields.items()}
        parent = cleaned.pop("parent", index - 1 if index else None)
        if parent is not None and not 0 <= parent < index:
            raise ValueError(f"message {index} follows no earlier message")
        row = Message(
            chat_id=chat.id,
            parent_id=rows[parent].id if parent is not None else None,
            **{**cleaned, "streaming": False},
        )
        session.add(row)
        session.flush()
        rows.append(row)
    shown = rows[current].id if current is not None else None
    chat.current_leaf_id = tree.newest_leaf(rows, shown)
    session.add(chat)
    session.commit()
    session.refresh(chat)
    return chat
