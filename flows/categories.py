"""Product categories (categories.csv) and suggesting one from a product or shop name."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import cache
from importlib.resources import files

from rapidfuzz import fuzz

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


def suggest_categories(text: str) -> list[str]:
    """Category codes whose keywords appear in the text, best first ('keripik' -> food)."""
    words = re.findall(r"[a-z]+", (text or "").lower())
    joined = " ".join(words)
    scores: dict[str, float] = {}
    for cat in categories():
        for keyword in cat.keywords:
            if " " in keyword:
                hit = 100.0 if re.search(rf"\b{keyword}\b", joined) else 0.0
            else:
                hit = max(
                    (100.0 if w == keyword else fuzz.ratio(w, keyword) for w in words),
                    default=0.0,
                )
                if len(keyword) < 5 and hit < 100:
                    hit = 0.0
            if hit >= 88:
                # a longer keyword that matches says more ("ikat pinggang" over "ikat")
                scores[cat.code] = max(scores.get(cat.code, 0.0), hit + len(keyword) / 100)
    return sorted(scores, key=lambda code: -scores[code])
