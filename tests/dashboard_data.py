"""Data for the dashboard tests, written the way the bot writes it (rows in the real tables)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from bot.app import App
from bot.dashboard.auth import issue_link, link_url
from bot.storage.database import Database
from bot.storage.models import (
    Admin,
    ChannelAccount,
    Conversation,
    Facilitator,
    OutboxEvent,
    Product,
    Seller,
    UmkmRecord,
    utcnow,
)

# started: three owners with a shop and two people who only chatted (one of them agreed to the
# terms); the facilitators' own accounts and a number that never wrote back do not count.
EXPECTED = {"started": 5, "consented": 4, "registered": 3, "first_product": 2, "live": 1}


@dataclass
class Seeded:
    sri: int  # Sidoarjo, PDP-3515-001's owner, one live product
    budi: int  # Surabaya, PDP-3578-001's owner, one product waiting, a failed sync
    tini: int  # Sidoarjo, no product yet
    failed_event: int


def seed(db: Database) -> Seeded:
    now = utcnow()
    with db.session() as session:
        session.add(Admin(channel="console", external_id="admin-ana"))
        helpers = []
        for n, (code, regency, name) in enumerate(
            (("PDP-3515-001", "3515", "Rina"), ("PDP-3578-001", "3578", "Joko"))
        ):
            account = ChannelAccount(
                channel="telegram", external_id=str(111 + n), last_inbound_at=now
            )
            session.add(account)
            session.flush()
            facilitator = Facilitator(
                code=code,
                name=name,
                regency_code=regency,
                invite_code=f"INVITE{n}",
                account_id=account.id,
                joined_at=now,
            )
            session.add(facilitator)
            helpers.append(facilitator)
        session.flush()

        def shop(name: str, owner: str, phone: str, regency: str, code: str | None) -> Seller:
            seller = Seller(
                shop_name=name,
                shop_name_key=name.lower(),
                owner_name=owner,
                phone=phone,
                phone_verified=True,
                category="makanan-minuman",
                province_code="35",
                regency_code=regency,
                facilitator_code=code,
                consent_version="2026-11",
                consent_at=now - timedelta(days=2),
                registered_at=now - timedelta(days=2),
            )
            session.add(seller)
            session.flush()
            session.add(
                ChannelAccount(
                    channel="whatsapp",
                    external_id=phone,
                    phone=phone,
                    seller_id=seller.id,
                    last_inbound_at=now,
                )
            )
            return seller

        sri = shop("Keripik Bu Sri", "Sri Wahyuni", "+6281234567890", "3515", "PDP-3515-001")
        budi = shop("Sambal Pak Budi", "Budi Santoso", "+6281298765432", "3578", "PDP-3578-001")
        tini = shop("Batik Tini", "Tini", "+6285711112222", "3515", None)
        session.add(
            Product(
                seller_id=sri.id or 0,
                status="live",
                name="Keripik tempe pedas",
                category="makanan-minuman",
                price=15000,
                stock=20,
                weight_grams=250,
                updated_at=now - timedelta(days=1),
            )
        )
        session.add(
            Product(
                seller_id=budi.id or 0,
                status="pending",
                name="Sambal bawang",
                price=25000,
                stock=5,
                weight_grams=200,
            )
        )
        session.add(Product(seller_id=tini.id or 0, status="draft", name="Batik tulis"))
        for external_id, draft in (
            ("+6281300000001", {"consent_version": "2026-11"}),
            ("+6281300000002", {}),
        ):
            account = ChannelAccount(
                channel="whatsapp", external_id=external_id, last_inbound_at=now
            )
            session.add(account)
            session.flush()
            session.add(
                Conversation(
                    account_id=account.id or 0, flow="registration", step="shop_name", draft=draft
                )
            )
        session.add(ChannelAccount(channel="whatsapp", external_id="+6281300000003"))  # never wrote
        for n in range(4):
            session.add(
                UmkmRecord(
                    row_key=f"r{n}",
                    phone=f"+62813555000{n}",
                    owner_name=f"Pemilik {n}",
                    business_name=f"Usaha {n}",
                    province_code="35",
                    regency_code="3515",
                    source_file="disperindag.csv",
                    facilitator_id=helpers[0].id,
                )
            )
        event = OutboxEvent(
            kind="product.upsert",
            aggregate_ref="P_x",
            seller_id=budi.id,
            state="failed",
            attempts=3,
            last_error="422: price below the marketplace minimum",
        )
        session.add(event)
        session.flush()
        return Seeded(sri.id or 0, budi.id or 0, tini.id or 0, event.id or 0)


# Every page an admin can open (the shop page of the seeded Sri).
PAGES = (
    "/admin/",
    "/admin/regencies",
    "/admin/facilitators",
    "/admin/shops",
    "/admin/shops/{sri}",
    "/admin/sync",
    "/admin/broadcasts",
    "/admin/exports",
    "/admin/audit",
    "/admin/unggulan",
)


def new_link(app: App, channel: str, external_id: str) -> str:
    with app.db.session() as session:
        token = issue_link(session, app.settings, channel, external_id, utcnow())
    return link_url(app.settings, token).split("/admin/", 1)[1]
