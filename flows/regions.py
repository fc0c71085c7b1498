"""Indonesian regions (Kemendagri codes) and matching what owners type to them."""

from __future__ import annotations

import csv
import re
from collections import defaultdict
from dataclasses import dataclass
from functools import cache
from importlib.resources import files

from rapidfuzz import fuzz, process

EAST_JAVA = "35"


@dataclass(frozen=True)
class Regency:
    code: str
    province_code: str
    kind: str  # "kabupaten" | "kota"
    name: str

    @property
    def full_name(self) -> str:
        return f"{'Kabupaten' if self.kind == 'kabupaten' else 'Kota'} {self.name}"


@dataclass(frozen=True)
class District:
    code: str
    regency_code: str
    name: str


def _rows(name: str) -> list[dict[str, str]]:
    text = files("flows").joinpath("data", "wilayah", name).read_text(encoding="utf-8")
    return list(csv.DictReader(text.splitlines()))


@cache
def provinces() -> dict[str, str]:
    """Province code -> name."""
    return {row["code"]: row["name"] for row in _rows("provinces.csv")}


@cache
def regencies() -> dict[str, Regency]:
    """Regency code -> Regency, for all of Indonesia."""
    return {
        row["code"]: Regency(row["code"], row["province_code"], row["kind"], row["name"])
        for row in _rows("regencies.csv")
    }


@cache
def districts_by_regency() -> dict[str, list[District]]:
    grouped: dict[str, list[District]] = defaultdict(list)
    for row in _rows("districts.csv"):
        grouped[row["regency_code"]].append(District(row["code"], row["regency_code"], row["name"]))
    return dict(grouped)


def district(code: str) -> District | None:
    return next((d for d in districts_by_regency().get(code[:4], []) if d.code == code), None)


_OLD_SPELLING = (("dj", "j"), ("tj", "c"), ("oe", "u"), ("sj", "sy"), ("nj", "ny"))


def normalize_place(text: str) -> str:
    """Lower-case, modern spelling, letters and digits only, single spaces."""
    text = text.lower().replace("’", "'")
    for old, new in _OLD_SPELLING:
        text = text.replace(old, new)
    text = re.sub(r"[^a-z0-9 ]+", " ", text.replace("'", ""))
    return " ".join(text.split())


_KIND_WORDS = {
    "kabupaten": "kabupaten",
    "kab": "kabupaten",
    "kabupatn": "kabupaten",
    "kota": "kota",
    "kodya": "kota",
    "kotamadya": "kota",
    "kot": "kota",
}
_PROVINCE_WORDS = {
    "jatim": "35",
    "jawa timur": "35",
    "jateng": "33",
    "jawa tengah": "33",
    "jabar": "32",
    "jawa barat": "32",
    "diy": "34",
    "yogyakarta": "34",
    "dki": "31",
    "bali": "51",
    "banten": "36",
    "ntb": "52",
    "ntt": "53",
    "sulsel": "73",
    "sumut": "12",
    "kaltim": "64",
    "kalsel": "63",
}
_FILLER = {
    "di",
    "daerah",
    "wilayah",
    "kak",
    "saya",
    "aku",
    "dari",
    "tinggal",
    "alamat",
    "lokasi",
    "indonesia",
    "prov",
    "provinsi",
    "propinsi",
    "kec",
    "kecamatan",
    "ya",
    "mas",
    "mbak",
    "pak",
    "bu",
    "kk",
    "sih",
    "aja",
    "saja",
    "deh",
    "dong",
    "kok",
    "nya",
}
# Short forms owners use; values are normalized regency names (optionally with a kind).
_ALIASES: dict[str, tuple[str, str | None]] = {
    "sby": ("surabaya", None),
    "suroboyo": ("surabaya", None),
    "sbya": ("surabaya", None),
    "sda": ("sidoarjo", None),
    "sidoarja": ("sidoarjo", None),
    "mlg": ("malang", None),
    "ngalam": ("malang", None),
    "jbr": ("jember", None),
    "bwi": ("banyuwangi", None),
    "bjn": ("bojonegoro", None),
    "lmg": ("lamongan", None),
    "gsk": ("gresik", None),
    "kdr": ("kediri", None),
    "mjk": ("mojokerto", None),
    "mdn": ("madiun", None),
    "pbl": ("probolinggo", None),
    "prob": ("probolinggo", None),
    "pasur": ("pasuruan", None),
    "blt": ("blitar", None),
    "tlg": ("tulungagung", None),
    "jmb": ("jombang", None),
    "bkl": ("bangkalan", None),
    "pmk": ("pamekasan", None),
    "smn": ("sumenep", None),
    "lmj": ("lumajang", None),
    "bdw": ("bondowoso", None),
    "stb": ("situbondo", None),
    "pct": ("pacitan", None),
    "png": ("ponorogo", None),
    "ponoragan": ("ponorogo", None),
    "ngw": ("ngawi", None),
    "mgt": ("magetan", None),
    "ngj": ("nganjuk", None),
    "trg": ("trenggalek", None),
    "jogja": ("yogyakarta", "kota"),
    "jogjakarta": ("yogyakarta", "kota"),
    "yogya": ("yogyakarta", "kota"),
    "jogya": ("yogyakarta", "kota"),
    "yogyakarta": ("yogyakarta", "kota"),
    "jogyakarta": ("yogyakarta", "kota"),
    "solo": ("surakarta", None),
    "jkt": ("jakarta", None),
    "jaksel": ("jakarta selatan", None),
    "jakut": ("jakarta utara", None),
    "jakbar": ("jakarta barat", None),
    "jaktim": ("jakarta timur", None),
    "jakpus": ("jakarta pusat", None),
    "bdg": ("bandung", None),
    "smg": ("semarang", None),
    "dps": ("denpasar", None),
    "mks": ("makassar", None),
    "bks": ("bekasi", None),
    "tng": ("tangerang", None),
    "bgr": ("bogor", None),
    "bpp": ("balikpapan", None),
    "plg": ("palembang", None),
    "jambi kota": ("jambi", "kota"),
}
_GROUPS = {"jakarta": "jakarta", "madura": "madura"}
_MADURA = ("bangkalan", "sampang", "pamekasan", "sumenep")


def _key(name: str) -> str:
    return normalize_place(name).replace(" ", "")


@cache
def _index() -> dict[str, list[Regency]]:
    """Spaceless normalized name -> regencies with that name (kabupaten first)."""
    index: dict[str, list[Regency]] = defaultdict(list)
    for reg in regencies().values():
        index[_key(reg.name)].append(reg)
    for regs in index.values():
        regs.sort(key=lambda r: (r.kind != "kabupaten", r.code))
    return dict(index)


def _by_name(key: str) -> list[Regency]:
    if key == "jakarta":
        return [r for k, regs in _index().items() if k.startswith("jakarta") for r in regs]
    if key == "madura":
        return [r for name in _MADURA for r in _index()[name]]
    return list(_index().get(key, []))


def _fuzzy(key: str, keys: list[str]) -> list[tuple[str, float]]:
    if len(key) < 5:
        return []
    cutoff = 80 if len(key) >= 7 else 86
    hits = process.extract(key, keys, scorer=fuzz.ratio, score_cutoff=cutoff, limit=5)
    return [(name, score) for name, score, _ in hits]


def _candidates(words: list[str]) -> tuple[list[Regency], float]:
    """Best regencies for the words (whole phrase first, then any 1-3 word window)."""
    phrase = "".join(words)
    alias = _ALIASES.get(" ".join(words)) or _ALIASES.get(phrase)
    if alias:
        regs = _by_name(_key(alias[0]))
        if alias[1]:
            regs = [r for r in regs if r.kind == alias[1]] or regs
        return regs, 100.0
    if phrase in _index() or phrase in _GROUPS:
        return _by_name(phrase), 100.0
    windows = [
        "".join(words[i : i + n])
        for n in (3, 2, 1)
        for i in range(len(words) - n + 1)
        if len(words) > 1
    ]
    for window in windows:
        if window in _index() or window in _GROUPS:
            return _by_name(window), 99.0
        if window in _ALIASES:
            return _by_name(_key(_ALIASES[window][0])), 99.0
    keys = list(_index())
    best: list[tuple[str, float]] = []
    for candidate in [phrase, *windows]:
        hits = _fuzzy(candidate, keys)
        if hits and (not best or hits[0][1] > best[0][1]):
            best = [h for h in hits if h[1] == hits[0][1]]
    if not best:
        return [], 0.0
    return [r for name, _ in best for r in _index()[name]], best[0][1]


def match_regency(text: str, province_code: str | None = None) -> list[str]:
    """Regency codes for what an owner typed: one when sure, several when ambiguous.

    `province_code` is a preference (East Java for Pelapak): matches there win, but a
    regency elsewhere in Indonesia is still found.
    """
    norm = normalize_place(text or "")
    if not norm:
        return []
    kind: str | None = None
    hinted_province: str | None = None
    for phrase, code in sorted(_PROVINCE_WORDS.items(), key=lambda kv: -len(kv[0])):
        if re.search(rf"\b{phrase}\b", norm) and norm != phrase:
            hinted_province = code
            norm = re.sub(rf"\b{phrase}\b", " ", norm)
    words = []
    for word in norm.split():
        if word in _KIND_WORDS and kind is None:
            kind = _KIND_WORDS[word]
        elif word not in _FILLER:
            words.append(word)
    if not words:
        return []
    found, _score = _candidates(words)
    if hinted_province:
        found = [r for r in found if r.province_code == hinted_province] or found
    elif province_code:
        preferred = [r for r in found if r.province_code == province_code]
        found = preferred or found
    if kind:
        found = [r for r in found if r.kind == kind] or found
    seen: dict[str, None] = {}
    for reg in found:
        seen.setdefault(reg.code, None)
    return list(seen)


def match_district(text: str, regency_code: str) -> list[str]:
    """District (kecamatan) codes within a regency for what an owner typed."""
    norm = [w for w in normalize_place(text or "").split() if w not in _FILLER | {"kec"}]
    key = "".join(norm)
    if not key:
        return []
    options = {_key(d.name): d.code for d in districts_by_regency().get(regency_code, [])}
    if key in options:
        return [options[key]]
    hits = process.extract(key, list(options), scorer=fuzz.ratio, score_cutoff=82, limit=3)
    if not hits:
        return []
    top = hits[0][1]
    return [options[name] for name, score, _ in hits if score == top]
