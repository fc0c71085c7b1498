"""POST /marketplace/webhook on our real web app over a real socket, signed the contract's way."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from pydantic import SecretStr
from sqlmodel import col, select

from bot.app import App, build_app
from bot.config import Settings
from bot.marketplace_events import sign
from bot.storage.models import (
    ListingStatus,
    MarketplaceEvent,
    Notice,
    Product,
    ProductStats,
)
from bot.web import create_web_app
from tests.contract import contract
from tests.marketplace import SECRET, make_shop, signed, stats_event, status_event
from tests.served import Served, free_port

DAY = date(2026, 11, 20)


@pytest.fixture
def served(settings: Settings) -> Iterator[tuple[App, Served]]:
    app = build_app(settings.model_copy(update={"marketplace_webhook_secret": SecretStr(SECRET)}))
    server = Served(create_web_app(app), free_port())
    yield app, server
    server.stop()
    app.close()


def post(server: Served, body: bytes, headers: dict[str, str]) -> Any:
    return server.http.post(f"{server.base}/marketplace/webhook", content=body, headers=headers)


def counts(app: App) -> tuple[int, int, int, int]:
    with app.db.read_session() as session:
        return (
            len(session.exec(select(MarketplaceEvent)).all()),
            len(session.exec(select(ProductStats)).all()),
            len(session.exec(select(ListingStatus)).all()),
            len(session.exec(select(Notice)).all()),
        )


def test_a_signed_batch_is_stored_and_counted(served: tuple[App, Served]) -> None:
    app, server = served
    _, (ref,) = make_shop(app.db, status="pending")
    events = [
        stats_event("ev-stats-001", ref, DAY, views=120, orders=4, units=6, revenue=150000),
        status_event("ev-status-01", ref, "live", "2026-11-20T10:00:00+07:00", url="https://m/p/1"),
    ]
    response = post(server, *signed(events))
    assert response.status_code == 200, response.text
    assert response.json() == {"accepted": 2, "duplicates": 0, "unknown_products": []}
    again = post(server, *signed(events))  # the marketplace did not hear our 200: redelivered
    assert again.json() == {"accepted": 0, "duplicates": 2, "unknown_products": []}
    assert counts(app) == (2, 1, 1, 1)
    with app.db.read_session() as session:
        product = session.exec(select(Product).where(Product.ref == ref)).one()
        notice = session.exec(select(Notice)).one()
    assert (product.status, product.url) == ("live", "https://m/p/1")
    assert notice.msgid == "sync.product_live"
    assert notice.params["url"] == "https://m/p/1"


@pytest.mark.any_backend
@pytest.mark.parametrize(
    "how",
    ["missing", "forged", "wrong_secret", "stale", "future", "no_v1", "garbled", "body_changed"],
)
def test_unsigned_forged_or_stale_batches_get_401_and_store_nothing(
    served: tuple[App, Served], how: str
) -> None:
    app, server = served
    _, (ref,) = make_shop(app.db)
    events = [stats_event("ev-forged-01", ref, DAY, views=5)]
    body, headers = signed(events)
    now = int(time.time())
    if how == "missing":
        headers.pop("Marketplace-Signature")
    elif how == "forged":
        headers["Marketplace-Signature"] = f"t={now},v1={'0' * 64}"
    elif how == "wrong_secret":
        body, headers = signed(events, secret="someone-else")
    elif how == "stale":
        body, headers = signed(events, stamp=now - 301 - 5)
    elif how == "future":
        body, headers = signed(events, stamp=now + 301 + 5)
    elif how == "no_v1":
        headers["Marketplace-Signature"] = f"t={now}"
    elif how == "garbled":
        headers["Marketplace-Signature"] = "v1=" + sign(SECRET, now, body)
    elif how == "body_changed":
        body = body.replace(b'"views": 5', b'"views": 9')
    response = post(server, body, headers)
    assert response.status_code == 401
    assert counts(app) == (0, 0, 0, 0)


def test_any_of_several_signatures_is_enough_during_a_rotation(
    served: tuple[App, Served],
) -> None:
    app, server = served
    _, (ref,) = make_shop(app.db)
    body, headers = signed([stats_event("ev-rotate-01", ref, DAY, views=3)])
    stamp = int(time.time())
    old = sign("the-old-secret", stamp, body)
    headers["Marketplace-Signature"] = f"t={stamp},v1={old},v1={sign(SECRET, stamp, body)}"
    assert post(server, body, headers).status_code == 200
    assert counts(app)[0] == 1


@pytest.mark.any_backend
def test_a_batch_with_one_bad_event_is_refused_whole_naming_its_index(
    served: tuple[App, Served],
) -> None:
    app, server = served
    _, (ref,) = make_shop(app.db)
    good = [stats_event(f"ev-good-{i:03}", ref, DAY, views=i) for i in range(5)]
    bad = stats_event("ev-bad-0003", ref, DAY, views=-1)
    response = post(server, *signed([*good[:3], bad, *good[3:]]))
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "validation_failed"
    assert error["index"] == 3 and "event 3" in error["message"]
    assert "events[3].views" in error["fields"]
    assert counts(app) == (0, 0, 0, 0)
    stars = stats_event("ev-stars-001", ref, DAY, ratings=(2, 11))  # 2 reviews, 11 stars
    refused = post(server, *signed([good[0], stars]))
    assert refused.status_code == 422 and refused.json()["error"]["index"] == 1
    empty = post(server, *signed([]))
    assert empty.status_code == 422
    too_many = [stats_event(f"ev-many-{i:04}", ref, DAY) for i in range(501)]
    assert post(server, *signed(too_many)).status_code == 422
    assert counts(app) == (0, 0, 0, 0)


def test_the_refusal_and_the_answer_match_the_contract(served: tuple[App, Served]) -> None:
    app, server = served
    _, (ref,) = make_shop(app.db)
    responses = contract()["webhooks"]["marketplaceEvents"]["post"]["responses"]
    ok = post(server, *signed([stats_event("ev-shape-001", ref, DAY)])).json()
    assert set(responses["200"]["content"]["application/json"]["schema"]["required"]) <= set(ok)
    refused = post(server, *signed([{"id": "x"}])).json()
    assert {"code", "message"} <= set(refused["error"])


def test_500_events_are_stored_in_one_go(served: tuple[App, Served]) -> None:
    app, server = served
    _, refs = make_shop(app.db, products=("Keripik A", "Keripik B"))
    events = [
        stats_event(f"ev-full-{i:04}", refs[i % 2], date.fromordinal(DAY.toordinal() - i // 2))
        for i in range(500)
    ]
    response = post(server, *signed(events))
    assert response.json()["accepted"] == 500
    assert counts(app)[:2] == (500, 500)


@pytest.mark.any_backend
def test_a_body_over_the_limit_is_refused_before_storing(served: tuple[App, Served]) -> None:
    app, server = served
    body = b'{"events": [' + b" " * (3 * 1024 * 1024) + b"]}"
    stamp = int(time.time())
    headers = {"Marketplace-Signature": f"t={stamp},v1={sign(SECRET, stamp, body)}"}
    assert post(server, body, headers).status_code == 413
    assert counts(app) == (0, 0, 0, 0)


def test_events_for_unknown_products_are_kept_and_reported(served: tuple[App, Served]) -> None:
    app, server = served
    _, (ref,) = make_shop(app.db)
    events = [
        stats_event("ev-known-001", ref, DAY, views=7),
        stats_event("ev-ghost-001", "P_nobodyknows", DAY, views=9),
    ]
    response = post(server, *signed(events))
    assert response.status_code == 200
    assert response.json()["unknown_products"] == ["P_nobodyknows"]
    with app.db.read_session() as session:
        kept = session.exec(
            select(MarketplaceEvent).where(col(MarketplaceEvent.unknown_product).is_(True))
        ).one()
    assert kept.product_ref == "P_nobodyknows" and kept.payload is not None
    assert kept.payload["views"] == 9
    from bot.marketplace_events import unknown_report

    assert unknown_report(app.db) == [("P_nobodyknows", "product.stats", 1)]


def test_a_correction_replaces_the_figures_and_an_older_one_does_not(
    served: tuple[App, Served],
) -> None:
    app, server = served
    _, (ref,) = make_shop(app.db)
    first = stats_event("ev-first-001", ref, DAY, views=10, orders=1, at=_at(21))
    fixed = stats_event("ev-fixed-001", ref, DAY, views=12, orders=2, at=_at(23))
    post(server, *signed([fixed]))
    post(server, *signed([first]))  # arrives late, was written earlier: changes nothing
    with app.db.read_session() as session:
        row = session.exec(select(ProductStats)).one()
    assert (row.views, row.orders, row.event_id) == (12, 2, "ev-fixed-001")


def test_status_reaches_the_owner_once_in_order_with_the_reason_in_plain_words(
    served: tuple[App, Served],
) -> None:
    app, server = served
    _, (ref,) = make_shop(app.db)
    delisted = status_event(
        "ev-del-0001",
        ref,
        "delisted",
        "2026-11-21T09:00:00+07:00",
        reasons=["Photo contains a watermark"],
    )
    older_live = status_event("ev-live-001", ref, "live", "2026-11-20T09:00:00+07:00")
    for batch in ([delisted], [older_live], [delisted, older_live]):
        assert post(server, *signed(batch)).status_code == 200
    with app.db.read_session() as session:
        notices = session.exec(select(Notice).order_by(col(Notice.id))).all()
        product = session.exec(select(Product).where(Product.ref == ref)).one()
    assert [n.msgid for n in notices] == ["market.delisted_fix"]
    assert notices[0].params["field"] == "foto"
    assert notices[0].params["reason"] == {"msgid": "market.reason.photos", "params": {}}
    assert product.status == "needs_fix"
    back = status_event("ev-back-0001", ref, "live", "2026-11-22T09:00:00+07:00", url="https://m/1")
    post(server, *signed([back]))
    with app.db.read_session() as session:
        msgids = [n.msgid for n in session.exec(select(Notice).order_by(col(Notice.id)))]
    assert msgids == ["market.delisted_fix", "sync.product_live"]


def _at(hour: int) -> Any:
    from datetime import datetime

    return datetime(2026, 11, 20, hour, 0)


@pytest.mark.any_backend
def test_json_that_is_not_a_batch_is_422(served: tuple[App, Served]) -> None:
    app, server = served
    for raw in (b"not json", b"[]", json.dumps({"events": "x"}).encode()):
        stamp = int(time.time())
        headers = {"Marketplace-Signature": f"t={stamp},v1={sign(SECRET, stamp, raw)}"}
        assert post(server, raw, headers).status_code == 422
    assert counts(app) == (0, 0, 0, 0)
