"""Add `streaming` to messages, as the original design does.

A message is `streaming=true` from its creation until its reply ends (complete, error,
stop or interruption). At most one message per chat streams, enforced by a partial unique
index (SQLite and PostgreSQL both have them).

Revision ID: 0002_message_streaming
Revises: 0001_initial
Create Date: 2026-11-24 19:40:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

revision: str = "0002_message_streaming"
down_revision: Union[str, Sequence[str], None] = "0001_initial"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("streaming", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.create_index(
            "ix_message_one_streaming_per_chat",
            ["chat_id"],
            unique=True,
            sqlite_where=sa.text("streaming"),
            postgresql_where=sa.text("streaming"),
        )


def downgrade() -> None:
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.drop_index("ix_message_one_streaming_per_chat")
        batch_op.drop_column("streaming")
