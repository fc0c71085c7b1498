"""Nudges for owners who stopped mid-way: after 24 hours, again after 72, never at night.

They go out as notices, so each channel's rules apply (WhatsApp's 24-hour window and
templates, opt-out everywhere). The conversation is left exactly where it stopped and set
to ask "continue?", so the owner's "ya" picks up at the same question.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import col, select

from bot import notices
from bot.storage.database import Database
from bot.storage.models import ChannelAccount, Conversation
from flows.facilitator import first_name
from flows.messages import Text, t
from flows.state import Resume, pending_to_json

NUDGE_AFTER = (timedelta(hours=24), timedelta(hours=72))
QUIET_START, QUIET_END = time(21, 0), time(7, 0)
NUDGES = {
    "registration": t("nudge.registration"),
    "product": t("nudge.product"),
}


def quiet_hours(now: datetime, timezone: str = "Asia/Jakarta") -> bool:
    """21:00-07:00 in the owner's time zone (WIB): no nudges."""
    local = now.astimezone(ZoneInfo(timezone)).time()
    return local >= QUIET_START or local < QUIET_END


def send_nudges(db: Database, now: datetime, timezone: str = "Asia/Jakarta") -> int:
    """Queue the nudges that are due at `now`; returns how many."""
    if quiet_hours(now, timezone):
        return 0
    queued = 0
    with db.session() as session:
        rows = session.exec(
            select(Conversation, ChannelAccount)
            .join(ChannelAccount, col(ChannelAccount.id) == col(Conversation.account_id))
            .where(
                col(Conversation.flow).in_(list(NUDGES)),
                col(Conversation.step).is_not(None),
                col(ChannelAccount.opted_out).is_(False),
                # due: quiet for as long as the next nudge waits (only those get locked)
                sa.or_(
                    *(
                        sa.and_(
                            col(Conversation.nudges_sent) == sent,
                            col(Conversation.updated_at) <= now - after,
                        )
                        for sent, after in enumerate(NUDGE_AFTER)
                    )
                ),
            )
            # A conversation a message is changing is left for the next round (by then
            # updated): read unlocked, its `meta` written back here would undo the message's.
            # (SQLite runs one writer at a time, and has no row locks to ask for.)
            .with_for_update(of=Conversation, key_share=True, skip_locked=True)
        ).all()
        for conversation, account in rows:
            message: Text = NUDGES[conversation.flow or ""]
            # "Halo Kak Sri": the name they gave, else their profile's; never "Kak Pak" or
            # "Kak Kak" (with no name at all: "Halo Kak 👋")
            given = (conversation.draft or {}).get("owner_name")
            name = first_name(given) or first_name(account.profile_name) or "👋"
            notices.add(session, account.id or 0, message.msgid, {"name": name})
            conversation.nudges_sent += 1
            conversation.meta = {**conversation.meta, "pending": pending_to_json(Resume())}
            session.add(conversation)
            queued += 1
    return queued


_databases: dict[str, Database] = {}


def run_nudges(database_url: str, timezone: str = "Asia/Jakarta") -> int:
    """The scheduled job (referenced by name, so it survives in the job store)."""
    from bot.storage.models import utcnow

    db = _databases.setdefault(database_url, Database(database_url))
    return send_nudges(db, utcnow(), timezone)
