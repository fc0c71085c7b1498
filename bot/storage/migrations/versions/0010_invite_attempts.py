"""invite attempts

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29 03:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.storage.models

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "invite_attempt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("at", bot.storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["channel_account.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("invite_attempt", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_invite_attempt_account_id"), ["account_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("invite_attempt", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_invite_attempt_account_id"))
    op.drop_table("invite_attempt")
