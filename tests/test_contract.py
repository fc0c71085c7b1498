"""What the sync worker sends fits the marketplace contract kept in contracts/."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import col, select

from bot.app import App
from bot.conversation import ConversationRunner
from bot.storage.models import OutboxEvent, Seller
from bot.storage.outbox import contract_source
from tests import images
from tests.conftest import Chat
from tests.contract import CONTRACT, contract, problems

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "contracts" / CONTRACT.name


def test_the_copy_is_the_contract_we_were_given() -> None:
    assert contract()["info"]["version"] == "1.1"
    if SHARED.exists():  # beside the checkout in development and CI; not needed to run
        assert CONTRACT.read_bytes() == SHARED.read_bytes()


@pytest.mark.any_backend
def test_a_whatsapp_owner_and_product_fit_the_contract(
    app: App, runner: ConversationRunner
) -> None:
    owner = Chat(runner, "+6281311112222", channel="whatsapp", phone="+6281311112222")
    for text in (
        "halo",
        "setuju",
        "nama saya Bu Siti Rahayu",
        "ya",
        "batik gajah oling",
        "fashion",
        "banyuwangi, kec genteng",
        "jl. raya genteng no. 5 rt 2 rw 3",
        "9120 0012 3456 7",
        "simpan",
    ):
        owner.send(text)
    assert "reg.registered" in [m for r in owner.replies for m in r.msgids]
    owner.send(photos=tuple(app.media.ingest(images.sharp(seed)) for seed in (41, 42)))
    for text in ("selesai", "Kaos Batik Gajah Oling", "ya", "85rb", "ya", "2 lusin", "1"):
        owner.send(text)
    for text in ("300 gr", "baru", "pakai", "simpan"):
        owner.send(text)
    assert "product.saved" in [m for r in owner.replies for m in r.msgids]
    with app.db.session() as s:
        events = s.exec(select(OutboxEvent).order_by(col(OutboxEvent.id))).all()
    kinds = [e.kind for e in events]
    assert kinds == ["seller.upsert", "product.upsert"]
    for event in events:
        assert problems(event.kind, event.payload) == []
    seller = events[0].payload
    assert (seller["owner_name"], seller["shop_name"], seller["source"]) == (
        "Siti Rahayu",
        "Batik Gajah Oling",
        "whatsapp",
    )
    assert seller["region"] == {
        "province_code": "35",
        "regency_code": "3510",
        "district_code": "351009",
    }
    assert seller["nib"] == "9120001234567"
    product = events[1].payload
    assert (product["price"]["amount"], product["stock"], product["weight_grams"]) == (
        85_000,
        24,
        300,
    )
    assert [p["position"] for p in product["photos"]] == [0, 1]


@pytest.mark.any_backend
def test_a_seller_registered_in_the_console_is_sent_with_a_source_the_contract_allows(
    app: App, runner: ConversationRunner
) -> None:
    """The console (demos, training, an operator at a desk) is not a source the marketplace
    knows: such a seller goes out as registered by a facilitator, a person on the owner's
    behalf. Stored, it stays `console`."""
    owner = Chat(runner, "+6281322223333", channel="console", phone="+6281322223333")
    for text in (
        "halo",
        "setuju",
        "nama saya Bu Siti Rahayu",
        "ya",
        "batik gajah oling",
        "fashion",
        "banyuwangi, kec genteng",
        "jl. raya genteng no. 5 rt 2 rw 3",
        "lewati",
        "simpan",
    ):
        owner.send(text)
    assert "reg.registered" in [m for r in owner.replies for m in r.msgids]
    with app.db.session() as s:
        [event] = s.exec(select(OutboxEvent)).all()
        [seller] = s.exec(select(Seller)).all()
    assert event.kind == "seller.upsert"
    assert problems(event.kind, event.payload) == []
    assert event.payload["source"] == "facilitator"
    assert seller.source == "console"
    allowed = contract()["components"]["schemas"]["Seller"]["properties"]["source"]["enum"]
    assert "console" not in allowed


def test_every_source_we_store_goes_out_as_one_the_contract_allows() -> None:
    allowed = contract()["components"]["schemas"]["Seller"]["properties"]["source"]["enum"]
    channels = {"telegram", "whatsapp", "console"}  # ChannelAccount.channel values
    for source in channels | {"facilitator", "import"}:
        assert contract_source(source) in allowed, source


def test_the_contract_catches_a_wrong_body() -> None:
    wrong = {"seller_ref": "S1", "name": "ab", "price": {"amount": 50, "currency": "USD"}}
    found = problems("product.upsert", wrong)
    assert any("name" in p for p in found) and any("price" in p for p in found)
    assert any("is a required property" in p for p in found)
