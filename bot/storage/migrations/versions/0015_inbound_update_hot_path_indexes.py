"""inbound updates at scale: the hot path's reads no longer scan every update ever stored

Processed updates stay (scrubbed) so that a late redelivery is dropped, so the table only
grows. With a million of them (bench/inbox_reads.py), reading what was stored between two
update numbers took 102 ms on SQLite and 40 ms on PostgreSQL (it runs while an update waits
for earlier ones), and the watch's look for chats with waiting updates 108 ms on SQLite;
0.2-0.7 ms with these indexes.

- `ix_inbound_update_waiting`: (channel, chat_key, seq) over the updates not processed yet
  (partial): a chat's waiting updates in order, and the chats that have any.
- `ix_inbound_update_channel_seq`: (channel, seq): what was stored between two numbers.

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


def upgrade() -> None:
    op.create_index(
        "ix_inbound_update_waiting",
        "inbound_update",
        ["channel", "chat_key", "seq"],
        postgresql_where=WAITING,
        sqlite_where=WAITING,
    )
    op.create_index("ix_inbound_update_channel_seq", "inbound_update", ["channel", "seq"])


def downgrade() -> None:
    op.drop_index("ix_inbound_update_channel_seq", table_name="inbound_update")
    op.drop_index("ix_inbound_update_waiting", table_name="inbound_update")
