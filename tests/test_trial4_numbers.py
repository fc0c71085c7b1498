"""Numbers typed at the wrong product question (fourth cold trial): a price at the stock or
the weight, "PO" at the stock, a weight sent with the name and the price."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from flows.engine import Ctx, Env, Invalid, Parsed, Reading, Stay
from flows.messages import Inbound
from flows.product import STEPS

ENV = Env(now=datetime(2026, 11, 28, tzinfo=UTC), channel="console", directory=None)  # type: ignore[arg-type]


def read(step: str, typed: str, draft: dict[str, Any] | None = None) -> Reading:
    message = Inbound(user_key="u", channel="console", text=typed)
    return STEPS[step].read(message, Ctx(draft or {"price": 25000}, ENV))


def msgid(reading: Reading) -> str | None:
    match reading:
        case Invalid(reason=reason):
            return reason.msgid
        case Parsed(confirm=confirm) if confirm is not None:
            return confirm.msgid
        case Stay(message=message):
            return message.msgid
    return None


@pytest.mark.parametrize(
    "typed", ["Rp 25.000", "Rp25.000", "25rb", "25 ribu", "25k", "rp 15.000,-"]
)
def test_a_price_at_the_stock_is_said_to_be_a_price(typed: str) -> None:
    assert msgid(read("stock", typed)) == "product.stock_is_price"


@pytest.mark.parametrize(("typed", "stock"), [("25.000", 25000), ("25000", 25000), ("1.200", 1200)])
def test_a_stock_of_thousands_as_a_bare_number_is_asked(typed: str, stock: int) -> None:
    reading = read("stock", typed)
    assert isinstance(reading, Parsed) and reading.value == stock
    assert msgid(reading) == "product.stock_big_confirm"


@pytest.mark.parametrize(("typed", "stock"), [("12", 12), ("999", 999), ("1000 pcs", 1000)])
def test_a_usual_stock_or_a_counted_one_is_taken(typed: str, stock: int) -> None:
    reading = read("stock", typed)
    assert isinstance(reading, Parsed) and reading.value == stock and reading.confirm is None


@pytest.mark.parametrize(
    "typed", ["PO", "po kak", "pre order", "Pre-order", "preorder", "sistem PO", "pre order 3 hari"]
)
def test_made_to_order_asks_how_many_can_be_made(typed: str) -> None:
    assert msgid(read("stock", typed)) == "product.stock_made_to_order"


@pytest.mark.parametrize(
    ("typed", "stock"),
    [("PO 20", 20), ("sistem PO, sehari bisa 15", 15), ("PO 3 hari, bisa 10", 10)],
)
def test_made_to_order_with_a_number_keeps_it_asked(typed: str, stock: int) -> None:
    reading = read("stock", typed)
    assert isinstance(reading, Parsed) and reading.value == stock
    assert msgid(reading) == "product.stock_made_to_order_confirm"


@pytest.mark.parametrize("typed", ["habis", "stok habis", "kosong"])
def test_sold_out_is_still_stock_zero_asked(typed: str) -> None:
    reading = read("stock", typed)
    assert isinstance(reading, Parsed) and reading.value == 0
    assert msgid(reading) == "product.stock_zero_confirm"


@pytest.mark.parametrize("typed", ["15rb", "Rp 25.000", "25k", "15 ribu"])
def test_a_price_at_the_weight_is_said_to_be_a_price(typed: str) -> None:
    assert msgid(read("weight", typed)) == "product.weight_is_price"


@pytest.mark.parametrize(("typed", "grams"), [("250 gr", 250), ("1 kg", 1000), ("2 ons", 200)])
def test_weights_read_as_before(typed: str, grams: int) -> None:
    reading = read("weight", typed)
    assert isinstance(reading, Parsed) and reading.value == grams


@pytest.mark.parametrize(
    ("typed", "early"),
    [
        ("Sambal Teri Medan 35rb stok 12 200gr", {"price": "35rb stok 12", "weight": "200gr"}),
        (
            "Sambal Teri harga 35rb stok 12 berat 200gr",
            {"price": "harga 35rb stok 12", "weight": "200gr"},
        ),
        ("Beras Pandan 60rb 5 kg", {"price": "60rb", "weight": "5 kg"}),
        ("Sambal Teri Medan 35rb stok 12", {"price": "35rb stok 12"}),
        ("Kopi Bubuk 250gr", {}),  # a weight in the name without a price stays the name's
    ],
)
def test_numbers_sent_with_the_name_are_kept_for_their_questions(
    typed: str, early: dict[str, str]
) -> None:
    reading = read("name", typed, draft={})
    assert isinstance(reading, Parsed)
    assert dict(reading.early) == early


def test_the_price_typed_again_at_the_weight_is_said_to_be_the_price() -> None:
    """ "25.000" with the price Rp25.000: the price, not "Beratnya 25 kg ya?"; another bare
    number is asked as grams, as before."""
    assert msgid(read("weight", "25.000", {"price": 25000})) == "product.weight_is_price"
    assert msgid(read("weight", "25000", {"price": 25000})) == "product.weight_is_price"
    assert msgid(read("weight", "25.000", {"price": 30000})) == "product.weight_confirm"
    assert msgid(read("weight", "25 kg", {"price": 25000})) is None
