"""Importing the shipped 1,000-row Disperindag-style sample, with its 20 bad rows."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlmodel import func, select

from bot.app import App
from bot.importer import import_umkm, validate
from bot.storage.models import UmkmRecord

SAMPLE = Path(__file__).parent / "data" / "umkm_sample.csv"
BAD_ROWS = (
    {(n, "owner_name") for n in (14, 160, 333, 512, 870)}
    | {(n, "business_name") for n in (40, 444, 901)}
    | {(n, "regency") for n in (77, 256, 600, 777, 950)}
    | {(n, "phone") for n in (90, 390, 690, 990)}
    | {(n, "nib") for n in (123, 456, 789)}
)


def run_cli(app: App, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "DATABASE_URL": app.settings.database_url,
        "MEDIA_DIR": str(app.settings.media_dir),
    }
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        env=env,
        text=True,
        capture_output=True,
        timeout=120,
        cwd=Path(__file__).resolve().parent.parent,
    )


def count(app: App) -> int:
    with app.db.session() as s:
        return s.exec(select(func.count()).select_from(UmkmRecord)).one()


@pytest.mark.slow
def test_sample_import_reports_every_bad_row_and_reimport_changes_nothing(
    app: App, tmp_path: Path
) -> None:
    report = tmp_path / "laporan.csv"
    done = run_cli(app, "import", "umkm", str(SAMPLE), "--report", str(report))
    assert done.returncode == 0, done.stderr[-2000:]
    assert "987 baru" in done.stdout and "13 dilewati" in done.stdout
    with report.open(encoding="utf-8") as handle:
        problems = list(csv.DictReader(handle))
    assert {(int(p["row"]), p["column"]) for p in problems} == BAD_ROWS
    assert count(app) == 987
    with app.db.session() as s:
        first = s.exec(select(UmkmRecord).where(UmkmRecord.phone == "+6281200022681")).one()
    assert (first.owner_name, first.regency_code, first.category) == (
        "Heru Kurniawan",
        "3508",
        "makanan-minuman",
    )
    assert first.district_code and first.district_code.startswith("3508")
    again = import_umkm(app.db, SAMPLE)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 987)
    assert count(app) == 987


@pytest.mark.any_backend
def test_header_spellings_encodings_and_separators(app: App, tmp_path: Path) -> None:
    messy = tmp_path / "dinas.csv"
    messy.write_bytes(
        "NAMA_PENGUSAHA\tNama UMKM\tTelp\tKab/Kota\tKec\tAlamat Usaha\tJenis Usaha\n"
        "Pak Slamet\tGerabah Slamet\t+62 857 1111 2222\tkab malang\tKepanjen\t"
        "Jl. Raya 1\tgerabah\n".encode("cp1252")
    )
    summary = import_umkm(app.db, messy)
    assert (summary.created, summary.problems) == (1, [])
    with app.db.session() as s:
        record = s.exec(select(UmkmRecord)).one()
    assert (record.phone, record.regency_code, record.category) == (
        "+6285711112222",
        "3507",
        "kerajinan",
    )


def test_ambiguous_place_is_reported() -> None:
    values, problems = validate(
        2, {"owner_name": "Ani", "business_name": "Kue Ani", "regency": "Malang"}
    )
    assert values is None
    assert [(p.column, p.problem) for p in problems] == [
        ("regency", "ambigu: Kabupaten Malang / Kota Malang")
    ]


@pytest.mark.any_backend
def test_imported_record_prefills_registration(app: App) -> None:
    from bot.storage.models import Seller
    from tests.conftest import Chat

    import_umkm(app.db, SAMPLE)
    owner = Chat(app.runner, "+6281200022681", phone="+6281200022681")  # Heru, row 2
    owner.send("/start")
    owner.send("setuju")
    assert "data usaha Kakak dari Disperindag" in owner.last
    assert "Kerupuk Udang Heru 2" in owner.last and "Kabupaten Lumajang" in owner.last
    owner.choose("Ya, pakai")
    assert "0812-0002-2681, betul?" in owner.last  # only the missing answers are asked
    owner.send("ya")
    assert "NIB" in owner.last
    owner.send("lewati")
    assert "Cek datanya" in owner.last and "Heru Kurniawan" in owner.last
    owner.send("simpan")
    with app.db.session() as s:
        seller = s.exec(select(Seller)).one()
    assert (seller.shop_name, seller.regency_code, seller.category, seller.address) == (
        "Kerupuk Udang Heru 2",
        "3508",
        "makanan-minuman",
        "Jl. Merdeka No. 2",
    )
    assert owner.sent == 6  # against 11 without the imported data
