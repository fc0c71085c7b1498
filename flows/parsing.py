"""Read what owners type, the way they type it. Each parser returns None when unsure."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass

import phonenumbers

from flows.lexicon import normalize, words
from flows.regions import match_regency

__all__ = [
    "match_regency",
    "parse_phone",
    "parse_price",
    "parse_quantity",
    "parse_weight_grams",
    "parse_yes_no",
]

# --- tokens --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Num:
    value: float
    decimal_alt: float | None = None  # "1.250" read as 1.25 instead of 1250


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
    r"|(?P<sym>[-–—~+±])"
)


def _read_number(raw: str) -> _Num:
    """Read digits with Indonesian or English separators."""
    if "." in raw and "," in raw:
        decimal = "," if raw.rfind(",") > raw.rfind(".") else "."
        thousands = "." if decimal == "," else ","
        return _Num(float(raw.replace(thousands, "").replace(decimal, ".")))
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


def _normalize(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).lower()
    text = text.replace("±", " ").replace("+-", " ").replace("+/-", " ")
    text = re.sub(r"\bs\s*/\s*d\b|\bs\.d\.?", " sampai ", text)
    text = re.sub(r"(\d)\s+(?=\d{3}\b)", r"\1", text)  # "25 000" -> "25000"
    return text


def _tokens(text: str) -> list[_Token]:
    out: list[_Token] = []
    for m in _TOKEN_RE.finditer(_normalize(text)):
        if m["frac"]:
            a, b = (int(x) for x in m["frac"].replace(" ", "").split("/"))
            out.append(_Num(a / b if b else float("nan")))
        elif m["num"]:
            out.append(_read_number(m["num"]))
        elif m["word"]:
            out.append(_Word(m["word"]))
        else:
            out.append(_Sym(m["sym"]))
    return out


# --- number words and multipliers -------------------------------------------------------

_DIGIT_WORDS = {
    "nol": 0,
    "kosong": 0,
    "satu": 1,
    "siji": 1,
    "dua": 2,
    "loro": 2,
    "tiga": 3,
    "telu": 3,
    "empat": 4,
    "papat": 4,
    "lima": 5,
    "limo": 5,
    "enam": 6,
    "enem": 6,
    "tujuh": 7,
    "pitu": 7,
    "delapan": 8,
    "wolu": 8,
    "sembilan": 9,
    "songo": 9,
    "sepuluh": 10,
    "sebelas": 11,
    "selawe": 25,
    "seket": 50,
}
_FRACTION_WORDS = {"setengah": 0.5, "separuh": 0.5, "seperempat": 0.25, "tengah": 0.5}
# "se" + word means one of it: seratus, seribu, sejuta, selusin ...
_GROUP_MULTIPLIERS = {"belas": 10, "puluh": 10, "ratus": 100, "atus": 100}
_PRICE_MULTIPLIERS = {
    "ribu": 1_000,
    "rb": 1_000,
    "rbu": 1_000,
    "rebu": 1_000,
    "rib": 1_000,
    "k": 1_000,
    "ewu": 1_000,
    "juta": 1_000_000,
    "jt": 1_000_000,
    "jta": 1_000_000,
    "jeti": 1_000_000,
    "m": 1_000_000,
    "miliar": 1_000_000_000,
    "milyar": 1_000_000_000,
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
    "sewu": 1_000,
    "satus": 100,
}
_QUANTITY_MULTIPLIERS = {
    "ribu": 1_000,
    "rb": 1_000,
    "lusin": 12,
    "losin": 12,
    "kodi": 20,
    "gros": 144,
    "gross": 144,
    "rim": 500,
}


def _multiplier(word: str, table: dict[str, int]) -> int | None:
    if word in table:
        return table[word]
    for suffix in ("an", "nan"):  # "ribuan", "rbuan", "jtan": "about so many"
        if word.endswith(suffix) and word[: -len(suffix)] in table:
            return table[word[: -len(suffix)]]
    if word.startswith("se") and word[2:] in table:
        return table[word[2:]]
    return None


class _Accumulator:
    """Adds up a spoken or written amount: 'dua juta 500 ribu', '1,5jt', 'seratus lima puluh'."""

    def __init__(self, multipliers: dict[str, int]) -> None:
        self.multipliers = multipliers
        self.total = 0.0
        self.group = 0.0
        self.last: float | None = None
        self.fraction = 0.0
        self.seen_number = False
        self.ambiguous = False

    def number(self, value: float) -> None:
        if self.last is not None:
            self.ambiguous = True  # two amounts side by side: "25000 30000"
        self.last = value
        self.seen_number = True

    def word(self, word: str) -> bool:
        """Take a word; returns False when the word is not part of a number."""
        if word in _DIGIT_WORDS:
            value = _DIGIT_WORDS[word]
            if self.last is not None and value < 10 and self.last >= 10:
                self.last += value  # "25 ribu" after "seratus dua puluh" keeps adding
            else:
                self.number(value)
            return True
        if word in _FRACTION_WORDS:
            self.fraction += _FRACTION_WORDS[word]
            self.seen_number = True
            return True
        if word.startswith("se") and word[2:] in _GROUP_MULTIPLIERS:
            self.group += _GROUP_MULTIPLIERS[word[2:]]
            self.seen_number = True
            return True
        if word in _GROUP_MULTIPLIERS:
            base = self.last if self.last is not None else 1
            self.group += base + 10 if word == "belas" else base * _GROUP_MULTIPLIERS[word]
            self.last = None
            return True
        factor = _multiplier(word, self.multipliers)
        if factor is not None:
            amount = self.group + (self.last or 0) + self.fraction
            if amount == 0 and (word.startswith("se") or not self.seen_number):
                amount = 1 if word.startswith("se") else 0
            if amount == 0 and not word.startswith("se"):
                return True  # "ribuan" on its own says nothing
            self.total += amount * factor
            self.group, self.last, self.fraction = 0.0, None, 0.0
            self.seen_number = True
            return True
        return False

    def result(self) -> float | None:
        if self.ambiguous or not self.seen_number:
            return None
        return self.total + self.group + (self.last or 0) + self.fraction


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


def _amount(text: str, multipliers: dict[str, int]) -> float | None:
    lowered = " ".join(_normalize(text).split())
    for slang, value in sorted(_SLANG_AMOUNTS.items(), key=lambda kv: -len(kv[0])):
        lowered = re.sub(rf"\b{slang}\b", str(value), lowered)
    tokens = _tokens(lowered)
    if _is_range_or_negative(tokens):
        return None
    acc = _Accumulator(multipliers)
    for tok in tokens:
        if isinstance(tok, _Num):
            acc.number(tok.value)
        elif isinstance(tok, _Word):
            acc.word(tok.text)
    amount = acc.result()
    if amount is None or amount != amount:  # NaN from an unreadable number
        return None
    return amount


def _positive_int(value: float | None) -> int | None:
    if value is None or not 0 < value < 1e15:  # also infinity from 400 digits
        return None
    rounded = round(value)
    if abs(value - rounded) > 1e-6:
        return None
    return int(rounded)


# --- public parsers ------------------------------------------------------------------------


def parse_price(text: str) -> int | None:
    """Rupiah from '25.000', 'Rp 25.000,-', '25rb', '1,5jt', 'lima ribu'; None if unsure."""
    if not text:
        return None
    cleaned = re.sub(r"[,.]\s*-+", " ", text.lower())  # "25.000,-" and "25.000.-"
    cleaned = re.sub(r"\b(rp|idr)\.?", " ", cleaned)
    return _positive_int(_amount(cleaned, _PRICE_MULTIPLIERS))


def parse_quantity(text: str) -> int | None:
    """A count from '10', '10 pcs', '1 lusin', 'selusin', 'sepuluh'; None if unsure."""
    if not text:
        return None
    return _positive_int(_amount(text, _QUANTITY_MULTIPLIERS))


_WEIGHT_UNITS = {
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
_NOT_WEIGHT = {"ml", "liter", "l", "lt", "ltr", "cc", "cm", "m", "meter", "mm", "pcs", "buah"}


def _weight_unit(word: str) -> float | None:
    if word in _WEIGHT_UNITS:
        return _WEIGHT_UNITS[word]
    if word.endswith("an") and word[:-2] in _WEIGHT_UNITS:
        return _WEIGHT_UNITS[word[:-2]]
    if word.startswith("se") and word[2:] in _WEIGHT_UNITS:  # "sekilo", "seons"
        return _WEIGHT_UNITS[word[2:]]
    return None


def parse_weight_grams(text: str) -> int | None:
    """Grams from '500', '500 gr', '1,5 kg', '2 ons', 'setengah kilo', '1kg 200gr'."""
    if not text:
        return None
    tokens = _tokens(" ".join(_normalize(text).split()))
    if _is_range_or_negative(tokens):
        return None
    total = 0.0
    pending: list[_Num] = []
    words = _Accumulator({})
    saw_amount = False
    for tok in tokens:
        if isinstance(tok, _Num):
            pending.append(tok)
        elif isinstance(tok, _Word):
            unit = _weight_unit(tok.text)
            if unit is not None:
                amount = sum(n.value for n in pending)
                alt = pending[0].decimal_alt if len(pending) == 1 else None
                if alt is not None and unit >= 1000 and amount * unit > 500_000:
                    amount = alt  # "1.250 kg" means 1,25 kg here, not 1,250 kg
                spoken = words.result()
                if spoken is not None:
                    amount += spoken
                if not pending and spoken is None:
                    amount = 1.0 if tok.text.startswith("se") or unit >= 100 else 0.0
                total += amount * unit
                pending, words, saw_amount = [], _Accumulator({}), True
            elif tok.text in _NOT_WEIGHT:
                return None
            else:
                words.word(tok.text)
    if pending:  # a bare number is grams: "500", "1 kg 200"
        if len(pending) > 1 and not all(n.value >= 1 for n in pending):
            total += sum(n.value for n in pending)
        elif len(pending) > 1:
            return None
        else:
            total += pending[0].value
        saw_amount = True
    elif words.result() is not None and not saw_amount:
        total += words.result() or 0
        saw_amount = True
    if not saw_amount or total != total:
        return None
    return _positive_int(total)


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


_YES_EMOJI = ("👍", "👌", "✅", "✔", "🆗", "🙆")
_NO_EMOJI = ("👎", "❌", "🙅", "✖", "⛔")
_NOT_REALLY = ("papa", "apa", "masalah", "salah")  # "gak papa", "tidak salah" mean yes


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
    yes, no, softeners = words("yes"), words("no"), words("softener")
    phrase = normalize(text)
    if phrase in yes or phrase in no:
        return phrase in yes
    raw = unicodedata.normalize("NFKC", text).strip().lower()
    has_yes_emoji = any(e in raw for e in _YES_EMOJI)
    has_no_emoji = any(e in raw for e in _NO_EMOJI)
    said = [w for w in (_squeeze(w) for w in re.findall(r"[a-z']+", raw)) if w]
    if not said:
        return has_yes_emoji if has_yes_emoji != has_no_emoji else None
    if len(said) > 1 and said[0] in no and said[1] in _NOT_REALLY:
        return True
    polarity: bool | None = None
    for word in said:
        if word in no:
            return False if polarity is None else None  # "ya tidak": unsure
        if word in yes:
            polarity = True if polarity is None else polarity
        elif word not in softeners and polarity is None:
            return None  # a sentence that does not start with yes or no
    if polarity is None and has_yes_emoji != has_no_emoji:
        return has_yes_emoji
    return polarity


def count_unit(text: str) -> str | None:  # placeholder until the parsers branch lands
    return None
