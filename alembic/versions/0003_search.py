"""Full-text search over chat titles and message text, kept in sync by the database itself.

SQLite: two FTS5 tables with external content (`message_fts` over message.content,
`chat_fts` over chat.title, rowid = the row's id), filled from the existing rows and kept
in sync by triggers on insert, update and delete, so every write path (send, checkpoints,
finish, edit, regenerate, delete, import) is indexed without the app doing anything.
PostgreSQL: GIN indexes on `to_tsvector('simple', …)` expressions, which PostgreSQL keeps
in sync by itself. Both use no stemming ('simple', unicode61), so the two databases find
the same chats for the same words.

Revision ID: 0003_search
Revises: 0002_message_streaming
Create Date: 2026-11-25 03:10:00

"""
from typing import Sequence, Union

from alembic import op

revision: str = "0003_search"
down_revision: Union[str, Sequence[str], None] = "0002_message_streaming"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

# (fts table, content table, column)
_SQLITE_INDEXES = (("message_fts", "message", "content"), ("chat_fts", "chat", "title"))


def _sqlite_upgrade() -> None:
    for fts, table, column in _SQLITE_INDEXES:
        op.execute(
            f"CREATE VIRTUAL TABLE {fts} USING fts5({column}, content='{table}',"
            f" content_rowid='id', tokenize='unicode61 remove_diacritics 2')"
        )
        op.execute(f"INSERT INTO {fts}({fts}) VALUES ('rebuild')")
        op.execute(
            f"CREATE TRIGGER {fts}_ai AFTER INSERT ON {table} BEGIN"
            f" INSERT INTO {fts}(rowid, {column}) VALUES (new.id, new.{column}); END"
        )
        op.execute(
            f"CREATE TRIGGER {fts}_ad AFTER DELETE ON {table} BEGIN"
            f" INSERT INTO {fts}({fts}, rowid, {column}) VALUES ('delete', old.id, old.{column});"
            " END"
        )
        op.execute(
            f"CREATE TRIGGER {fts}_au AFTER UPDATE OF {column} ON {table} BEGIN"
            f" INSERT INTO {fts}({fts}, rowid, {column}) VALUES ('delete', old.id, old.{column});"
            f" INSERT INTO {fts}(rowid, {column}) VALUES (new.id, new.{column}); END"
        )


def _sqlite_downgrade() -> None:
    for fts, _table, _column in _SQLITE_INDEXES:
        for suffix in ("ai", "ad", "au"):
            op.execute(f"DROP TRIGGER IF EXISTS {fts}_{suffix}")
        op.execute(f"DROP TABLE IF EXISTS {fts}")


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_upgrade()
        return
    op.execute(
        "CREATE INDEX ix_message_search ON message"
        " USING gin (to_tsvector('simple'::regconfig, content))"
    )
    op.execute(
        "CREATE INDEX ix_chat_search ON chat USING gin (to_tsvector('simple'::regconfig, title))"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_downgrade()
        return
    op.execute("DROP INDEX IF EXISTS ix_message_search")
    op.execute("DROP INDEX IF EXISTS ix_chat_search")
