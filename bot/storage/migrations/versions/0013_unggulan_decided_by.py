"""produk unggulan: who decided (the dashboard's admin, or the command line)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01 03:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("produk_unggulan", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("decided_by", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("produk_unggulan", schema=None) as batch_op:
        batch_op.drop_column("decided_by")
