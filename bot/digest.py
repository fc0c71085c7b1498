"""The weekly sales digest: on Monday from 09:00 WIB, last week's figures to each owner with
at least one live product. A notice, so each channel's rules apply (WhatsApp outside the
24-hour window only as an approved template); never to an owner who said STOP, never in quiet
hours, at most once a week (`sales_digest`)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from bot import notices
from bot.reminders import quiet_hours
from bot.sales import local_day, seller_windows
from bot.storage.database import Database
from bot.storage.models import Product, SalesDigest, Seller
from bot.storage.sellers import latest_account
from flows.messages import t

DIGEST = t("perf.digest")
DIGEST_QUIET = t("perf.digest_quiet")
SEND_FROM = time(9, 0)  # WIB, on Mondays (the scheduler tries every 30 minutes)


def week_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


def send_digests(db: Database, now: datetime, timezone: str = "Asia/Jakarta") -> int:
    """Queue the digests due at `now`; returns how many."""
    local = now.astimezone(ZoneInfo(timezone))
    if quiet_hours(now, timezone) or local.weekday() != 0 or local.time() < SEND_FROM:
        return 0
    week = week_of(local_day(now, timezone))
    sunday = week - timedelta(days=1)  # the week reported ends yesterday
    queued = 0
    with db.session() as session:
        done = set(session.exec(select(SalesDigest.seller_id).where(SalesDigest.week == week)))
        live = session.exec(
            select(Product.seller_id, Product.id)
            .join(Seller, col(Seller.id) == col(Product.seller_id))
            .where(Product.status == "live", Seller.status == "active")
        ).all()
        by_seller: dict[int, list[int]] = {}
        for seller_id, product_id in live:
            if seller_id not in done and product_id is not None:
                by_seller.setdefault(seller_id, []).append(product_id)
        for seller_id, product_ids in sorted(by_seller.items()):
            queued += _digest(session, seller_id, product_ids, sunday, week)
    return queued


def _digest(
    session: Session, seller_id: int, product_ids: list[int], sunday: date, week: date
) -> int:
    session.add(SalesDigest(seller_id=seller_id, week=week))  # decided once, sent or not
    account = latest_account(session, seller_id)
    if account is None or account.id is None or account.opted_out:
        return 0
    windows = seller_windows(session, product_ids, sunday, windows=(7,))
    total = {
        name: sum(w[7][name] for w in windows.values())
        for name in ("views", "orders", "units_sold", "revenue")
    }
    if not total["views"]:
        notices.add(session, account.id, DIGEST_QUIET.msgid, {})
        return 1
    params = {
        "views": total["views"],
        "orders": total["orders"],
        "units": total["units_sold"],
        "revenue": {"rupiah": total["revenue"]},
    }
    notices.add(session, account.id, DIGEST.msgid, params)
    return 1


_databases: dict[str, Database] = {}


def run_sales_digest(database_url: str, timezone: str) -> int:
    """The scheduled job (referenced by name, so it survives in the job store)."""
    from bot.storage.models import utcnow

    db = _databases.setdefault(database_url, Database(database_url))
    return send_digests(db, utcnow(), timezone)
