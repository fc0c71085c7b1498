"""Raw platform updates are personal (names, numbers, texts, places): kept only while needed.

The replies we sent (stored in `outgoing_message` until sent) are deleted once sent and
INBOUND_RETENTION_HOURS old, and at once on erasure.

Once processed, an update's payload is needed only for a while (to look into a problem);
after INBOUND_RETENTION_HOURS it is scrubbed to `{}` (and no longer names the chat: on
WhatsApp its key is the phone number). The row itself stays, so a platform's
late redelivery still hits the unique key and is dropped. An owner's erasure scrubs their
processed updates (and the one being handled) at once.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, col, or_, select, update

from bot.storage.models import InboundUpdate, OutgoingMessage

SCRUBBED = "-"  # the chat key of a processed update whose payload is gone


def scrub_processed(session: Session, before: datetime) -> int:
    """Empty the payloads of updates processed before `before`; returns how many."""
    result = session.exec(  # type: ignore[call-overload]
        update(InboundUpdate)
        .where(
            col(InboundUpdate.processed_at).is_not(None),
            col(InboundUpdate.processed_at) < before,
            sa.cast(InboundUpdate.payload, sa.String) != "{}",
        )
        .values(payload={}, chat_key=SCRUBBED, group_key=None)
    )
    replies = session.exec(  # type: ignore[call-overload]
        sa.delete(OutgoingMessage).where(
            col(OutgoingMessage.sent_at).is_not(None), col(OutgoingMessage.sent_at) < before
        )
    )
    del replies  # counted apart from the updates: what was said to them goes with them
    return int(result.rowcount or 0)


def scrub_chat(
    session: Session,
    channel: str,
    chat_key: str,
    current: str | None,
    now: datetime,
) -> None:
    """An owner's erasure: their processed updates (and the one being handled, `current`)
    keep no payload and no longer name the chat. Updates still waiting are left to be
    handled (as a new person) and scrubbed later with the rest.
    """
    done: sa.ColumnElement[bool] = col(InboundUpdate.processed_at).is_not(None)
    if current:
        done = or_(done, InboundUpdate.update_id == current, InboundUpdate.group_key == current)
    for row in session.exec(
        select(InboundUpdate).where(
            InboundUpdate.channel == channel, InboundUpdate.chat_key == chat_key, done
        )
    ):
        row.payload, row.chat_key = {}, SCRUBBED
        row.group_key = None
        row.processed_at = row.processed_at or now  # handled in this very transaction
        session.add(row)
    # What we said to them quotes what they told us; the reply to this erasure is added
    # after this, and goes once it is sent and the retention period has passed.
    session.exec(  # type: ignore[call-overload]
        sa.delete(OutgoingMessage).where(
            col(OutgoingMessage.channel) == channel, col(OutgoingMessage.chat_key) == chat_key
        )
    )
