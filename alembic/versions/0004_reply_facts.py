"""Reply facts: when a reply's first token came and how long it took, measured by the job.

Plain `ADD COLUMN`s (no table rebuild on SQLite, which would drop the search triggers).

Revision ID: 0004_reply_facts
Revises: 0003_search
Create Date: 2026-11-25 04:00:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

revision: str = "0004_reply_facts"
down_revision: Union[str, Sequence[str], None] = "0003_search"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

COLUMNS = ("first_token_ms", "duration_ms", "chunk_count")


def upgrade() -> None:
    for name in COLUMNS:
        op.add_column("message", sa.Column(name, sa.Integer(), nullable=True))


def downgrade() -> None:
    for name in COLUMNS:  # SQLite 3.35+ drops a column in place
        op.drop_column("message", name)
