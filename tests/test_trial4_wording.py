"""Wording a cold trial found wrong: a shop named "Toko ..." read "Toko *Toko ...*", the
questions said "ketik *1*" over Telegram buttons that had no numbers, and the district's
help gave Sidoarjo's "Waru" as the example in every regency."""

from __future__ import annotations

import pytest

from bot.app import App
from bot.channels.telegram import _markup
from bot.i18n import Renderer
from bot.outgoing import Reply
from flows.messages import t
from tests.conftest import Chat
from tests.test_facilitators import joined

pytestmark = pytest.mark.any_backend  # wording


def test_a_shop_named_toko_is_not_called_toko_twice() -> None:
    render = Renderer("id")
    assert render(t("reg.registered", shop="Toko Batik Hj Siti")).startswith(
        "Selamat, Kak! *Toko Batik Hj Siti* sudah terdaftar"
    )
    assert render(t("fac.helping_question", shop="toko sembako barokah")) == (
        "Kakak sedang membantu *toko sembako barokah*. Mau apa sekarang?"
    )
    assert render(t("reg.registered", shop="Keripik Bu Sri")).startswith(
        "Selamat, Kak! Toko *Keripik Bu Sri* sudah terdaftar"
    )
    assert "Tokopedia" in render(t("reg.registered", shop="Tokopedia Jaya")).replace("*", "")


def test_three_or_more_telegram_buttons_carry_the_numbers_the_questions_mention() -> None:
    many = _markup(Reply(text="", choices=(("a", "Makanan"), ("b", "Fashion"), ("c", "Lainnya"))))
    assert many is not None
    assert [b.text for row in many.inline_keyboard for b in row] == [
        "1. Makanan",
        "2. Fashion",
        "3. Lainnya",
    ]
    assert [b.callback_data for row in many.inline_keyboard for b in row] == ["a", "b", "c"]
    two = _markup(Reply(text="", choices=(("yes", "Ya"), ("no", "Tidak"))))
    assert two is not None
    assert [b.text for row in two.inline_keyboard for b in row] == ["Ya", "Tidak"]


def test_the_district_help_gives_an_example_from_the_owners_regency(owner: Chat) -> None:
    for said in ("/start", "ya", "Budi Santoso", "ya", "Batik Budi", "2", "ponorogo"):
        owner.send(said)
    assert "Kabupaten Ponorogo" in owner.last
    owner.send("kecamatan itu apa?")
    assert "Kecamatan membantu pembeli" in owner.text
    assert "Waru" not in owner.text and "Slahung" in owner.text


def test_a_facilitator_is_offered_the_category_about_the_owner(app: App) -> None:
    """The guess from the shop's name speaks of the owner's business to a facilitator, as
    their plain question does, never "Usaha Kakak"."""
    chat, _ = joined(app)
    for said in ("/daftarkan", "0812-0000-9001", "siti aminah", "Bakso Pak Budi"):
        chat.send(said)
    assert chat.last.startswith("Usahanya jualan *Makanan & Minuman*, Kak?")
    assert "Usaha Kakak" not in chat.last
