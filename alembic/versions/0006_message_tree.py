"""Messages form a tree: each has a parent, each chat the last message of the branch it shows.

Every existing chat becomes one branch, losing nothing: each message's parent is the
message before it in its chat (by id, the order the app showed them), and the chat's current
leaf is its last message. Plain `ADD COLUMN`s (no table rebuild on SQLite, which would drop
the search triggers); on SQLite the foreign key is declared in the column itself.

Revision ID: 0006_message_tree
Revises: 0005_chat_settings
Create Date: 2026-12-02 10:00:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

revision: str = "0006_message_tree"
down_revision: Union[str, Sequence[str], None] = "0005_chat_settings"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":  # Alembic would want a table rebuild for the key
        op.execute("ALTER TABLE message ADD COLUMN parent_id INTEGER REFERENCES message (id)")
    else:
        op.add_column(
            "message",
            sa.Column("parent_id", sa.Integer(), sa.ForeignKey("message.id"), nullable=True),
        )
    op.create_index("ix_message_parent_id", "message", ["parent_id"])
    op.add_column("chat", sa.Column("current_leaf_id", sa.Integer(), nullable=True))
    op.execute(
        "UPDATE message SET parent_id = (SELECT max(earlier.id) FROM message AS earlier"
        " WHERE earlier.chat_id = message.chat_id AND earlier.id < message.id)"
    )
    op.execute(
        "UPDATE chat SET current_leaf_id = (SELECT max(message.id) FROM message"
        " WHERE message.chat_id = chat.id)"
    )


def downgrade() -> None:
    # The messages stay; an older app shows every version of a chat, in the order written.
    op.drop_column("chat", "current_leaf_id")
    op.drop_index("ix_message_parent_id", "message")
    op.drop_column("message", "parent_id")
