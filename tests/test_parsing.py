"""The parsers contract (DESIGN.md): how owners really write prices, weights, numbers and places."""

from __future__ import annotations

import pytest

from flows.parsing import (
    match_regency,
    parse_phone,
    parse_price,
    parse_quantity,
    parse_weight_grams,
    parse_yes_no,
)


@pytest.mark.parametrize(
    ("text", "rupiah"),
    [
        ("25000", 25000),
        ("25.000", 25000),
        ("Rp 25.000,-", 25000),
        ("25rb", 25000),
        ("25 ribu", 25000),
        ("20 rebu", 20000),
        ("25k", 25000),
        ("25K", 25000),
        ("1,5jt", 1_500_000),
        ("1.5jt", 1_500_000),
        ("2 juta", 2_000_000),
        ("lima ribu", 5000),
        ("Rp. 15.000", 15000),
        ("15.000,00", 15000),
        ("IDR 25000", 25000),
        ("seratus ribu", 100_000),
        ("dua puluh lima ribu", 25000),
        ("1jt 500rb", 1_500_000),
        ("1 juta 250 ribu", 1_250_000),
        ("25,000", 25000),
        ("harganya 25rb", 25000),
        ("25 000", 25000),
        ("Rp25.000/pcs", 25000),
        ("seratus lima puluh ribu", 150_000),
        ("setengah juta", 500_000),
        ("satu setengah juta", 1_500_000),
        ("Rp 1.500.000", 1_500_000),
        ("goceng", 5000),
        ("25rb-an", 25000),
        ("25ribuan", 25000),
        ("2,5 jt", 2_500_000),
        ("sepuluh ribu", 10000),
        ("seribu", 1000),
        ("Rp.50.000", 50000),
        ("100rb aja kak", 100_000),
        ("12.500", 12500),
        ("Rp 7.500,-/bks", 7500),
        ("tiga ribu lima ratus", 3500),
        ("dua ratus lima puluh ribu", 250_000),
    ],
)
def test_price_is_read(text: str, rupiah: int) -> None:
    assert parse_price(text) == rupiah


@pytest.mark.parametrize(
    "text",
    [
        "25.000 - 30.000",
        "25rb-30rb",
        "25rb sampai 30rb",
        "0",
        "-5000",
        "gratis",
        "",
        "abc",
        "1,5",
        "minus 5000",
        "25rb s/d 30rb",
    ],
)
def test_price_not_read(text: str) -> None:
    assert parse_price(text) is None


@pytest.mark.parametrize(
    ("text", "grams"),
    [
        ("500", 500),
        ("500 gr", 500),
        ("500g", 500),
        ("1,5 kg", 1500),
        ("1.5kg", 1500),
        ("2 kilo", 2000),
        ("2 ons", 200),
        ("setengah kilo", 500),
        ("1/2 kg", 500),
        ("1kg 200gr", 1200),
        ("1 kg 200 gr", 1200),
        ("seperempat kilo", 250),
        ("2 kilogram", 2000),
        ("satu kilo", 1000),
        ("1.200 gr", 1200),
        ("1.5 ons", 150),
        ("± 500 gr", 500),
        ("kurang lebih 1 kg", 1000),
        ("sekitar 300 gram", 300),
        ("0,5 kg", 500),
        ("1 1/2 kg", 1500),
        ("sekilo", 1000),
        ("1kgan", 1000),
        ("1 kg 200", 1200),
        ("setengah ons", 50),
        ("1.250 kg", 1250),
        (".5 kg", 500),
        (",5 kg", 500),
        ("berat .75 kg", 750),
    ],
)
def test_weight_is_read(text: str, grams: int) -> None:
    assert parse_weight_grams(text) == grams


@pytest.mark.parametrize("text", ["0", "500 ml", "berat", "", "-2 kg", "1 - 2 kg"])
def test_weight_not_read(text: str) -> None:
    assert parse_weight_grams(text) is None


@pytest.mark.parametrize(
    ("text", "count"),
    [
        ("10", 10),
        ("10 pcs", 10),
        ("25 buah", 25),
        ("1 lusin", 12),
        ("1 kodi", 20),
        ("selusin", 12),
        ("sepuluh", 10),
        ("2 lusin", 24),
        ("setengah lusin", 6),
        ("1 gross", 144),
        ("stok 50", 50),
        ("ada 20 biji", 20),
        ("1.000", 1000),
        ("dua puluh", 20),
        ("lima belas", 15),
        ("seratus", 100),
        ("2 lusin 3 pcs", 27),
    ],
)
def test_quantity_is_read(text: str, count: int) -> None:
    assert parse_quantity(text) == count


@pytest.mark.parametrize("text", ["0", "banyak", "", "10-20"])
def test_quantity_not_read(text: str) -> None:
    assert parse_quantity(text) is None


@pytest.mark.parametrize(
    ("text", "e164"),
    [
        ("0812-3456-7890", "+6281234567890"),
        ("+62 812 3456 7890", "+6281234567890"),
        ("6281234567890", "+6281234567890"),
        ("(031) 345-6789", "+62313456789"),
        ("wa 0812 3456 7890", "+6281234567890"),
        ("+62 (0)812-3456-7890", "+6281234567890"),
        ("812-3456-7890", "+6281234567890"),
        ("no hp saya 085655554444 kak", "+6285655554444"),
    ],
)
def test_phone_is_read(text: str, e164: str) -> None:
    assert parse_phone(text) == e164


@pytest.mark.parametrize("text", ["0812345", "+60123456789", "", "nomor saya belum ada"])
def test_phone_not_read(text: str) -> None:
    assert parse_phone(text) is None


@pytest.mark.parametrize(
    "text",
    [
        "ya",
        "iya",
        "oke",
        "siap",
        "setuju",
        "👍",
        "iyaaa",
        "Ya kak",
        "iya betul",
        "Okeee",
        "yoi",
        "nggih",
        "gak papa",
    ],
)
def test_yes(text: str) -> None:
    assert parse_yes_no(text) is True


@pytest.mark.parametrize(
    "text",
    [
        "tidak",
        "gak",
        "nggak",
        "enggak",
        "ndak",
        "mboten",
        "ga jadi",
        "tidak kak",
        "belum",
        "👎",
        # "don't": never the "gak papa" kind of yes, whatever follows
        "jangan, salah pencet",
        "jangan salah",
        "jgn apa2in",
        "eh jangan",
        "aduh jangan kak",
        "eh salah",
        "ojo",
        "gausah",
    ],
)
def test_no(text: str) -> None:
    assert parse_yes_no(text) is False


@pytest.mark.parametrize("text", ["mungkin", "ya tidak", "", "besok saja kak"])
def test_neither_yes_nor_no(text: str) -> None:
    assert parse_yes_no(text) is None


@pytest.mark.parametrize(
    ("text", "codes"),
    [
        ("Surabaya", ["3578"]),
        ("sby", ["3578"]),
        ("kab. sidoarjo", ["3515"]),
        ("kota malang", ["3573"]),
        ("Malang", ["3507", "3573"]),
        ("surabya", ["3578"]),
        ("sidoardjo", ["3515"]),
        ("banyuwngi", ["3510"]),
        ("tulung agung", ["3504"]),
        ("Jember jatim", ["3509"]),
        ("kota sidoarjo", ["3515"]),
        ("Kota Batu", ["3579"]),
        ("di gresik kak", ["3525"]),
        ("Kab. Pasuruan, Jawa Timur", ["3514"]),
        ("mojokerto kota", ["3576"]),
    ],
)
def test_regency_is_matched(text: str, codes: list[str]) -> None:
    assert match_regency(text, "35") == codes


@pytest.mark.parametrize(
    ("text", "codes"),
    [
        ("Denpasar", ["5171"]),
        ("jogja", ["3471"]),
        ("bandung", ["3204", "3273"]),
        ("Kota Bandung", ["3273"]),
    ],
)
def test_regency_elsewhere_is_matched_without_a_province(text: str, codes: list[str]) -> None:
    assert match_regency(text) == codes


@pytest.mark.parametrize("text", ["asdf", "Kuala Lumpur", "", "12345"])
def test_regency_unknown(text: str) -> None:
    assert match_regency(text) == []


@pytest.mark.parametrize("text", ["Denpasar", "jogja", "bandung", "Kota Bandung"])
def test_regency_of_another_province_is_not_matched(text: str) -> None:
    # DESIGN.md: with a province_code, codes of that province only (it used to be a
    # preference that still returned Bali's or West Java's regencies).
    assert match_regency(text, "35") == []
