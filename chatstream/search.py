"""Search the signed-in user's chats by title and message text, in the database's own
full-text index (migration 0003_search): FTS5 on SQLite, tsvector GIN indexes on PostgreSQL.

What the user types is never SQL nor FTS syntax: it is cut into words (letters and digits),
every word must match, the last one as a prefix (it may still be being typed), and the
words go to the database as bound parameters.
"""

from __future__ import annotations

import dataclasses
import re

import sqlalchemy as sa
from alembic.autogenerate import comparators
from alembic.operations import ops as alembic_ops
from alembic.util.langhelpers import DispatchPriority
from sqlmodel import Session

START, STOP = "\x02", "\x03"
"""Markers around a matched word in a snippet; `segments` turns them into (text, hit) pairs."""

INDEX_NAMES = frozenset({"message_fts", "chat_fts", "ix_message_search", "ix_chat_search"})


def is_index_object(name: str | None) -> bool:
    """Whether a table or index is the search index of 0003_search (FTS5 tables and their
    shadow tables, GIN indexes): unknown to the models, left out of autogenerate."""
    return bool(name) and (name in INDEX_NAMES or name.startswith(("message_fts_", "chat_fts_")))


def _leave_the_index_alone(autogen_context, upgrade_ops) -> None:
    """Autogenerate (Reflex's schema check at start-up, `reflex db makemigrations`) does not
    read alembic/env.py's filter: drop the index's tables and indexes from what it proposes."""
    kept = []
    for op in upgrade_ops.ops:
        if isinstance(op, alembic_ops.ModifyTableOps):
            op.ops = [o for o in op.ops if not is_index_object(getattr(o, "index_name", None))]
            if not op.ops:
                continue
        elif is_index_object(getattr(op, "table_name", None)):
            continue
        kept.append(op)
    upgrade_ops.ops[:] = kept


comparators.dispatch_for("autogenerate", priority=DispatchPriority.LAST)(_leave_the_index_alone)

MAX_TERMS = 8
MAX_RESULTS = 30
STATEMENT_TIMEOUT_MS = 3_000
"""PostgreSQL: a search taking longer is cancelled (its transaction only) and finds nothing."""
SNIPPET_WORDS = 14
_WORD = re.compile(r"[^\W_]+")


@dataclasses.dataclass
class SearchHit:
    chat_id: str
    title: str
    """With START/STOP around the matched words when the title matched."""
    message_id: str
    """The public id of the best matching message; "" when only the title matched."""
    snippet: str
    """The message's text around the match, START/STOP around the matched words; or ""."""


def terms(query: str) -> list[str]:
    """The words of a query, lower-cased, at most MAX_TERMS of them."""
    return [w.lower() for w in _WORD.findall(query)][:MAX_TERMS]


def segments(snippet: str) -> list[tuple[str, bool]]:
    """A marked snippet as (text, is a match) pairs, for rendering without any HTML."""
    parts = re.split(f"({START}.*?{STOP})", snippet)
    return [
        (p.strip(START + STOP), p.startswith(START)) for p in parts if p.strip(START + STOP) != ""
    ]


def search_chats(*, session: Session, owner_id: int, query: str) -> list[SearchHit]:
    """The owner's chats whose title or a message matches every word, newest chat first."""
    words = terms(query)
    if not words:
        return []
    if session.get_bind().dialect.name == "sqlite":
        title_rows, message_rows = _sqlite(session, owner_id, words)
    else:
        title_rows, message_rows = _postgres(session, owner_id, words)
    hits: dict[str, tuple[object, SearchHit]] = {}
    for chat_id, title, updated_at, message_id, snippet in message_rows:
        if chat_id not in hits:  # rows come best match first
            hits[chat_id] = (updated_at, SearchHit(chat_id, title, message_id, snippet))
    for chat_id, _title, updated_at, marked in title_rows:
        if chat_id in hits:
            hits[chat_id][1].title = marked
        else:
            hits[chat_id] = (updated_at, SearchHit(chat_id, marked, "", ""))
    ordered = sorted(hits.values(), key=lambda pair: pair[0], reverse=True)
    return [hit for _, hit in ordered[:MAX_RESULTS]]


def _sqlite(session: Session, owner_id: int, words: list[str]):
    # Each word a quoted FTS5 string (no operator can get in), the last one a prefix.
    match = " ".join(f'"{w}"' for w in words) + "*"
    params = {"match": match, "owner": owner_id, "start": START, "stop": STOP}
    titles = session.execute(
        sa.text(
            "SELECT c.public_id, c.title, c.updated_at,"
            " highlight(chat_fts, 0, :start, :stop)"
            " FROM chat_fts JOIN chat c ON c.id = chat_fts.rowid"
            " WHERE chat_fts MATCH :match AND c.owner_id = :owner"
            " ORDER BY c.updated_at DESC LIMIT :limit"
        ),
        {**params, "limit": MAX_RESULTS},
    ).all()
    messages = session.execute(
        sa.text(
            "SELECT c.public_id, c.title, c.updated_at, m.public_id,"
            " snippet(message_fts, 0, :start, :stop, '…', :words)"
            " FROM message_fts JOIN message m ON m.id = message_fts.rowid"
            " JOIN chat c ON c.id = m.chat_id"
            " WHERE message_fts MATCH :match AND c.owner_id = :owner"
            " ORDER BY message_fts.rank LIMIT :limit"
        ),
        {**params, "words": SNIPPET_WORDS, "limit": MAX_RESULTS * 10},
    ).all()
    return titles, messages


_TSQUERY = (
    "(SELECT plainto_tsquery('simple', :whole) && to_tsquery('simple', :prefix) AS q) AS query"
)


def _postgres(session: Session, owner_id: int, words: list[str]):
    session.exec(sa.text(f"SET LOCAL statement_timeout = {STATEMENT_TIMEOUT_MS}"))
    # Whole words through plainto_tsquery; the last word as a prefix query. The word is
    # letters and digits only, quoted as a tsquery lexeme, so it cannot carry operators.
    params = {
        "whole": " ".join(words[:-1]),
        "prefix": f"'{words[-1]}':*",
        "owner": owner_id,
        "options": (
            f"StartSel={START}, StopSel={STOP}, MaxWords={SNIPPET_WORDS}, MinWords=5,"
            " MaxFragments=1, FragmentDelimiter=…"
        ),
    }
    titles = session.execute(
        sa.text(
            "SELECT c.public_id, c.title, c.updated_at,"
            " ts_headline('simple', c.title, q, 'StartSel=' || :start || ', StopSel=' || :stop"
            " || ', HighlightAll=true')"
            f" FROM chat c, {_TSQUERY}"
            " WHERE c.owner_id = :owner AND to_tsvector('simple'::regconfig, c.title) @@ q"
            " ORDER BY c.updated_at DESC LIMIT :limit"
        ),
        {**params, "start": START, "stop": STOP, "limit": MAX_RESULTS},
    ).all()
    # The best message of each chat first, then one ts_headline per chat (it re-parses the text).
    messages = session.execute(
        sa.text(
            "SELECT best.chat_id, best.title, best.updated_at, best.message_id,"
            " ts_headline('simple', best.content, q, :options)"
            " FROM (SELECT DISTINCT ON (c.id) c.public_id AS chat_id, c.title, c.updated_at,"
            " m.public_id AS message_id, m.content"
            f" FROM message m JOIN chat c ON c.id = m.chat_id, {_TSQUERY}"
            " WHERE c.owner_id = :owner AND to_tsvector('simple'::regconfig, m.content) @@ q"
            " ORDER BY c.id, ts_rank(to_tsvector('simple'::regconfig, m.content), q) DESC, m.id"
            f") AS best, {_TSQUERY}"
            " ORDER BY best.updated_at DESC LIMIT :limit"
        ),
        {**params, "limit": MAX_RESULTS},
    ).all()
    return titles, messages
