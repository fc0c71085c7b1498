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


def _plain(text: str) -> str:
    """Lower-case, letters and digits only, single spaces; spelling as typed."""
    text = text.lower().replace("’", "'")
    text = re.sub(r"[^a-z0-9 ]+", " ", text.replace("'", ""))
    return " ".join(text.split())


def normalize_place(text: str) -> str:
    """Lower-case, modern spelling, letters and digits only, single spaces."""
    text = text.lower()
    for old, new in _OLD_SPELLING:
        text = text.replace(old, new)
    return _plain(text)


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


def _key(name: str, modern: bool = True) -> str:
    return (normalize_place(name) if modern else _plain(name)).replace(" ", "")


@cache
def _index(modern: bool = True) -> dict[str, list[Regency]]:
    """Spaceless normalized name -> regencies with that name (kabupaten first)."""
    index: dict[str, list[Regency]] = defaultdict(list)
    for reg in regencies().values():
        index[_key(reg.name, modern)].append(reg)
    for regs in index.values():
        regs.sort(key=lambda r: (r.kind != "kabupaten", r.code))
    return dict(index)


def _by_name(key: str, modern: bool = True) -> list[Regency]:
    if key == "jakarta":
        return [r for k, regs in _index().items() if k.startswith("jakarta") for r in regs]
    if key == "madura":
        return [r for name in _MADURA for r in _index()[name]]
    return list(_index(modern).get(key, []))


def _exact(key: str, spaced: str, modern: bool = True) -> list[Regency] | None:
    """Regencies named exactly so, by name, alias or known short form; None if unknown."""
    alias = _ALIASES.get(spaced) or _ALIASES.get(key)
    if alias:
        regs = _by_name(_key(alias[0]))
        if alias[1]:
            regs = [r for r in regs if r.kind == alias[1]] or regs
        return regs
    if key in _index(modern) or key in _GROUPS:
        return _by_name(key, modern)
    return None


def _fuzzy(key: str, keys: list[str]) -> list[tuple[str, float]]:
    """Typos of a name: same first letter, close spelling ('surabya', 'banyuwngi')."""
    if len(key) < 5:
        return []
    cutoff = 80 if len(key) >= 7 else 86
    same_start = [k for k in keys if k[:1] == key[:1]]
    hits = process.extract(key, same_start, scorer=fuzz.ratio, score_cutoff=cutoff, limit=5)
    return [(name, score) for name, score, _ in hits]


@dataclass(frozen=True)
class RegencyMatch:
    """Regency codes for what an owner typed, and whether the match is sure.

    `sure` is True only for an exact name, alias or known short form (with or without
    kab/kota); a typo, an old spelling or a name picked out of a longer sentence is not.
    """

    codes: tuple[str, ...]
    sure: bool


def _in(regs: list[Regency], province_code: str | None) -> list[Regency]:
    return [r for r in regs if province_code is None or r.province_code == province_code]


def _prepare(text: str, modern: bool) -> tuple[list[str], str | None, str | None]:
    """Words of a place name without filler, and the kind and province it names."""
    norm = normalize_place(text) if modern else _plain(text)
    kind: str | None = None
    hinted_province: str | None = None
    for phrase, code in sorted(_PROVINCE_WORDS.items(), key=lambda kv: -len(kv[0])):
        if re.search(rf"\b{phrase}\b", norm) and norm != phrase:
            hinted_province = code
            norm = re.sub(rf"\b{phrase}\b", " ", norm)
    words = []
    for word in norm.split():
        glued = next((k for k in ("kabupaten", "kab", "kota") if word.startswith(k)), None)
        if glued and word not in _index(modern) and word[len(glued) :] in _index(modern):
            kind = kind or _KIND_WORDS[glued]  # "kabmalang", "kotamalang"
            word = word[len(glued) :]
        if word in _KIND_WORDS:
            kind = kind or _KIND_WORDS[word]
        elif word not in _FILLER:
            words.append(word)
    return words, kind, hinted_province


def _found(
    text: str, province_code: str | None
) -> tuple[list[Regency], bool, str | None, str | None]:
    """(regencies, sure, kind, hinted province) before kind and province are applied."""
    for modern in (False, True):  # as typed first; then with old spelling made modern
        words, kind, hinted = _prepare(text, modern)
        if not words:
            return [], False, kind, hinted
        regs = _exact("".join(words), " ".join(words), modern)
        if regs is not None:  # old spelling ("Sidoardjo", "Bodjonegoro") is still the name
            return regs, True, kind, hinted
    return _guess(words, hinted or province_code), False, kind, hinted


def _guess(words: list[str], area: str | None) -> list[Regency]:
    """A name inside a longer sentence, else the closest typo; in `area` when given."""
    windows = [
        words[i : i + n] for n in (3, 2, 1) for i in range(len(words) - n + 1) if len(words) > 1
    ]
    for window in windows:
        regs = _exact("".join(window), " ".join(window))
        if regs and _in(regs, area):
            return regs
    keys = [k for k, regs in _index().items() if _in(regs, area)]
    best: list[tuple[str, float]] = []
    for candidate in ["".join(words), *("".join(w) for w in windows)]:
        hits = _fuzzy(candidate, keys)
        if hits and (not best or hits[0][1] > best[0][1]):
            best = [h for h in hits if h[1] == hits[0][1]]
    return [r for name, _ in best for r in _index()[name]]


def regency_match(text: str, province_code: str | None = None) -> RegencyMatch:
    """Regencies for what an owner typed: one code when clear, several when ambiguous
    ('Malang' is a kabupaten and a kota), none when unknown.

    With `province_code` (East Java for Pelapak) only regencies of that province are
    returned: 'Denpasar' is then no match, not Bali's.
    """
    if not text or not normalize_place(text):
        return RegencyMatch((), False)
    found, sure, kind, hinted = _found(text, province_code)
    if hinted:
        found = [r for r in found if r.province_code == hinted] or found
    found = _in(found, province_code)
    if kind:
        found = [r for r in found if r.kind == kind] or found
    codes = tuple(dict.fromkeys(r.code for r in found))
    return RegencyMatch(codes, sure and bool(codes))


def match_regency(text: str, province_code: str | None = None) -> list[str]:
    """Regency codes for what an owner typed (see regency_match); with `province_code`
    only codes of that province."""
    return list(regency_match(text, province_code).codes)


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
