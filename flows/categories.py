"""Product categories (categories.csv) and guessing one from a product or shop name.

Indonesian names put the product first and what it is made of or how after it: "keripik
tempe" is keripik, "sambel bawang" is sambel, "kaos sablon" is a kaos. So the guess rests on
the head of each name: the first known phrase or product word. Raw ingredients (ayam,
bawang, pisang) are only the head when nothing else names the product ("ayam kampung" is
livestock, "ayam geprek" is food), and a few craft words define the product wherever they
stand ("tas anyaman pandan" is a craft). Several products in one name ("keripik & kaos")
each have a head, which is why such a name gets no confident guess.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import Literal

from rapidfuzz import fuzz, process

from flows.messages import Text, t

# One label per code in categories.csv (a test checks they match).
LABELS: dict[str, Text] = {
    "makanan-minuman": t("category.makanan-minuman"),
    "fashion": t("category.fashion"),
    "kerajinan": t("category.kerajinan"),
    "kecantikan": t("category.kecantikan"),
    "kesehatan": t("category.kesehatan"),
    "rumah-tangga": t("category.rumah-tangga"),
    "pertanian": t("category.pertanian"),
    "peternakan-perikanan": t("category.peternakan-perikanan"),
    "elektronik": t("category.elektronik"),
    "otomotif": t("category.otomotif"),
    "bayi-anak": t("category.bayi-anak"),
    "olahraga-hobi": t("category.olahraga-hobi"),
    "buku-alat-tulis": t("category.buku-alat-tulis"),
    "lainnya": t("category.lainnya"),
}


def _wordset(words: str) -> frozenset[str]:
    return frozenset(words.split())


# Keywords (of categories.csv) that name a raw ingredient or material: the product itself
# when alone ("bawang merah"), what it is made of next to a product word ("sambel bawang").
INGREDIENTS = _wordset(
    """
    ayam bebek itik entok mentok puyuh telur telor kambing domba sapi kelinci susu daging
    ikan lele nila gurame bandeng udang kepiting rajungan cumi kerang kupang
    bawang brambang cabai cabe lombok tomat jagung singkong ketela telo pohong ubi kentang
    kedelai kacang jamur buah sayur sayuran durian mangga apel jeruk salak kelapa pisang nanas
    semangka melon alpukat manggis rambutan kelengkeng lengkeng pepaya
    kayu bambu kulit pandan kain jahe kunyit kunir kencur sereh serai anak bayi motor servis
    """
)

# Keywords that say what the product is wherever they stand: a bag woven of pandan is a craft.
DEFINING = _wordset("anyaman anyam rajut rajutan rotan mendong ukir ukiran")

# Words and marks between two products in one name.
_SEPARATORS = _wordset("dan serta atau plus & + , / ;")

# Contributions to a category's score: the head of a name, and the other words in it.
HEAD = 1.0
INGREDIENT_HEAD = 0.8
OTHER_PHRASE = 0.5
OTHER_WORD = 0.3
OTHER_INGREDIENT = 0.1
FUZZY = 0.7  # a misspelt word counts for less than a written one, times its similarity
FUZZY_MIN_RATIO = 88
FUZZY_MIN_LENGTH = 6

# A single guess needs this confidence and this lead over the second guess.
CONFIDENT = 75.0
CONFIDENT_LEAD = 40.0


@dataclass(frozen=True)
class Category:
    code: str
    keywords: tuple[str, ...]

    @property
    def label(self) -> Text:
        return LABELS[self.code]


@cache
def categories() -> tuple[Category, ...]:
    text = files("flows").joinpath("data", "categories.csv").read_text(encoding="utf-8")
    return tuple(
        Category(row["code"], tuple(k for k in row["keywords"].split("|") if k))
        for row in csv.DictReader(text.splitlines())
    )


@dataclass(frozen=True)
class _Keywords:
    """categories.csv as lookups: single words, phrases (as word tuples), fuzzy candidates."""

    words: dict[str, tuple[str, ...]]
    phrases: dict[tuple[str, ...], tuple[str, ...]]
    longest_phrase: int
    fuzzy_candidates: tuple[str, ...]


@cache
def _keywords() -> _Keywords:
    words: dict[str, list[str]] = {}
    phrases: dict[tuple[str, ...], list[str]] = {}
    for cat in categories():
        for keyword in cat.keywords:
            # doubled words once, as the text's are read: "onde onde" is looked up as "onde"
            parts = tuple(
                w for n, w in enumerate(keyword.split()) if keyword.split()[n - 1 : n] != [w]
            )
            if len(parts) == 1:
                words.setdefault(parts[0], []).append(cat.code)
            else:
                phrases.setdefault(parts, []).append(cat.code)
    return _Keywords(
        words={w: tuple(codes) for w, codes in words.items()},
        phrases={p: tuple(codes) for p, codes in phrases.items()},
        longest_phrase=max((len(p) for p in phrases), default=1),
        fuzzy_candidates=tuple(w for w in words if len(w) >= FUZZY_MIN_LENGTH),
    )


Kind = Literal["phrase", "word", "ingredient", "defining"]


@dataclass(frozen=True)
class _Match:
    codes: tuple[str, ...]
    kind: Kind
    quality: float  # 1 when written as in the table, less when misspelt


def _segments(text: str) -> list[list[str]]:
    """Lowercase words, split where one product ends and another begins ("kopi & teh")."""
    segments: list[list[str]] = [[]]
    for token in re.findall(r"[a-z]+|[&+,/;]", (text or "").lower()):
        if token in _SEPARATORS:
            segments.append([])
        elif not segments[-1] or segments[-1][-1] != token:  # "oleh-oleh", "kue-kue": once
            segments[-1].append(token)
    return [s for s in segments if s]


def _word_match(word: str, table: _Keywords) -> _Match | None:
    codes = table.words.get(word)
    quality = 1.0
    if codes is None:
        if len(word) < FUZZY_MIN_LENGTH:
            return None
        found = process.extractOne(
            word,
            [w for w in table.fuzzy_candidates if w[0] == word[0]],
            scorer=fuzz.ratio,
            score_cutoff=FUZZY_MIN_RATIO,
        )
        if found is None:
            return None
        word, ratio = found[0], found[1]
        codes, quality = table.words[word], FUZZY * ratio / 100
    kind: Kind
    if word in DEFINING:
        kind = "defining"
    elif word in INGREDIENTS:
        kind = "ingredient"
    else:
        kind = "word"
    return _Match(codes, kind, quality)


def _matches(words: list[str], table: _Keywords) -> list[_Match]:
    """Keywords in one product's words, in order; the longest phrase wins where several fit."""
    found: list[_Match] = []
    i = 0
    while i < len(words):
        for size in range(min(table.longest_phrase, len(words) - i), 1, -1):
            codes = table.phrases.get(tuple(words[i : i + size]))
            if codes:
                found.append(_Match(codes, "phrase", 1.0))
                i += size
                break
        else:
            match = _word_match(words[i], table)
            if match:
                found.append(match)
            i += 1
    return found


_HEAD_ORDER: tuple[tuple[Kind, ...], ...] = (("defining",), ("phrase", "word"), ("ingredient",))


def _head(found: list[_Match]) -> _Match:
    """The word that says what the product is (found is never empty)."""
    for kinds in _HEAD_ORDER:
        for match in found:
            if match.kind in kinds:
                return match
    raise ValueError("no keyword")


_OTHER: dict[Kind, float] = {
    "phrase": OTHER_PHRASE,
    "word": OTHER_WORD,
    "defining": OTHER_WORD,
    "ingredient": OTHER_INGREDIENT,
}


def _scores(text: str) -> dict[str, float]:
    table = _keywords()
    scores: dict[str, float] = {}
    for words in _segments(text):
        found = _matches(words, table)
        if not found:
            continue
        head = _head(found)
        for match in found:
            if match is head:
                weight = INGREDIENT_HEAD if match.kind == "ingredient" else HEAD
            else:
                weight = _OTHER[match.kind]
            for code in match.codes:
                scores[code] = scores.get(code, 0.0) + weight * match.quality
    return scores


def rank_categories(text: str) -> list[tuple[str, float]]:
    """Categories the text may be, with a 0-100 confidence, best first; [] when none fits.

    A clear product word alone gives 100, a raw ingredient alone 80; other categories named
    in the text, misspellings and several products in one name lower it.
    """
    scores = _scores(text)
    total = max(sum(scores.values()), HEAD)
    order = {cat.code: n for n, cat in enumerate(categories())}
    ranked = sorted(scores.items(), key=lambda item: (-item[1], order[item[0]]))
    return [(code, round(100 * score / total, 1)) for code, score in ranked]


def confident_category(text: str) -> str | None:
    """The one category the text surely is; None when the guess is weak or has a rival."""
    ranked = rank_categories(text)
    if not ranked:
        return None
    code, best = ranked[0]
    second = ranked[1][1] if len(ranked) > 1 else 0.0
    return code if best >= CONFIDENT and best - second >= CONFIDENT_LEAD else None


def suggest_categories(text: str) -> list[str]:
    """Categories to offer, best first: the confident one alone, else up to three guesses."""
    sure = confident_category(text)
    if sure is not None:
        return [sure]
    return [code for code, _ in rank_categories(text)[:3]]
