"""marketplace events at scale: fewer index entries per event

- `product_stats` is keyed by (product_ref, period_start, period_end), which it already had
  as a unique constraint; the surrogate `id` (a sequence and an index entry per row, read by
  nothing) goes. The table is rebuilt, copying its rows.
- `marketplace_event.unknown_product` had an index over every event for a flag that is true
  for a handful: a partial index over those only (what `pelapak unggulan unknown` reads).

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-29 06:05:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import bot.storage.models

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FIGURES = (
    "product_ref, product_id, period_start, period_end, views, orders, units_sold, revenue,"
    " ratings_count, ratings_sum, returns, occurred_at, event_id"
)


def _stats_table(name: str, keyed: bool) -> None:
    """product_stats as `name`: keyed by product and period, or (before) by a surrogate id."""
    key: list[sa.SchemaItem] = (
        [sa.PrimaryKeyConstraint("product_ref", "period_start", "period_end")]
        if keyed
        else [
            sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
            sa.PrimaryKeyConstraint("id"),
            sa.UniqueConstraint("product_ref", "period_start", "period_end"),
        ]
    )
    op.create_table(
        name,
        sa.Column("product_ref", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=True),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("views", sa.Integer(), nullable=False),
        sa.Column("orders", sa.Integer(), nullable=False),
        sa.Column("units_sold", sa.Integer(), nullable=False),
        sa.Column("revenue", sa.BigInteger(), nullable=False),
        sa.Column("ratings_count", sa.Integer(), nullable=False),
        sa.Column("ratings_sum", sa.Integer(), nullable=False),
        sa.Column("returns", sa.Integer(), nullable=False),
        sa.Column("occurred_at", bot.storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("event_id", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        *key,
    )


def _rebuild_stats(keyed: bool) -> None:
    _stats_table("product_stats_new", keyed)
    op.execute(f"INSERT INTO product_stats_new ({FIGURES}) SELECT {FIGURES} FROM product_stats")
    op.drop_index("ix_product_stats_product_period", table_name="product_stats")
    op.drop_table("product_stats")
    op.rename_table("product_stats_new", "product_stats")
    if op.get_bind().dialect.name == "postgresql":
        # the names PostgreSQL gives them when the table is made under its own name
        renames = [("product_stats_new_pkey", "product_stats_pkey")]
        if not keyed:
            key = "product_ref_period_start_period_end_key"
            renames.append((f"product_stats_new_{key}", f"product_stats_{key}"))
        for old, new in renames:
            op.execute(f"ALTER TABLE product_stats RENAME CONSTRAINT {old} TO {new}")
    op.create_index(
        "ix_product_stats_product_period", "product_stats", ["product_id", "period_start"]
    )


def upgrade() -> None:
    _rebuild_stats(keyed=True)
    op.drop_index("ix_marketplace_event_unknown_product", table_name="marketplace_event")
    op.create_index(
        "ix_marketplace_event_unknown",
        "marketplace_event",
        ["product_ref", "type"],
        postgresql_where=sa.text("unknown_product"),
        sqlite_where=sa.text("unknown_product"),
    )


def downgrade() -> None:
    op.drop_index("ix_marketplace_event_unknown", table_name="marketplace_event")
    op.create_index(
        "ix_marketplace_event_unknown_product", "marketplace_event", ["unknown_product"]
    )
    _rebuild_stats(keyed=False)
