"""Message reasoning: the model's thinking beside the answer, how long it thought, and the
reasoning tokens the endpoint reported.

Plain `ADD COLUMN`s (no table rebuild on SQLite, which would drop the search triggers); the
search index covers `content` alone, so reasoning is never searched.

Revision ID: 0007_message_reasoning
Revises: 0006_message_tree
Create Date: 2026-11-27 09:00:00

"""

from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

revision: str = "0007_message_reasoning"
down_revision: Union[str, Sequence[str], None] = "0006_message_tree"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.add_column("message", sa.Column("reasoning", sa.Text(), nullable=False, server_default=""))
    op.add_column("message", sa.Column("reasoning_ms", sa.Integer(), nullable=True))
    op.add_column("message", sa.Column("reasoning_tokens", sa.Integer(), nullable=True))


def downgrade() -> None:
    op.drop_column("message", "reasoning_tokens")  # SQLite 3.35+ drops a column in place
    op.drop_column("message", "reasoning_ms")
    op.drop_column("message", "reasoning")
