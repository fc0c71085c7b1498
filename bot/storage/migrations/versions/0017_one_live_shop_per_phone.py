"""one live shop per phone number

A number belongs to one live shop (active, or awaiting its owner's consent). The flows check
it when the number is given and again when the shop is saved; on PostgreSQL two processes
saving the same number at one moment could still both pass the check. This unique index
over the live shops' numbers makes the second save fail, and the runner's retry of that
message meets the flows' check ("nomor ini sudah dipakai").

Shops stored before that already share a number are not changed: the migration stops and
names them, for an admin to resolve (erase or change one of them) before upgrading.

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-30 08:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LIVE = "status IN ('active', 'awaiting_consent')"  # copied: what it meant when written


def upgrade() -> None:
    shared = (
        op.get_bind()
        .execute(
            sa.text(
                f"SELECT phone, count(*) FROM seller WHERE phone IS NOT NULL AND {LIVE}"
                " GROUP BY phone HAVING count(*) > 1 ORDER BY phone"
            )
        )
        .all()
    )
    if shared:
        ids = (
            op.get_bind()
            .execute(
                sa.text(
                    f"SELECT id FROM seller WHERE {LIVE} AND phone IN :phones ORDER BY id"
                ).bindparams(sa.bindparam("phones", expanding=True)),
                {"phones": [phone for phone, _ in shared]},
            )
            .scalars()
        )
        raise RuntimeError(
            f"{len(shared)} phone number(s) belong to more than one live shop (seller ids "
            f"{', '.join(map(str, ids))}): erase or change one of each before upgrading"
        )
    op.create_index(
        "ux_seller_live_phone",
        "seller",
        ["phone"],
        unique=True,
        postgresql_where=sa.text(LIVE),
        sqlite_where=sa.text(LIVE),
    )


def downgrade() -> None:
    op.drop_index("ux_seller_live_phone", table_name="seller")
