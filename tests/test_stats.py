"""The funnel counts people at each stage, per regency and per facilitator."""

from __future__ import annotations

from pathlib import Path

from sqlmodel import select

from bot.app import App
from bot.stats import funnel, write_csv
from bot.storage.models import Product
from tests import images
from tests.conftest import Chat
from tests.test_registration import register


def test_funnel_by_regency_and_referral(app: App, tmp_path: Path) -> None:
    started = Chat(app.runner, "tg-1", channel="telegram")
    started.send("/start")
    consented = Chat(app.runner, "tg-2", channel="telegram")
    consented.send("/start pendamping-07")
    consented.send("ya")
    registered = Chat(app.runner, "+6281234567890", phone="+6281234567890")
    register(registered)  # Sidoarjo
    with_product = Chat(app.runner, "+6281234567891", phone="+6281234567891")
    register(with_product, shop="Batik Bu Ani")
    with_product.send(photos=(app.media.ingest(images.sharp(3)),))
    for answer in (
        "selesai",
        "Batik Tulis",
        "ya",
        "150000",
        "5",
        "1",
        "300 gr",
        "baru",
        "pakai",
        "simpan",
    ):
        with_product.send(answer)
    with app.db.session() as s:
        product = s.exec(select(Product)).one()
        product.status = "live"
        s.add(product)
    groups = funnel(app.db)
    sidoarjo = groups["Kabupaten Sidoarjo"]
    assert [
        sidoarjo[s] for s in ("started", "consented", "registered", "first_product", "live")
    ] == [2, 2, 2, 1, 1]
    assert groups["-"]["started"] == 2 and groups["-"]["consented"] == 1
    by_facilitator = funnel(app.db, "facilitator")
    assert by_facilitator["pendamping-07"]["consented"] == 1
    out = tmp_path / "funnel.csv"
    write_csv(groups, "regency", out)
    assert (
        out.read_text().splitlines()[0] == "regency,started,consented,registered,first_product,live"
    )
