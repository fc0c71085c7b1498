"""Read what owners type, the way they type it. Each parser returns None when unsure.

Amounts are read as owners say them in Indonesian, Javanese and Madurese: `25rb`,
`dua puluh lima ribu`, `selawe ewu`, `rong atus ewu`, `lema ebu`, `seprapat kilo`. A word
the reader does not know never becomes part of a number: `telong atus` (a typo) is None,
not 100.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import Enum, auto
from functools import cache

import phonenumbers

from flows.lexicon import normalize, words
from flows.regions import RegencyMatch, match_regency, regency_match

__all__ = [
    "RegencyMatch",
    "count_unit",
    "is_mobile",
    "match_regency",
    "parse_phone",
    "parse_price",
    "parse_quantity",
    "parse_weight_grams",
    "parse_yes_no",
    "regency_match",
]

# --- tokens --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Num:
    value: float
    decimal_alt: float | None = None  # "1.250" read as 1.25 instead of 1250
    fraction: bool = False  # written as a/b


@dataclass(frozen=True)
class _Word:
    text: str


@dataclass(frozen=True)
class _Sym:
    text: str


_Token = _Num | _Word | _Sym

_TOKEN_RE = re.compile(
    r"(?P<frac>\d+\s*/\s*\d+)"
    r"|(?P<num>\d+(?:[.,]\d+)*)"
    r"|(?P<word>[a-z]+)"
    r"|(?P<sym>[-–—~+±/@])"
)


def _read_number(raw: str) -> _Num:
    """Read digits with Indonesian or English separators."""
    if "." in raw and "," in raw:
        decimal = "," if raw.rfind(",") > raw.rfind(".") else "."
        thousands = "." if decimal == "," else ","
        whole, _, cents = raw.rpartition(decimal)
        if decimal in whole:  # "0.0,0.0": no way to read it
            return _Num(float("nan"))
        return _Num(float(whole.replace(thousands, "") + "." + cents))
    for sep in ".,":
        if sep in raw:
            parts = raw.split(sep)
            grouped = all(len(p) == 3 for p in parts[1:]) and parts[0] not in ("", "0")
            if len(parts) > 2 or (grouped and len(parts[0]) <= 3):
                if grouped:
                    alt = float(raw.replace(sep, ".", 1)) if len(parts) == 2 else None
                    return _Num(float(raw.replace(sep, "")), alt)
                return _Num(float("nan"))
            return _Num(float(raw.replace(sep, ".")))
    return _Num(float(raw))


def _vulgar(m: re.Match[str]) -> str:
    return " " + unicodedata.normalize("NFKC", m[0]) + " "  # "1½" -> "1 1⁄2", not "11⁄2"


def _normalize(text: str) -> str:
    text = re.sub(r"[\u00bc-\u00be\u2150-\u215e]", _vulgar, text)
    text = unicodedata.normalize("NFKC", text).lower()
    text = text.replace("⁄", "/")  # "½" becomes "1⁄2" under NFKC
    text = re.sub(r"['’`´]", "", text)  # Madurese "tello'", "pa'ebu", "sa'iket"
    text = text.replace("±", " ").replace("+-", " ").replace("+/-", " ")
    text = re.sub(r"\bs\s*/\s*d\b|\bs\.d\.?", " sampai ", text)
    text = re.sub(r"(\d)\s+(?=\d{3}\b)", r"\1", text)  # "25 000" -> "25000"
    return text


def _tokens(text: str) -> list[_Token]:
    out: list[_Token] = []
    for m in _TOKEN_RE.finditer(_normalize(text)):
        if m["frac"]:
            a, b = (int(x) for x in m["frac"].replace(" ", "").split("/"))
            out.append(_Num(a / b if b else float("nan"), fraction=True))
        elif m["num"]:
            out.append(_read_number(m["num"]))
        elif m["word"]:
            out.append(_Word(m["word"]))
        else:
            out.append(_Sym(m["sym"]))
    return out


# --- the number lexicon -------------------------------------------------------------------
# Indonesian, Javanese (ngoko, some krama) and Madurese. Madurese forms follow Davies,
# "A Grammar of Madurese" (2010) and Omniglot's Madurese numbers (apostrophes dropped).

# Words that are a number on their own.
_UNITS: dict[str, int] = {
    # Indonesian
    "nol": 0,
    "satu": 1,
    "dua": 2,
    "tiga": 3,
    "empat": 4,
    "lima": 5,
    "enam": 6,
    "tujuh": 7,
    "delapan": 8,
    "sembilan": 9,
    "sepuluh": 10,
    # Javanese ngoko
    "siji": 1,
    "loro": 2,
    "telu": 3,
    "papat": 4,
    "limo": 5,
    "enem": 6,
    "nem": 6,
    "pitu": 7,
    "wolu": 8,
    "songo": 9,
    "sanga": 9,
    "sewelas": 11,
    "suwelas": 11,
    "rolas": 12,
    "telulas": 13,
    "patbelas": 14,
    "limolas": 15,
    "limalas": 15,
    "nembelas": 16,
    "pitulas": 17,
    "wolulas": 18,
    "songolas": 19,
    "sangalas": 19,
    "selikur": 21,
    "rolikur": 22,
    "telulikur": 23,
    "patlikur": 24,
    "selawe": 25,
    "nemlikur": 26,
    "pitulikur": 27,
    "wolulikur": 28,
    "songolikur": 29,
    "sangalikur": 29,
    "seket": 50,
    "sewidak": 60,
    "suwidak": 60,
    # Javanese krama
    "setunggal": 1,
    "sekawan": 4,
    "gangsal": 5,
    "sedasa": 10,
    "selangkung": 25,
    # Madurese
    "settong": 1,
    "dhuwa": 2,
    "duwa": 2,
    "dhua": 2,
    "tello": 3,
    "empa": 4,
    "lema": 5,
    "ennem": 6,
    "petto": 7,
    "ballu": 8,
    "sapolo": 10,
    "sabellas": 11,
    "dhubellas": 12,
    "dhupolo": 20,
    "salekor": 21,
    "dhulekor": 22,
    "sagame": 25,
    "saiket": 50,
    "sabidak": 60,
}
# Linking forms: a number only right before a multiplier ("rong atus", "telung ewu").
_LINKS: dict[str, int] = {
    "rong": 2,
    "telung": 3,
    "tigang": 3,
    "patang": 4,
    "petang": 4,
    "limang": 5,
    "pitung": 7,
    "wolung": 8,
    "sangang": 9,
    "pettong": 7,
    "ballung": 8,
    "sanggang": 9,
}
# Linking forms that are also ordinary words ("sak" a sack, "pa" sir, "kalih" with):
# a number before a multiplier, otherwise just a word.
_SOFT_LINKS: dict[str, int] = {"se": 1, "sak": 1, "sa": 1, "dhu": 2, "du": 2, "pa": 4, "kalih": 2}
_TENS = {"puluh", "polo", "dasa"}  # "kalih dasa" (krama) is 20
_TEENS = {"belas", "welas", "bellas"}
_TWEENS = {"likur", "lekor"}
_HUNDREDS = {"ratus", "atus", "ratos", "atos"}
_QUARTERS = {"prapat", "perempat"}  # "seprapat" 1/4, "telung prapat" 3/4
_HALVES = {"setengah", "separo", "separoh", "separuh"}
_TENGAH = "tengah"  # only in "sak tengah", "se tengah"
# Whole words that "se"/"sa"/"sak" can stand before: "seratus", "sewu", "saebu", "sekilo".
_PREFIXABLE_GROUPS = _TENS | _TEENS | _TWEENS | _HUNDREDS | _QUARTERS | {_TENGAH}
_WHOLE_BIG_WORDS = {
    "ribu",
    "rebu",
    "ewu",
    "ebu",
    "juta",
    "yuta",
    "yuto",
    "miliar",
    "milyar",
    "kilo",
    "kilogram",
    "gram",
    "ons",
    "lusin",
    "kodi",
    "gros",
    "rim",
}
# Irregular one-word forms: satus = s-atus, sewu = s-ewu.
_CONTRACTED = {"satus": ("sa", "atus"), "sewu": ("se", "ewu"), "saebuh": ("sa", "ebu")}

_PRICE_BIGS: dict[str, float] = {
    "ribu": 1_000,
    "rb": 1_000,
    "rbu": 1_000,
    "rebu": 1_000,
    "rib": 1_000,
    "k": 1_000,
    "ewu": 1_000,
    "ebu": 1_000,
    "juta": 1_000_000,
    "jt": 1_000_000,
    "jta": 1_000_000,
    "jeti": 1_000_000,
    "yuta": 1_000_000,
    "yuto": 1_000_000,
    "miliar": 1_000_000_000,
    "milyar": 1_000_000_000,
}
_PACKING: dict[str, float] = {
    "lusin": 12,
    "losin": 12,
    "lsn": 12,
    "kodi": 20,
    "kdi": 20,
    "gros": 144,
    "gross": 144,
    "rim": 500,
}
_QUANTITY_BIGS: dict[str, float] = {
    "ribu": 1_000,
    "rb": 1_000,
    "rbu": 1_000,
    "rebu": 1_000,
    "ewu": 1_000,
    "ebu": 1_000,
    **_PACKING,
}
_WEIGHT_UNITS: dict[str, float] = {
    "g": 1.0,
    "gr": 1.0,
    "grm": 1.0,
    "gm": 1.0,
    "gram": 1.0,
    "grams": 1.0,
    "gramm": 1.0,
    "kg": 1000.0,
    "kgs": 1000.0,
    "kilo": 1000.0,
    "kilogram": 1000.0,
    "kilograms": 1000.0,
    "kilogr": 1000.0,
    "klo": 1000.0,
    "ons": 100.0,
    "on": 100.0,
    "ton": 1_000_000.0,
    "mg": 0.001,
}
_WEIGHT_BIGS: dict[str, float] = {
    "ribu": 1_000,
    "rebu": 1_000,
    "ewu": 1_000,
    "ebu": 1_000,
    **_WEIGHT_UNITS,
}
_NOT_WEIGHT = {"ml", "liter", "l", "lt", "ltr", "cc", "cm", "m", "meter", "mm"}

# Count and packing words, as owners spell them -> one normalized name.
_COUNT_WORDS: dict[str, str] = {
    "pcs": "pcs",
    "pc": "pcs",
    "pcz": "pcs",
    "psc": "pcs",
    "pics": "pcs",
    "piece": "pcs",
    "pieces": "pcs",
    "buah": "buah",
    "bh": "buah",
    "biji": "biji",
    "bji": "biji",
    "bj": "biji",
    "bungkus": "bungkus",
    "bks": "bungkus",
    "bngks": "bungkus",
    "bgks": "bungkus",
    "bungkusan": "bungkus",
    "pak": "pak",
    "pack": "pak",
    "packs": "pak",
    "pck": "pak",
    "pax": "pak",
    "paket": "paket",
    "dus": "dus",
    "dos": "dus",
    "doos": "dus",
    "kardus": "dus",
    "karton": "dus",
    "box": "box",
    "boks": "box",
    "kotak": "kotak",
    "botol": "botol",
    "btl": "botol",
    "sachet": "sachet",
    "sachets": "sachet",
    "saset": "sachet",
    "sct": "sachet",
    "toples": "toples",
    "stoples": "toples",
    "porsi": "porsi",
    "lembar": "lembar",
    "lbr": "lembar",
    "lmbr": "lembar",
    "helai": "lembar",
    "lusin": "lusin",
    "losin": "lusin",
    "lsn": "lusin",
    "kodi": "kodi",
    "kdi": "kodi",
    "gros": "gros",
    "gross": "gros",
    "rim": "rim",
    "butir": "butir",
    "btr": "butir",
    "ekor": "ekor",
    "potong": "potong",
    "ptg": "potong",
    "batang": "batang",
    "btg": "batang",
    "ikat": "ikat",
    "iket": "ikat",
    "renteng": "renteng",
    "slop": "slop",
    "bal": "bal",
    "karung": "karung",
    "sak": "sak",
    "kaleng": "kaleng",
    "klg": "kaleng",
    "cup": "cup",
    "gelas": "gelas",
    "mangkok": "mangkok",
    "mangkuk": "mangkok",
    "piring": "piring",
    "tusuk": "tusuk",
    "unit": "unit",
    "set": "set",
    "pasang": "pasang",
    "psg": "pasang",
    "roll": "roll",
    "rol": "roll",
    "gulung": "gulung",
    "tray": "tray",
    "kemasan": "kemasan",
    "pouch": "pouch",
    "item": "item",
}
# Count words that read as one of them with "se": "sebungkus", "sebiji", "selembar".
# Not "sepak" (a kick), "sebal" (annoyed), "seset", "sesak" (cramped).
_SE_COUNTS = {
    "bungkus",
    "biji",
    "buah",
    "botol",
    "lembar",
    "kotak",
    "dus",
    "porsi",
    "ikat",
    "pasang",
    "potong",
    "butir",
    "ekor",
    "toples",
    "kaleng",
    "gelas",
    "renteng",
    "karung",
    "batang",
    "piring",
    "mangkok",
    "lusin",
    "kodi",
}
_SLANG_AMOUNTS = {
    "cepek": 100,
    "gopek": 500,
    "seceng": 1_000,
    "goceng": 5_000,
    "ceban": 10_000,
    "goban": 50_000,
    "cepek ceng": 100_000,
    "cetiao": 1_000_000,
}


# --- items: tokens classified for one parser ----------------------------------------------


class _K(Enum):
    NUM = auto()  # digits
    UNIT = auto()  # a number word: "lima", "selawe"
    LINK = auto()  # "rong", "telung": needs a multiplier next
    SOFT = auto()  # "se", "sak", "pa": a number only before a multiplier
    TENS = auto()
    TEENS = auto()
    TWEENS = auto()
    HUNDREDS = auto()
    QUARTER = auto()
    TENGAH = auto()
    HALF = auto()  # "setengah": 0.5
    BIG = auto()  # closes an amount: ribu, juta, kg, lusin
    COUNT = auto()  # pcs, bungkus, dus
    WORD = auto()
    SYM = auto()


_MULTIPLYING = {_K.TENS, _K.TEENS, _K.TWEENS, _K.HUNDREDS, _K.QUARTER, _K.TENGAH, _K.BIG}
_NUMERIC = {_K.NUM, _K.UNIT, _K.LINK, _K.SOFT, _K.HALF}


@dataclass(frozen=True)
class _Item:
    kind: _K
    value: float = 0.0
    text: str = ""
    alt: float | None = None
    fraction: bool = False
    mass: bool = False  # a BIG that is a mass unit


@dataclass(frozen=True, eq=False)  # hashed by identity: one per parser
class _Lexicon:
    bigs: dict[str, float]
    counts: frozenset[str]  # count words this parser reads as counts (not multipliers)
    mass: frozenset[str] = frozenset()


# In a price a count or a measure only says what the price is for ("25rb/pcs"); a number
# before one is a second amount ("25rb 3 pcs", "25rb 2 kg") and makes the price unsure.
_PRICE = _Lexicon(
    _PRICE_BIGS, frozenset(set(_COUNT_WORDS) | set(_WEIGHT_UNITS) | _NOT_WEIGHT) - {"m"}
)
_QUANTITY = _Lexicon(_QUANTITY_BIGS, frozenset(set(_COUNT_WORDS) - set(_PACKING)))
_WEIGHT = _Lexicon(_WEIGHT_BIGS, frozenset(_COUNT_WORDS), frozenset(_WEIGHT_UNITS))


def _big(word: str, lex: _Lexicon) -> _Item | None:
    for suffix in ("", "an", "nan"):  # "ribuan", "rbuan", "jtan", "1kgan": about so many
        stem = word[: len(word) - len(suffix)] if suffix else word
        if word.endswith(suffix) and stem in lex.bigs:
            return _Item(_K.BIG, lex.bigs[stem], word, mass=stem in lex.mass)
    return None


def _simple(word: str, lex: _Lexicon) -> _Item | None:
    """One lexicon word, without splitting it."""
    if word in lex.bigs:
        return _Item(_K.BIG, lex.bigs[word], word, mass=word in lex.mass)
    if word in _UNITS:
        return _Item(_K.UNIT, _UNITS[word], word)
    if word in _HALVES:
        return _Item(_K.HALF, 0.5, word)
    if word in _LINKS:
        return _Item(_K.LINK, _LINKS[word], word)
    if word in _SOFT_LINKS:
        return _Item(_K.SOFT, _SOFT_LINKS[word], word)
    for table, kind in (
        (_TENS, _K.TENS),
        (_TEENS, _K.TEENS),
        (_TWEENS, _K.TWEENS),
        (_HUNDREDS, _K.HUNDREDS),
        (_QUARTERS, _K.QUARTER),
    ):
        if word in table:
            return _Item(kind, 0, word)
    if word == _TENGAH:
        return _Item(_K.TENGAH, 0, word)
    if word in lex.counts:
        return _Item(_K.COUNT, 0, _COUNT_WORDS.get(word, word))
    return _big(word, lex)


def _is_multiplier(item: _Item) -> bool:
    return item.kind in _MULTIPLYING


@cache
def _pieces(lex: _Lexicon) -> frozenset[str]:
    words = set(_UNITS) | set(_LINKS) | set(_SOFT_LINKS) | _HALVES | _PREFIXABLE_GROUPS
    counts = set(lex.counts)  # only as the last piece: "dualusin", "limabungkus"
    return frozenset(words | (set(lex.bigs) & _WHOLE_BIG_WORDS) | counts)


def _split(word: str, pieces: frozenset[str]) -> tuple[str, ...] | None:
    """`word` as the fewest lexicon pieces, or None."""

    @cache
    def split(start: int) -> tuple[str, ...] | None:
        if start == len(word):
            return ()
        best: tuple[str, ...] | None = None
        for end in range(len(word), start + 1, -1):
            rest = split(end) if word[start:end] in pieces else None
            if rest is not None and (best is None or len(rest) + 1 < len(best)):
                best = (word[start:end], *rest)
        return best

    return split(0)


def _joined_number(items: list[_Item]) -> bool:
    """Whether pieces make a number: each number piece before a multiplier (or a count
    word at the end), and a unit only closing it ("duapuluhlima")."""
    if any(i.kind is _K.COUNT for i in items[:-1]):
        return False
    if not any(_is_multiplier(i) or i.kind is _K.COUNT for i in items):
        return False
    for n, here in enumerate(items):
        after = items[n + 1] if n + 1 < len(items) else None
        if here.kind not in (_K.UNIT, _K.LINK, _K.SOFT, _K.HALF):
            continue
        if after is not None and (_is_multiplier(after) or after.kind is _K.COUNT):
            continue
        if not (after is None and here.kind is _K.UNIT and len(items) > 2):
            return False
    return True


def _segment(word: str, lex: _Lexicon) -> list[_Item] | None:
    """Split a joined number: "duapuluh", "rongewu", "limangatus", "paebu", "dualusin"."""
    parts = _split(word, _pieces(lex))
    if not parts or len(parts) < 2:
        return None
    items = [_simple(p, lex) for p in parts]
    found = [i for i in items if i is not None]
    if len(found) < len(items):
        return None
    if found[-1].kind is _K.SOFT and found[-1].text in lex.counts:  # "limasak": 5 sacks
        found[-1] = _Item(_K.COUNT, 0, _COUNT_WORDS[found[-1].text])
    return found if _joined_number(found) else None


def _classify(word: str, lex: _Lexicon) -> list[_Item]:
    item = _simple(word, lex)
    if item is not None:
        return [item]
    if word in _CONTRACTED:
        prefix, rest = _CONTRACTED[word]
        tail = _simple(rest, lex)
        if tail is not None:
            return [_Item(_K.SOFT, 1, prefix), tail]
    for prefix in ("sak", "se", "sa"):
        rest = word[len(prefix) :]
        if not word.startswith(prefix) or not rest:
            continue
        allowed = rest in _PREFIXABLE_GROUPS or rest in (set(lex.bigs) & _WHOLE_BIG_WORDS)
        if allowed or (rest in _SE_COUNTS and rest in lex.counts):
            tail = _simple(rest, lex)
            if tail is not None:
                return [_Item(_K.SOFT, 1, prefix), tail]
    if word.startswith("per") and word[3:] in lex.counts:  # "perpcs", "perbungkus"
        return [_Item(_K.WORD, 0, "per"), _Item(_K.COUNT, 0, _COUNT_WORDS[word[3:]])]
    return _segment(word, lex) or [_Item(_K.WORD, 0, word)]


def _items(tokens: list[_Token], lex: _Lexicon) -> list[_Item]:
    items: list[_Item] = []
    for tok in tokens:
        if isinstance(tok, _Num):
            items.append(_Item(_K.NUM, tok.value, alt=tok.decimal_alt, fraction=tok.fraction))
        elif isinstance(tok, _Word):
            items.extend(_classify(tok.text, lex))
        else:
            items.append(_Item(_K.SYM, 0, tok.text))
    out: list[_Item] = []
    for i, item in enumerate(items):
        if not _about(out, item):
            out.append(_soft(item, items[i + 1] if i + 1 < len(items) else None, lex))
    return out


def _about(out: list[_Item], item: _Item) -> bool:
    """Drop '-an' after a number ("500an gr", "25rb-an": about so much); True if dropped."""
    if item.kind is not _K.WORD or item.text != "an" or not out:
        return False
    dash = out[-1].kind is _K.SYM and out[-1].text == "-" and len(out) > 1
    if (out[-2] if dash else out[-1]).kind not in (_K.NUM, _K.BIG):
        return False
    if dash:
        out.pop()
    return True


def _soft(item: _Item, nxt: _Item | None, lex: _Lexicon) -> _Item:
    """A soft linking form is a number only before a multiplier: "sak kilo" but "2 sak"."""
    if item.kind is not _K.SOFT:
        return item
    if nxt is not None and (_is_multiplier(nxt) or (nxt.kind is _K.COUNT and bool(lex.counts))):
        return item
    if item.text in lex.counts:  # "2 sak": sacks
        return _Item(_K.COUNT, 0, _COUNT_WORDS[item.text])
    return _Item(_K.WORD, 0, item.text)


# --- reading an amount ----------------------------------------------------------------------


def _fits(high: float, low: float) -> bool:
    """Whether `low` fills the empty places of `high`: 100 + 25, 20 + 5, 50 + 2."""
    if high == 0:
        return True
    if high != int(high):
        return False
    place = 1
    while int(high) % (place * 10) == 0:
        place *= 10
    return low < place


@dataclass
class _Reading:
    value: float
    mass: bool = False
    counts: list[float | None] = field(default_factory=list)


class _Reader:
    """Adds up one amount: 'dua juta 500 ribu', '1,5jt', 'rong atus seket ewu', '1 kg 200'.

    Fails (the parser returns None) on anything it cannot be sure of: two amounts, a
    multiplier with no number before it, a linking form with no multiplier after it.
    """

    def __init__(self, weight: bool = False, price: bool = False) -> None:
        self.weight = weight
        self.price = price
        self.total = 0.0
        self.chunk = 0.0  # below the current big multiplier: "rong atus seket" -> 250
        self.small: float | None = None  # the last number, not yet multiplied or added
        self.small_words = False  # it was said in words ("seket", then "loro": 52)
        self.small_alt: float | None = None
        self.small_fraction = False
        self.linked = False  # it was a linking form ("rong", "se"): a multiplier must follow
        self.frac = 0.0
        self.last_big = math.inf
        self.prev = False  # the previous item was part of the number
        self.interrupted = False  # a word came after part of an amount
        self.numeric = False
        self.failed = False
        self.mass = False
        self.counts: list[float | None] = []

    def _has_value(self) -> bool:
        return bool(self.total or self.chunk or self.small is not None or self.frac)

    def _pause(self) -> None:
        if self._has_value():
            self.interrupted = True
        self.prev = False

    def _base(self) -> float | None:
        if self.small is not None and self.prev:
            base, self.small, self.linked = self.small, None, False
            return base
        return None

    def _clear_small(self) -> None:
        self.small, self.small_alt, self.linked = None, None, False
        self.small_words = self.small_fraction = False

    def step(self, item: _Item) -> None:
        kind = item.kind
        if self.linked and kind not in _MULTIPLYING and kind is not _K.COUNT:
            self.failed = True  # "rong" with no multiplier after it
        elif kind in (_K.NUM, _K.UNIT):
            self._number(item)
        elif kind in (_K.LINK, _K.SOFT):
            self._link(item)
        elif kind is _K.HALF:
            if self.interrupted or self.frac:
                self.failed = True
            self.frac, self.prev, self.numeric = 0.5, True, True
        elif kind in (_K.TENS, _K.TEENS, _K.TWEENS, _K.HUNDREDS, _K.QUARTER, _K.TENGAH):
            self._group(item)
        elif kind is _K.BIG:
            self._big(item)
        elif kind is _K.COUNT and self.weight:
            self._count()
        elif kind is _K.COUNT and self.price and self.prev:
            self.failed = True  # "25rb 3 pcs": the price of three, or of one?
        else:  # a word, a symbol, or a count word after a quantity ("telung bungkus": 3)
            self.linked = False
            self._pause()

    def _link(self, item: _Item) -> None:
        if self.interrupted:
            self.failed = True
        elif self.small is not None:  # "sewidak rong ewu": 62 thousand
            if not (self.small_words and self.prev and _fits(self.small, item.value)):
                self.failed = True
            self.small += item.value
        else:
            self.small = item.value
        self.small_words, self.linked = True, True
        self.small_alt, self.small_fraction = None, False
        self.prev = self.numeric = True

    def _number(self, item: _Item) -> None:
        value = item.value
        if self.interrupted or not math.isfinite(value):  # NaN: digits we cannot read
            self.failed = True
            return
        if self.small is not None:
            if (
                item.kind is _K.NUM
                and item.fraction
                and not self.small_fraction
                and self.small == int(self.small)
                and value < 1
                and self.prev
            ):
                self.small += value  # "1 1/2"
                self.small_fraction = True
            elif item.kind is _K.UNIT and self.small_words and self.prev:
                if not _fits(self.small, value):
                    self.failed = True
                self.small += value  # "seket loro" 52
            else:
                self.failed = True  # two amounts side by side: "25000 30000"
        elif self.frac:
            self.failed = True
        else:
            self.small = value
            self.small_words = item.kind is _K.UNIT
            self.small_alt = item.alt
            self.small_fraction = item.fraction
        self.prev = self.numeric = True

    def _group(self, item: _Item) -> None:
        """puluh, belas, likur, atus, prapat, tengah: they multiply the number before."""
        kind = item.kind
        linked_one = self.linked and self.small == 1
        base = self._base()
        if base is None or self.frac:
            self.failed = True
        elif kind in (_K.TENS, _K.TEENS, _K.TWEENS):
            if base != int(base) or not 1 <= base <= 9 or self.chunk % 100:
                self.failed = True
            offset = {_K.TENS: 0.0, _K.TEENS: 10.0, _K.TWEENS: 20.0}[kind]
            self.chunk += base * 10 if kind is _K.TENS else offset + base
        elif kind is _K.HUNDREDS:
            if not 0 < base < 100 or self.chunk:
                self.failed = True
            self.chunk = base * 100
        elif kind is _K.QUARTER:
            if base not in (1, 2, 3):
                self.failed = True
            self.frac = base / 4
        else:  # tengah: only "sak tengah", "se tengah"
            if not linked_one:
                self.failed = True
            self.frac = 0.5
        self.prev = True

    def _pending(self) -> float | None:
        if self.small is not None and not _fits(self.chunk, self.small):
            return None
        return self.chunk + (self.small or 0) + self.frac

    def _big(self, item: _Item) -> None:
        factor = item.value
        amount: float | None = None  # "ribu" with no number before it, or a word in between
        if self.prev and (self.small is not None or self.chunk or self.frac):
            amount = self._pending()
            plain = self.small is not None and not self.chunk and not self.frac
            if (
                self.weight
                and plain
                and self.small_alt is not None
                and factor >= 1000
                and (amount or 0) * factor > 500_000
            ):
                amount = self.small_alt  # "1.250 kg" means 1,25 kg here, not 1,250 kg
        if amount is None or factor >= self.last_big:
            self.failed = True  # no number before it, or "500 ribu 1 juta"
            return
        if self.total and amount * factor >= self.last_big:
            self.failed = True  # "1 kg = 1000 gr", "1 juta 1500 ribu": not one amount
            return
        self.total += amount * factor
        self.chunk, self.frac = 0.0, 0.0
        self._clear_small()
        self.last_big = factor
        self.mass = self.mass or item.mass
        self.prev = False

    def _count(self) -> None:
        """Weight: a count word takes the number before it ("1 pcs 250 gram")."""
        number: float | None = None
        if self.prev and (self.small is not None or self.chunk or self.frac):
            number = self._pending() or math.nan
            self.chunk, self.frac = 0.0, 0.0
            self._clear_small()
        self.counts.append(number)
        self._pause()

    def finish(self) -> _Reading | None:
        if self.failed or self.linked or not self.numeric:
            return None
        rest = self._pending()
        if rest is None:
            return None
        if self.frac and not self.chunk and self.small is None and math.isfinite(self.last_big):
            rest = self.frac * self.last_big  # "sekilo setengah", "sejuta setengah"
        elif self.total and rest >= self.last_big:
            return None  # "sewu 1500"
        return _Reading(self.total + rest, self.mass, self.counts)


def _read(items: list[_Item], weight: bool = False, price: bool = False) -> _Reading | None:
    reader = _Reader(weight, price)
    for item in items:
        reader.step(item)
        if reader.failed:
            return None
    return reader.finish()


_RANGE_WORDS = {"sampai", "hingga", "atau", "sd", "ke", "or", "to", "smp", "sampe"}
_NEGATIVE_WORDS = {"minus", "negatif", "min"}


def _is_range_or_negative(tokens: list[_Token]) -> bool:
    numbers = [i for i, tok in enumerate(tokens) if isinstance(tok, _Num)]
    for i, tok in enumerate(tokens):
        is_dash = isinstance(tok, _Sym) and tok.text in "-–—~"
        is_range_word = isinstance(tok, _Word) and tok.text in _RANGE_WORDS
        if is_dash and numbers and i < numbers[0]:
            return True  # "-5000"
        if isinstance(tok, _Word) and tok.text in _NEGATIVE_WORDS:
            return True
        between = any(n < i for n in numbers) and any(n > i for n in numbers)
        if (is_dash or is_range_word) and between:
            return True
    return False


def _prepared(text: str, slang: bool = True) -> list[_Token] | None:
    lowered = " ".join(_normalize(text).split())
    if slang:
        for word, value in sorted(_SLANG_AMOUNTS.items(), key=lambda kv: -len(kv[0])):
            lowered = re.sub(rf"\b{word}\b", str(value), lowered)
    tokens = _tokens(lowered)
    return None if _is_range_or_negative(tokens) else tokens


def _positive_int(value: float | None) -> int | None:
    if value is None or not math.isfinite(value) or value <= 0:
        return None
    rounded = round(value)
    if rounded <= 0 or abs(value - rounded) > 1e-6:
        return None
    return int(rounded)


# --- public parsers ------------------------------------------------------------------------


def _per_one(items: list[_Item]) -> list[_Item]:
    """Drop 'one of' before a unit in a price: '25rb sekilo', '1 pcs 10rb', '25rb / 1 kg'."""
    out: list[_Item] = []
    for item in items:
        one = out and out[-1].kind in (_K.NUM, _K.UNIT, _K.SOFT) and out[-1].value == 1
        if item.kind is _K.COUNT and one and not out[-1].fraction:
            out.pop()
        out.append(item)
    return out


_UNSURE_PRICE = {"m"}  # "25m": juta to some, miliar to others


def parse_price(text: str) -> int | None:
    """Rupiah from '25.000', 'Rp 25.000,-', '25rb', '1,5jt', 'lima ribu', 'rong atus ewu'."""
    if not text:
        return None
    cleaned = re.sub(r"[,.]\s*-+", " ", text.lower())  # "25.000,-" and "25.000.-"
    cleaned = re.sub(r"\b(rp|idr)\.?", " ", cleaned)
    tokens = _prepared(cleaned)
    if tokens is None or any(isinstance(t, _Word) and t.text in _UNSURE_PRICE for t in tokens):
        return None
    reading = _read(_per_one(_items(tokens, _PRICE)), price=True)
    return _positive_int(reading.value if reading else None)


_CONTAINS = {"isi", "isinya", "berisi"}


def _quantity(items: list[_Item]) -> float | None:
    numeric = [i for i in items if i.kind in _NUMERIC]
    bigs = [i for i in items if i.kind is _K.BIG]
    if not numeric and len(bigs) == 1 and bigs[0].text in _PACKING:
        return bigs[0].value  # "gros", "lusin" on its own: one of it
    reading = _read(items)
    return reading.value if reading else None


def parse_quantity(text: str) -> int | None:
    """A count from '10', '10 pcs', '1 lusin', '2lsn', 'selusin', '2 dus isi 12', 'sepuluh'."""
    if not text:
        return None
    tokens = _prepared(text)
    if tokens is None:
        return None
    items = _items(tokens, _QUANTITY)
    inside = [n for n, i in enumerate(items) if i.kind is _K.WORD and i.text in _CONTAINS]
    if not inside:
        return _positive_int(_quantity(items))
    if len(inside) > 1:
        return None
    # "2 dus isi 12": packs times what each holds; "isi 12": 12.
    packs, each = items[: inside[0]], items[inside[0] + 1 :]
    per_pack = _quantity(each)
    if per_pack is None:
        return None
    if not any(i.kind in _NUMERIC for i in packs):
        return _positive_int(per_pack)
    if not any(i.kind is _K.COUNT for i in packs):
        return None  # "2 isi 12": two of what?
    pack_count = _quantity(packs)
    return _positive_int(pack_count * per_pack if pack_count is not None else None)


def _weight_items(text: str) -> list[_Item] | None:
    tokens = _prepared(text, slang=False)
    if tokens is None:
        return None
    return _items(tokens, _WEIGHT)


def parse_weight_grams(text: str) -> int | None:
    """Grams from '500', '500 gr', '1,5 kg', '2 ons', 'setengah kilo', 'seprapat kilo',
    '750 gr/pcs'. A count with no mass ('1 lusin', '2 bungkus') is None: see count_unit."""
    if not text:
        return None
    text = re.sub(r"(?<![\w.,])[.,](?=\d)", "0.", text)  # ".5 kg" is 0,5 kg, never 5 kg
    items = _weight_items(text)
    if items is None:
        return None
    if any(i.kind is _K.WORD and i.text in _NOT_WEIGHT for i in items):
        return None
    reading = _read(items, weight=True)
    if reading is None:
        return None
    if not reading.mass:
        counted = reading.counts or any(i.kind is _K.COUNT for i in items)
        if counted or any(i.kind is _K.WORD and i.text in _CONTAINS for i in items):
            return None  # a count, not a mass: "1 lusin", "dus isi 12"
    if any(n is not None and n != 1 for n in reading.counts):
        return None  # "2 pcs 250 gram": each, or both together?
    return _positive_int(reading.value)


def names_a_mass(text: str) -> bool:
    """ "250 gr", "1 kg", "setengah kilo": a unit of mass is said (a weight, never a count)."""
    items = _weight_items(text) if text else None
    return any(i.kind is _K.BIG and i.mass for i in items or ())


def count_unit(text: str) -> str | None:
    """The count or packing word of an answer that has no mass unit, normalized
    ('2lsn' -> 'lusin', '3 bks' -> 'bungkus'); None when there is none or a mass is given."""
    if not text:
        return None
    tokens = _tokens(" ".join(_normalize(text).split()))
    items = _items(tokens, _WEIGHT)
    if any(i.kind is _K.BIG and i.mass for i in items):
        return None
    return next((i.text for i in items if i.kind is _K.COUNT), None)


def _phone_candidates(text: str) -> Iterator[str]:
    for chunk in re.findall(r"\+?\(?\d[\d\s\-().]{5,}\d", text):
        digits = re.sub(r"\D", "", chunk)
        plus = chunk.strip().startswith("+")
        if plus or (digits.startswith("62") and len(digits) >= 10):
            if digits.startswith("620"):
                digits = "62" + digits[3:]
            yield "+" + digits
        elif digits.startswith("0"):
            yield digits
        elif digits.startswith("8"):
            yield "0" + digits


def parse_phone(text: str) -> str | None:
    """An Indonesian phone number in E.164 ('+6281234567890'), or None."""
    if not text:
        return None
    for candidate in _phone_candidates(text):
        try:
            number = phonenumbers.parse(candidate, "ID")
        except phonenumbers.NumberParseException:
            continue
        if number.country_code != 62:
            continue
        national = str(number.national_number)
        looks_mobile = national.startswith("8") and 9 <= len(national) <= 12
        if phonenumbers.is_valid_number(number) or looks_mobile:
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return None


_MOBILE_TYPES = (
    phonenumbers.PhoneNumberType.MOBILE,
    phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
)


def is_mobile(e164: str) -> bool:
    """Whether a number `parse_phone` gave can have WhatsApp: a mobile one (08xx), not a
    landline ('0341 123456', Malang's area code)."""
    try:
        number = phonenumbers.parse(e164, "ID")
    except phonenumbers.NumberParseException:
        return False
    if phonenumbers.is_valid_number(number):
        return phonenumbers.number_type(number) in _MOBILE_TYPES
    return str(number.national_number).startswith("8")  # parse_phone's "looks mobile"


_YES_EMOJI = ("👍", "👌", "✅", "✔", "🆗", "🙆")
_NO_EMOJI = ("👎", "❌", "🙅", "✖", "⛔")
_NOT_REALLY = ("papa", "apa", "masalah", "salah")  # "gak papa", "tidak salah" mean yes
_DONT = ("jangan", "jgn", "ojo", "ojok")  # "jangan, salah pencet" is no, never "not wrong"


def _squeeze(word: str) -> str:
    """'iyaaa' -> 'iya', 'okeee' -> 'oke', 'gakkk' -> 'gak'."""
    yes, no = words("yes"), words("no")
    squeezed = re.sub(r"(.)\1{2,}", r"\1", word)
    if squeezed in yes or squeezed in no:
        return squeezed
    return re.sub(r"(.)\1+", r"\1", squeezed)


def parse_yes_no(text: str) -> bool | None:
    """True for 'ya', 'iya', 'oke', 'nggih', '👍'; False for 'tidak', 'gak', 'mboten'; else None.

    The words come from the lexicon (locales/<lang>/lexicon.toml).
    """
    if not text:
        return None
    yes, no = words("yes"), words("no")
    phrase = normalize(text)
    if phrase in yes or phrase in no:
        return phrase in yes
    raw = unicodedata.normalize("NFKC", text).strip().lower()
    emoji = _emoji_polarity(raw)
    said = [w for w in (_squeeze(w) for w in re.findall(r"[a-z']+", raw)) if w]
    if not said:
        return emoji
    if len(said) > 1 and said[0] in no and said[0] not in _DONT and said[1] in _NOT_REALLY:
        return True
    return _words_polarity(said, emoji)


def _emoji_polarity(raw: str) -> bool | None:
    """👍 or 👎 (one kind only); None for neither or both."""
    has_yes, has_no = any(e in raw for e in _YES_EMOJI), any(e in raw for e in _NO_EMOJI)
    return has_yes if has_yes != has_no else None


def _words_polarity(said: list[str], emoji: bool | None) -> bool | None:
    """Yes or no from the words in order, soft words aside; the emoji's when they say neither."""
    yes, no, softeners = words("yes"), words("no"), words("softener")
    polarity: bool | None = None
    for word in said:
        if word in no:
            return False if polarity is None else None  # "ya tidak": unsure
        if word in yes:
            polarity = True if polarity is None else polarity
        elif word not in softeners and polarity is None:
            return None  # a sentence that does not start with yes or no
    return emoji if polarity is None else polarity
