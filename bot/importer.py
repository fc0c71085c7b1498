"""Importing government MSME data (Disperindag-style CSV) into `umkm_record`.

Tolerant of how such files really arrive: Excel exports with a BOM or in Windows-1252,
`;` or tab separators, headers spelled a dozen ways, phone numbers mangled into scientific
notation. Every problem is reported by row and column; a row that cannot be used is
skipped, a fixable one is kept with its problem noted. Importing the same file again
changes nothing (rows are keyed by phone, else by business name and regency).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from sqlmodel import select

from bot.storage.database import Database
from bot.storage.models import UmkmRecord, utcnow
from flows.categories import categories, suggest_categories
from flows.parsing import match_regency, parse_phone
from flows.regions import EAST_JAVA, match_district, regencies

COLUMNS = (
    "owner_name",
    "business_name",
    "phone",
    "regency",
    "district",
    "address",
    "sector",
    "nib",
)
# Normalized header (letters and digits only) -> column. Covers the spellings seen in
# Disperindag, Dinas Koperasi and OSS exports.
HEADER_ALIASES = {
    "namapemilik": "owner_name",
    "pemilik": "owner_name",
    "namapengusaha": "owner_name",
    "pengusaha": "owner_name",
    "owner": "owner_name",
    "ownername": "owner_name",
    "namalengkap": "owner_name",
    "nama": "owner_name",
    "namausaha": "business_name",
    "usaha": "business_name",
    "namaumkm": "business_name",
    "namaperusahaan": "business_name",
    "businessname": "business_name",
    "namatoko": "business_name",
    "merek": "business_name",
    "merk": "business_name",
    "nohp": "phone",
    "nomorhp": "phone",
    "hp": "phone",
    "telepon": "phone",
    "telp": "phone",
    "notelp": "phone",
    "notelepon": "phone",
    "nomortelepon": "phone",
    "phone": "phone",
    "whatsapp": "phone",
    "nowa": "phone",
    "wa": "phone",
    "nohpwa": "phone",
    "kabupatenkota": "regency",
    "kabkota": "regency",
    "kabupaten": "regency",
    "kota": "regency",
    "kabkot": "regency",
    "regency": "regency",
    "kabupatenkotamadya": "regency",
    "kecamatan": "district",
    "kec": "district",
    "district": "district",
    "alamat": "address",
    "alamatusaha": "address",
    "address": "address",
    "alamatlengkap": "address",
    "sektor": "sector",
    "sektorusaha": "sector",
    "bidangusaha": "sector",
    "jenisusaha": "sector",
    "kategori": "sector",
    "sector": "sector",
    "komoditas": "sector",
    "produk": "sector",
    "jenisproduk": "sector",
    "nib": "nib",
    "nomorindukberusaha": "nib",
    "noinduk": "nib",
}
REQUIRED = ("owner_name", "business_name", "regency")


@dataclass
class Problem:
    row: int  # as a spreadsheet numbers it: the header is row 1
    column: str
    problem: str


@dataclass
class ImportSummary:
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    problems: list[Problem] = field(default_factory=list)


def _decode(data: bytes) -> str:
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def _header_key(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def read_rows(path: Path) -> tuple[dict[str, str], list[tuple[int, dict[str, str]]]]:
    """The header mapping (file header -> column) and the data rows with their numbers."""
    text = _decode(path.read_bytes())
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(text[:4096], ",;\t|")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    header = next(reader, [])
    mapping = {
        h: HEADER_ALIASES[_header_key(h)] for h in header if _header_key(h) in HEADER_ALIASES
    }
    rows = []
    for number, values in enumerate(reader, start=2):
        if not any(v.strip() for v in values):
            continue
        record = {
            mapping[h]: v.strip().lstrip("'")
            for h, v in zip(header, values, strict=False)
            if h in mapping
        }
        rows.append((number, record))
    return mapping, rows


def _category(sector: str) -> str | None:
    if not sector:
        return None
    wanted = _header_key(sector)
    for cat in categories():
        if _header_key(cat.code) == wanted:
            return cat.code
    suggested = suggest_categories(sector)
    return suggested[0] if suggested else None


def validate(
    number: int, raw: dict[str, str]
) -> tuple[dict[str, str | None] | None, list[Problem]]:
    """One row -> the record's values (None when unusable) and its problems."""
    problems: list[Problem] = []

    def problem(column: str, text: str) -> None:
        problems.append(Problem(number, column, text))

    for column in REQUIRED:
        if not raw.get(column):
            problem(column, "kosong (wajib diisi)")
    phone = None
    if raw.get("phone"):
        if re.fullmatch(r"\d+(\.\d+)?[eE]\+\d+", raw["phone"]):
            problem("phone", "rusak oleh Excel (format angka ilmiah); simpan kolom sebagai teks")
        else:
            phone = parse_phone(raw["phone"])
            if phone is None:
                problem("phone", f"bukan nomor HP Indonesia: {raw['phone'][:30]}")
    regency = None
    if raw.get("regency"):
        codes = match_regency(raw["regency"], EAST_JAVA) or match_regency(raw["regency"])
        if len(codes) == 1:
            regency = codes[0]
        elif codes:
            names = " / ".join(regencies()[c].full_name for c in codes[:3])
            problem("regency", f"ambigu: {names}")
        else:
            problem("regency", f"tidak dikenal: {raw['regency'][:40]}")
    district = None
    if regency and raw.get("district"):
        found = match_district(raw["district"], regency)
        if len(found) == 1:
            district = found[0]
        else:
            problem("district", f"tidak ditemukan di {regencies()[regency].full_name}")
    nib = re.sub(r"\D", "", raw.get("nib", "")) or None
    if raw.get("nib") and (nib is None or len(nib) != 13 or "e+" in raw["nib"].lower()):
        problem("nib", "harus 13 angka")
        nib = None
    if any(p.column in REQUIRED for p in problems) or regency is None:
        return None, problems
    return {
        "owner_name": raw["owner_name"][:100],
        "business_name": raw["business_name"][:100],
        "phone": phone,
        "province_code": regencies()[regency].province_code,
        "regency_code": regency,
        "district_code": district,
        "address": (raw.get("address") or None) and raw["address"][:300],
        "category": _category(raw.get("sector", "")),
        "nib": nib,
    }, problems


def _row_key(values: dict[str, str | None]) -> str:
    if values["phone"]:
        return f"phone:{values['phone']}"
    name = re.sub(r"\s+", " ", (values["business_name"] or "").casefold()).strip()
    return f"name:{values['regency_code']}:{name}"[:128]


def import_umkm(
    db: Database, path: Path, progress: Callable[[Iterator[int]], Iterable[int]] | None = None
) -> ImportSummary:
    """Import one file; `progress` wraps the row loop (a progress bar in the CLI)."""
    mapping, rows = read_rows(path)
    summary = ImportSummary(rows=len(rows))
    missing = [c for c in REQUIRED if c not in mapping.values()]
    if missing:
        summary.problems += [Problem(1, c, "kolom tidak ada di header") for c in missing]
        summary.skipped = len(rows)
        return summary
    indexes: Iterable[int] = range(len(rows))
    if progress is not None:
        indexes = progress(iter(range(len(rows))))
    with db.session() as session:
        for index in indexes:
            number, raw = rows[index]
            values, problems = validate(number, raw)
            summary.problems += problems
            if values is None:
                summary.skipped += 1
                continue
            key = _row_key(values)
            record = session.exec(select(UmkmRecord).where(UmkmRecord.row_key == key)).first()
            if record is None:
                fields = {"row_key": key, "source_file": path.name[:200], **values}
                session.add(UmkmRecord.model_validate(fields))
                session.flush()
                summary.created += 1
            elif all(getattr(record, k) == v for k, v in values.items()):
                summary.unchanged += 1
            else:
                for name, value in values.items():
                    setattr(record, name, value)
                record.updated_at = utcnow()
                session.add(record)
                summary.updated += 1
    return summary


def write_report(problems: list[Problem], path: Path) -> None:
    """The validation report: one line per problem (row, column, problem)."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["row", "column", "problem"])
        for item in problems:
            writer.writerow([item.row, item.column, item.problem])
