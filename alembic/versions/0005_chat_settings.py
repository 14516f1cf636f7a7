"""Chat settings: the model and the system prompt a chat's next reply uses (NULL: the app's).

Plain `ADD COLUMN`s (no table rebuild on SQLite, which would drop the search triggers).

Revision ID: 0005_chat_settings
Revises: 0004_reply_facts
Create Date: 2026-11-25 07:00:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel

revision: str = "0005_chat_settings"
down_revision: Union[str, Sequence[str], None] = "0004_reply_facts"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.add_column(
        "chat", sa.Column("model", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True)
    )
    op.add_column("chat", sa.Column("system_prompt", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("chat", "system_prompt")  # SQLite 3.35+ drops a column in place
    op.drop_column("chat", "model")
