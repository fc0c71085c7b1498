"""Properties of the parsers over generated text: they never raise, never return a value
that is not one, never read a count as a weight, and read back numbers said in words."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from flows.parsing import (
    count_unit,
    match_regency,
    parse_phone,
    parse_price,
    parse_quantity,
    parse_weight_grams,
)
from flows.regions import regencies, regency_match

_SETTINGS = settings(max_examples=200, deadline=None)


def _w(words: str) -> list[str]:
    return words.split()


# Words the parsers know, so that generated text hits the interesting paths.
_VOCAB = [
    *_w("satu dua tiga lima sepuluh belas puluh ratus ribu juta setengah seperempat"),
    *_w("siji loro telu papat limo enem pitu wolu songo rolas selawe seket sewidak"),
    *_w("satus sewu ewu atus yuto rong telung patang limang nem pitung wolung sangang"),
    *_w("sak se sa pa dhu tengah prapat seprapat settong tello lema sapolo saratos ebu"),
    *_w("rb rbu k jt kg gr gram ons kilo sekilo lusin lsn kodi kdi gros rim dus isi"),
    *_w("pcs buah biji bungkus bks pak pack botol sachet toples porsi lembar per an"),
    *_w("ml liter harga rp idr kak sampai atau - / 1/2 ½ 0 1 2 12 25 250 1.250 25.000"),
    *_w("0,5 1,5 9999999999999999999999999 ' . ,"),
]
_vocab_text = st.lists(st.sampled_from(_VOCAB), min_size=1, max_size=6).flatmap(
    lambda words: st.sampled_from([" ".join(words), "".join(words)])
)
_any_text = st.one_of(st.text(max_size=60), _vocab_text)


def _positive_int_or_none(value: object) -> bool:
    return value is None or (type(value) is int and value > 0)


@_SETTINGS
@given(_any_text)
def test_number_parsers_never_raise_and_return_a_positive_int_or_none(text: str) -> None:
    assert _positive_int_or_none(parse_price(text))
    assert _positive_int_or_none(parse_quantity(text))
    assert _positive_int_or_none(parse_weight_grams(text))
    unit = count_unit(text)
    assert unit is None or (isinstance(unit, str) and unit)


@_SETTINGS
@given(st.one_of(st.text(max_size=40), st.from_regex(r"\+?[0-9 ()\-.]{6,20}", fullmatch=True)))
def test_phone_never_raises_and_is_e164_or_none(text: str) -> None:
    phone = parse_phone(text)
    assert phone is None or phone.startswith("+62")


_COUNT_WORDS = [
    *_w("lusin losin lsn kodi kdi gros rim bungkus bks pcs pc biji buah pack pak dus"),
    *_w("dos kardus botol btl sachet saset toples porsi lembar lbr butir ekor ikat box"),
    *_w("kotak renteng sak karung kaleng potong batang pasang set unit"),
]
_NUMBER_WORDS = [
    *_w("satu dua tiga empat lima sepuluh sebelas dua_puluh seratus seribu setengah"),
    *_w("siji loro telu papat limo rolas selawe seket satus sewu rong_atus"),
    *_w("settong tello lema sapolo"),
]
_numbers = st.one_of(
    st.integers(min_value=1, max_value=100_000).map(str),
    st.decimals(min_value=0, max_value=1000, places=2).map(lambda d: str(d).replace(".", ",")),
    st.sampled_from(_NUMBER_WORDS).map(lambda w: w.replace("_", " ")),
)


@_SETTINGS
@given(_numbers, st.sampled_from(_COUNT_WORDS), st.sampled_from([" ", ""]))
def test_a_number_and_a_count_word_is_never_a_weight(number: str, word: str, gap: str) -> None:
    assert parse_weight_grams(f"{number}{gap}{word}") is None
    assert parse_weight_grams(f"{word} {number}") is None


_EAST_JAVA_NAMES = sorted({r.name for r in regencies().values() if r.province_code == "35"})
_ALL_NAMES = sorted({r.name for r in regencies().values()})


def _typo(name: str, at: int, kind: int) -> str:
    at = at % max(len(name), 1)
    if kind == 0:
        return name[:at] + name[at + 1 :]
    if kind == 1:
        return name[:at] + name[at : at + 1] * 2 + name[at + 1 :]
    return name[:at] + name[at + 1 : at + 2] + name[at : at + 1] + name[at + 2 :]


_places = st.one_of(
    st.text(max_size=40),
    st.builds(
        lambda q, name, typo, at, kind: f"{q} {_typo(name, at, kind) if typo else name}",
        st.sampled_from(["", "kab", "kab.", "kota", "kabupaten", "kodya", "di", "saya dari"]),
        st.sampled_from(_ALL_NAMES),
        st.booleans(),
        st.integers(0, 30),
        st.integers(0, 2),
    ),
)


@_SETTINGS
@given(_places)
def test_a_province_code_keeps_matches_in_that_province(text: str) -> None:
    assert all(code.startswith("35") for code in match_regency(text, "35"))
    match = regency_match(text, "35")
    assert list(match.codes) == match_regency(text, "35")
    assert not match.sure or match.codes


@_SETTINGS
@given(st.sampled_from(_EAST_JAVA_NAMES), st.sampled_from(["", "kab ", "kota ", "di "]))
def test_an_east_java_name_is_a_sure_match(name: str, qualifier: str) -> None:
    match = regency_match(f"{qualifier}{name}", "35")
    assert match.sure
    assert match.codes


# --- numbers said in words read back ------------------------------------------------------------

_JV_UNITS = ["", "siji", "loro", "telu", "papat", "limo", "enem", "pitu", "wolu", "songo"]
_JV_LINKS = ["", "se", "rong", "telung", "patang", "limang", "nem", "pitung", "wolung", "sangang"]
_JV_TEENS = "sepuluh sewelas rolas telulas patbelas limolas nembelas pitulas wolulas songolas"
_JV_TWEENS = "rong_puluh selikur rolikur telulikur patlikur selawe nemlikur pitulikur wolulikur"
_JV_BELOW_30 = ["", *_JV_UNITS[1:], *_JV_TEENS.split(), *_JV_TWEENS.split(), "songolikur"]


def _javanese_below_1000(n: int, before_multiplier: bool) -> str:
    hundreds, rest = divmod(n, 100)
    words = []
    if hundreds:
        words.append("satus" if hundreds == 1 else f"{_JV_LINKS[hundreds]} atus")
    tens, units = divmod(rest, 10)
    if rest < 30:
        said = _JV_BELOW_30[rest].replace("_", " ")
        if rest < 10 and before_multiplier and rest > 1:
            said = _JV_LINKS[rest]  # "rong ewu", "telung ewu"
        words.append(said)
    else:
        words.append({5: "seket", 6: "sewidak"}.get(tens) or f"{_JV_LINKS[tens]} puluh")
        if units:
            words.append(_JV_LINKS[units] if before_multiplier and units > 1 else _JV_UNITS[units])
    return " ".join(w for w in words if w)


def _javanese(n: int) -> str:
    thousands, rest = divmod(n, 1000)
    words = []
    if thousands == 1:
        words.append("sewu")
    elif thousands:
        words.append(f"{_javanese_below_1000(thousands, before_multiplier=True)} ewu")
    words.append(_javanese_below_1000(rest, before_multiplier=False))
    return " ".join(w for w in words if w)


_ID_UNITS = ["nol", "satu", "dua", "tiga", "empat", "lima", "enam", "tujuh", "delapan", "sembilan"]


def _indonesian_below_1000(n: int) -> str:
    hundreds, rest = divmod(n, 100)
    words = []
    if hundreds:
        words.append("seratus" if hundreds == 1 else f"{_ID_UNITS[hundreds]} ratus")
    tens, units = divmod(rest, 10)
    if rest == 10:
        words.append("sepuluh")
    elif rest == 11:
        words.append("sebelas")
    elif 12 <= rest < 20:
        words.append(f"{_ID_UNITS[units]} belas")
    else:
        if tens:
            words.append(f"{_ID_UNITS[tens]} puluh")
        if units:
            words.append(_ID_UNITS[units])
    return " ".join(words)


def _indonesian(n: int) -> str:
    thousands, rest = divmod(n, 1000)
    words = []
    if thousands == 1:
        words.append("seribu")
    elif thousands:
        words.append(f"{_indonesian_below_1000(thousands)} ribu")
    if rest:
        words.append(_indonesian_below_1000(rest))
    return " ".join(words)


@_SETTINGS
@given(st.integers(min_value=1, max_value=999_999))
def test_javanese_amounts_read_back(n: int) -> None:
    assert parse_price(_javanese(n)) == n, _javanese(n)


@_SETTINGS
@given(st.integers(min_value=1, max_value=999_999))
def test_indonesian_amounts_read_back(n: int) -> None:
    assert parse_price(_indonesian(n)) == n, _indonesian(n)
    assert parse_quantity(_indonesian(n)) == n, _indonesian(n)


@_SETTINGS
@given(st.integers(min_value=1, max_value=999), st.sampled_from(["rb", " rb", " ribu", "k"]))
def test_thousands_in_digits_read_back(n: int, suffix: str) -> None:
    assert parse_price(f"{n}{suffix}") == n * 1000
    assert parse_price(f"Rp {n * 1000:,}".replace(",", ".")) == n * 1000
