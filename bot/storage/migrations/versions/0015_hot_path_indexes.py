"""stored history at scale: frequent reads go through indexes of what waits

The reads that run on every message or every few seconds go through indexes that hold what
is waiting, not everything ever stored.

Processed updates stay (scrubbed) so that a late redelivery is dropped, so the table only
grows. With a million of them (bench/inbox_reads.py), reading what was stored between two
update numbers took 102 ms on SQLite and 40 ms on PostgreSQL (it runs while an update waits
for earlier ones), and the watch's look for chats with waiting updates 108 ms on SQLite;
0.2-0.7 ms with these indexes.

- `ix_inbound_update_waiting`: (channel, chat_key, seq) over the updates not processed yet
  (partial): a chat's waiting updates in order, and the chats that have any.
- `ix_inbound_update_channel_seq`: (channel, seq): what was stored between two numbers.

Found the same way (a table filled with old rows, the plan and the time per call):
- `ix_outgoing_message_unsent`: (channel, chat_key) over unsent replies: the watch's look for
  chats with replies waiting, every 5 s in every process, read the day of sent replies kept
  on SQLite (8-11 ms at 100k; 0.3 ms with it).
- `ix_outbox_event_pending_seller`: (seller_id, id) over pending events: the sync claim's
  "an earlier event of this seller is pending" walked the seller's whole history on SQLite,
  inside the write lock (59 ms for a seller with 20k past events; 2 ms with it).
- `ix_notice_unsent`: (account_id) over notices not yet told, read on every message.

And on SQLite, `ix_marketplace_event_unknown` (0014) again with the condition the models
declare, `unknown_product = 1`: SQLite does not match 0014's `WHERE unknown_product` to the
query's `unknown_product = 1`, so `pelapak unggulan unknown` read every event.

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-29 15:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WAITING = sa.text("processed_at IS NULL")
UNSENT = sa.text("sent_at IS NULL")
PENDING = sa.text("state = 'pending'")


def upgrade() -> None:
    op.create_index(
        "ix_inbound_update_waiting",
        "inbound_update",
        ["channel", "chat_key", "seq"],
        postgresql_where=WAITING,
        sqlite_where=WAITING,
    )
    op.create_index("ix_inbound_update_channel_seq", "inbound_update", ["channel", "seq"])
    op.create_index(
        "ix_outgoing_message_unsent",
        "outgoing_message",
        ["channel", "chat_key"],
        postgresql_where=UNSENT,
        sqlite_where=UNSENT,
    )
    op.create_index(
        "ix_outbox_event_pending_seller",
        "outbox_event",
        ["seller_id", "id"],
        postgresql_where=PENDING,
        sqlite_where=PENDING,
    )
    op.create_index(
        "ix_notice_unsent", "notice", ["account_id"], postgresql_where=UNSENT, sqlite_where=UNSENT
    )
    if op.get_context().dialect.name == "sqlite":
        _unknown_events_index("unknown_product = 1")


def _unknown_events_index(condition: str) -> None:
    op.drop_index("ix_marketplace_event_unknown", table_name="marketplace_event")
    op.create_index(
        "ix_marketplace_event_unknown",
        "marketplace_event",
        ["product_ref", "type"],
        sqlite_where=sa.text(condition),
    )


def downgrade() -> None:
    if op.get_context().dialect.name == "sqlite":
        _unknown_events_index("unknown_product")
    op.drop_index("ix_notice_unsent", table_name="notice")
    op.drop_index("ix_outbox_event_pending_seller", table_name="outbox_event")
    op.drop_index("ix_outgoing_message_unsent", table_name="outgoing_message")
    op.drop_index("ix_inbound_update_channel_seq", table_name="inbound_update")
    op.drop_index("ix_inbound_update_waiting", table_name="inbound_update")
