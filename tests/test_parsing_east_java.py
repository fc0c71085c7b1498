"""East Java owners write amounts in Indonesian, Javanese and Madurese; the parsers read them
or say None, never a number the owner did not mean (DESIGN.md, Parsers)."""

from __future__ import annotations

import pytest

from flows.parsing import count_unit, parse_price, parse_quantity, parse_weight_grams
from flows.regions import RegencyMatch, match_regency, regency_match

# --- prices ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "rupiah"),
    [
        # Javanese
        ("sewu", 1_000),
        ("rong ewu", 2_000),
        ("rongewu", 2_000),
        ("telung ewu", 3_000),
        ("limang ewu", 5_000),
        ("nem ewu", 6_000),
        ("pitung ewu", 7_000),
        ("wolung ewu", 8_000),
        ("sangang ewu", 9_000),
        ("sepuluh ewu", 10_000),
        ("rolas ewu", 12_000),
        ("limolas ewu", 15_000),
        ("selawe ewu", 25_000),
        ("selangkung ewu", 25_000),  # krama
        ("kalih dasa ewu", 20_000),
        ("tigang dasa ewu", 30_000),
        ("patang puluh ewu", 40_000),
        ("seket ewu", 50_000),
        ("seket loro ewu", 52_000),
        ("sewidak ewu", 60_000),
        ("satus ewu", 100_000),
        ("satus seket ewu", 150_000),
        ("rong atus ewu", 200_000),
        ("rong atus seket ewu", 250_000),
        ("limang atus", 500),
        ("limangatus", 500),
        ("limang atus ewu", 500_000),
        ("sangang atus", 900),
        ("sewu limang atus", 1_500),
        ("telung ewu limang atus", 3_500),
        ("sak yuto", 1_000_000),
        ("rong yuto", 2_000_000),
        ("rong juta", 2_000_000),
        ("sejuta setengah", 1_500_000),
        ("rega selawe ewu", 25_000),
        # Madurese
        ("lema ebu", 5_000),
        ("dhu ebu", 2_000),
        ("sa'ebu", 1_000),
        ("pa'ebu", 4_000),
        ("tello polo ebu", 30_000),
        ("sagame' ebu", 25_000),
        ("sa'iket ebu", 50_000),
        ("saratos ebu", 100_000),
        ("settong juta", 1_000_000),
        # Indonesian written joined or spoken loosely
        ("duapuluh ribu", 20_000),
        ("dua ribu setengah", 2_500),
        ("Rp 25.000", 25_000),
        # the price of one of something
        ("25rb sekilo", 25_000),
        ("10rb sebungkus", 10_000),
        ("Rp 25.000 / 1 kg", 25_000),
        ("1 pcs 10rb", 10_000),
        ("25rb/pcs", 25_000),
    ],
)
def test_price_in_javanese_and_madurese(text: str, rupiah: int) -> None:
    assert parse_price(text) == rupiah


@pytest.mark.parametrize(
    "text",
    [
        "rong",  # a linking form with nothing to link to
        "telong atus ewu",  # a typo is not a number: not 100,000
        "rong xx ewu",
        "atus ewu",  # no number before the multiplier
        "ewu",
        "sewu limang atus ewu",  # 1,000 then 500,000: no single amount
        "rong puluh selawe ewu",  # 20 + 25 does not add up in words
        "25rb per 500 gram",  # two numbers
        "harga 25rb diskon 20rb",
        "1 juta dan 500 ribu",
        "25m",  # juta or miliar?
        "15rb/3pcs",  # the price of three
        "25rb 3 pcs",  # was 25,003
        "25rb 2kg",  # was 25,002
        "2 pcs 25rb",
        "1 juta 1500 ribu",
        "seratus harga 25",
        "ribuan",
    ],
)
def test_price_not_guessed(text: str) -> None:
    assert parse_price(text) is None


# --- quantities -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "count"),
    [
        ("2lsn", 24),
        ("1 lsn", 12),
        ("3 lsn", 36),
        ("selusin", 12),
        ("se lusin", 12),
        ("selusin setengah", 18),
        ("rong lusin", 24),
        ("3 kdi", 60),
        ("1 kodi", 20),
        ("gros", 144),
        ("1 gros", 144),
        ("1 rim", 500),
        ("2 rim", 1_000),
        ("dus isi 12", 12),
        ("2 dus isi 12", 24),
        ("1 pak isi 10", 10),
        ("1 dus isi 2 lusin", 24),
        ("isi 12", 12),
        ("10 pcs", 10),
        ("25 buah", 25),
        ("sepuluh", 10),
        ("siji", 1),
        ("loro", 2),
        ("telu", 3),
        ("papat", 4),
        ("limo", 5),
        ("enem", 6),
        ("pitu", 7),
        ("wolu", 8),
        ("songo", 9),
        ("rolas", 12),
        ("selawe", 25),
        ("seket", 50),
        ("sewidak", 60),
        ("satus", 100),
        ("sewu", 1_000),
        ("telung bungkus", 3),
        ("sebungkus", 1),
        ("settong", 1),
        ("duwa'", 2),
        ("tello'", 3),
        ("empa'", 4),
        ("lema'", 5),
        ("sapolo", 10),
        ("saratos", 100),
    ],
)
def test_quantity_short_forms_and_packing(text: str, count: int) -> None:
    assert parse_quantity(text) == count


@pytest.mark.parametrize("text", ["2 isi 12", "lusinan", "rong", "dus isi", "isi 12 isi 10"])
def test_quantity_not_guessed(text: str) -> None:
    assert parse_quantity(text) is None


# --- weights ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "grams"),
    [
        ("seprapat kilo", 250),
        ("seperempat kilo", 250),
        ("setengah kilo", 500),
        ("separo kilo", 500),
        ("sak tengah kilo", 500),
        ("telung prapat kilo", 750),
        ("tiga perempat kg", 750),
        ("sekilo", 1_000),
        ("sak kilo", 1_000),
        ("rong kilo", 2_000),
        ("telung kilo", 3_000),
        ("sekilo setengah", 1_500),
        ("1 kilo setengah", 1_500),
        ("rong kilo setengah", 2_500),
        ("limang atus gram", 500),
        ("rong ons", 200),
        ("½ kg", 500),
        ("1½ kg", 1_500),
        ("750 gram per pcs", 750),
        ("750gr/pcs", 750),
        ("250 gr per bungkus", 250),
        ("isi 250 gram", 250),
        ("berat 1 kg", 1_000),
        ("1 kg per pack", 1_000),
        ("1 pcs 250 gram", 250),
        ("per pcs 250 gr", 250),
        ("1 kg pak", 1_000),
        ("500an gr", 500),
    ],
)
def test_weight_in_javanese_and_per_unit(text: str, grams: int) -> None:
    assert parse_weight_grams(text) == grams


@pytest.mark.parametrize(
    "text",
    [
        "1 lusin",
        "3 lusin",
        "dua lusin",
        "2lsn",
        "1 kodi",
        "2 bungkus",
        "10 pcs",
        "25 biji",
        "3 buah",
        "2 pack",
        "2 pak",
        "1 dus",
        "6 botol",
        "10 sachet",
        "1 toples",
        "2 porsi",
        "100 lembar",
        "dus isi 12",
        "isi 12",
        "2 sak",
        "sebungkus",
        "2 pcs 250 gram",  # each, or both together?
        "250 gram 2 pcs",
        "seprapat",  # a quarter of what?
        "kilo",  # no number
        "telong kilo",  # a typo is not one kilo
        "500gr x 2",
        "500gr/1kg",
        "1 kg = 1000 gr",  # was 2,000
    ],
)
def test_weight_is_not_a_count(text: str) -> None:
    assert parse_weight_grams(text) is None


@pytest.mark.parametrize(
    ("text", "unit"),
    [
        ("2lsn", "lusin"),
        ("1 lusin", "lusin"),
        ("dua losin", "lusin"),
        ("3 kdi", "kodi"),
        ("2 bungkus", "bungkus"),
        ("3 bks", "bungkus"),
        ("sebungkus", "bungkus"),
        ("10 pcs", "pcs"),
        ("2 pack", "pak"),
        ("dus isi 12", "dus"),
        ("6 btl", "botol"),
        ("2 sak", "sak"),
    ],
)
def test_count_unit_names_the_count(text: str, unit: str) -> None:
    assert count_unit(text) == unit


@pytest.mark.parametrize(
    "text", ["500", "750 gram per pcs", "1 kg per pack", "500 gr", "", "setengah kilo", "abc"]
)
def test_count_unit_none_without_a_count_or_with_a_mass(text: str) -> None:
    assert count_unit(text) is None


# --- regions ------------------------------------------------------------------------------------

_QUALIFIED = [
    ("kab malang", "3507"),
    ("kab. malang", "3507"),
    ("malang kab", "3507"),
    ("KAB.MALANG", "3507"),
    ("kabupaten malang", "3507"),
    ("kabupatn malang", "3507"),
    ("Malang (kota)", "3573"),
    ("kota malang", "3573"),
    ("kodya malang", "3573"),
    ("kotamadya malang", "3573"),
    ("kota batu", "3579"),
    ("kab kediri", "3506"),
    ("kediri kota", "3571"),
    ("kab. blitar", "3505"),
    ("Blitar (Kota)", "3572"),
    ("kab pasuruan", "3514"),
    ("kota pasuruan", "3575"),
    ("kab probolinggo", "3513"),
    ("KOTA.PROBOLINGGO", "3574"),
    ("kab. mojokerto", "3516"),
    ("mojokerto kota", "3576"),
    ("kabupaten madiun", "3519"),
    ("kota madiun", "3577"),
]


@pytest.mark.parametrize(("text", "code"), _QUALIFIED)
def test_qualified_regency_is_sure(text: str, code: str) -> None:
    assert regency_match(text, "35") == RegencyMatch((code,), True)
    assert match_regency(text, "35") == [code]


@pytest.mark.parametrize(
    ("text", "codes"),
    [
        ("Malang", ("3507", "3573")),
        ("sby", ("3578",)),
        ("Surabaya", ("3578",)),
        ("tulung agung", ("3504",)),
        ("di gresik kak", ("3525",)),
        ("Jember jatim", ("3509",)),
    ],
)
def test_exact_name_is_sure(text: str, codes: tuple[str, ...]) -> None:
    assert regency_match(text, "35") == RegencyMatch(codes, True)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("surabya", "3578"),
        ("banyuwngi", "3510"),
        ("saya jualan di surabaya", "3578"),
    ],
)
def test_typo_or_sentence_matches_but_is_not_sure(text: str, code: str) -> None:
    assert regency_match(text, "35") == RegencyMatch((code,), False)


def test_old_spelling_is_still_the_name() -> None:
    assert regency_match("sidoardjo", "35") == RegencyMatch(("3515",), True)
    assert regency_match("Bodjonegoro", "35") == RegencyMatch(("3522",), True)


@pytest.mark.parametrize(
    "text", ["makanan", "minuman", "kerajinan", "pakaian", "batik", "jualan", "belum"]
)
def test_common_word_is_no_regency(text: str) -> None:
    assert regency_match(text, "35") == RegencyMatch((), False)
    assert not regency_match(text).sure


@pytest.mark.parametrize("text", ["Denpasar", "jogja", "Kota Bandung", "Bandung jabar"])
def test_province_code_excludes_other_provinces(text: str) -> None:
    assert match_regency(text, "35") == []
    assert match_regency(text) != []
