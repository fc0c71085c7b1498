"""The onboarding funnel per regency or per facilitator: started, consented, registered,
first product, live."""

from __future__ import annotations

import csv
from collections import Counter, defaultdict
from pathlib import Path

from sqlmodel import col, select

from bot.spreadsheet import csv_row
from bot.storage.database import Database
from bot.storage.models import ChannelAccount, Conversation, Facilitator, Product, Seller
from flows.regions import regencies

STAGES = ("started", "consented", "registered", "first_product", "live")


def funnel(db: Database, by: str = "regency") -> dict[str, Counter[str]]:
    """Stage counts per group; each person counts once per stage they reached."""
    groups: dict[str, Counter[str]] = defaultdict(Counter)
    with db.read_session() as session:
        sellers = {s.id: s for s in session.exec(select(Seller).where(Seller.status == "active"))}
        products: dict[int, set[str]] = defaultdict(set)
        for seller_id, status in session.exec(select(Product.seller_id, Product.status)):
            products[seller_id].add(status)
        rows = session.exec(
            select(ChannelAccount, Conversation).join(
                Conversation, col(Conversation.account_id) == col(ChannelAccount.id), isouter=True
            )
        )
        helpers = set(session.exec(select(Facilitator.account_id)))
        counted_sellers: set[int] = set()
        for account, conversation in rows:
            seller = sellers.get(account.seller_id) if account.seller_id else None
            if account.id in helpers or (seller is None and account.last_inbound_at is None):
                continue  # facilitators; numbers we wrote to that never wrote back
            if seller is not None:
                if seller.id in counted_sellers:
                    continue  # one person on two channels is one person
                counted_sellers.add(seller.id or 0)
            draft = conversation.draft if conversation else {}
            key = _group(by, seller, account, draft)
            stages = ["started"]
            if seller is not None or draft.get("consent_version"):
                stages.append("consented")
            if seller is not None:
                stages.append("registered")
                statuses = products.get(seller.id or 0, set())
                if statuses - {"draft", "deleted"}:
                    stages.append("first_product")
                if "live" in statuses:
                    stages.append("live")
            groups[key].update(stages)
    return dict(sorted(groups.items()))


def _group(by: str, seller: Seller | None, account: ChannelAccount, draft: dict) -> str:  # type: ignore[type-arg]
    if by == "facilitator":
        return (seller.facilitator_code if seller else None) or account.referral_code or "-"
    code = seller.regency_code if seller else draft.get("regency_code")
    return regencies()[code].full_name if code in regencies() else "-"


def write_csv(groups: dict[str, Counter[str]], by: str, path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow([by, *STAGES])
        for name, counts in groups.items():
            writer.writerow(csv_row([name, *(counts[s] for s in STAGES)]))
