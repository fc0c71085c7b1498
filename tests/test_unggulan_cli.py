"""`pelapak unggulan`: candidates from stored figures, decisions, the owner congratulated once,
the CSV and Excel exports for the curation board."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlmodel import col, select
from typer.testing import CliRunner

from bot.app import App
from bot.cli import app as cli
from bot.sales import local_day
from bot.storage.models import Notice, ProdukUnggulan, utcnow
from tests.unggulan_data import seed_candidates


@pytest.fixture
def shops(app: App, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Three snack shops in Sidoarjo, one in Surabaya, daily figures for the last 60 days."""
    monkeypatch.setenv("DATABASE_URL", app.settings.database_url)
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://pelapak.example")
    return seed_candidates(app.db)


def test_candidates_in_rank_order_with_the_export(
    app: App, shops: dict[str, str], tmp_path: Path
) -> None:
    runner = CliRunner()
    out = tmp_path / "unggulan.csv"
    result = runner.invoke(cli, ["unggulan", "--regency", "3515", "--csv", str(out)])
    assert result.exit_code == 0, result.output
    assert "Keripik Juara" in result.output and "Keripik Kota" not in result.output
    assert out.read_bytes().startswith(b"\xef\xbb\xbf")  # so Excel reads it as UTF-8
    with out.open(encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    assert [r["product"] for r in rows] == ["Keripik Juara", "Keripik Lumayan"]
    juara = rows[0]
    assert juara["rank"] == "1" and juara["regency"] == "Kabupaten Sidoarjo"
    assert juara["shop"] == "Keripik Juara"
    assert juara["facilitator"] == "PDP-3515-001 Dewi Lestari"
    assert juara["photos"] == f"https://pelapak.example/media/{'a' * 64}.jpg"
    assert (juara["orders"], juara["units_sold"], juara["reviews"]) == ("120", "180", "60")
    assert juara["revenue_rupiah"] == str(180 * 15000)
    assert float(juara["rating_percentile"]) == 100.0
    xlsx = tmp_path / "unggulan.xlsx"
    result = runner.invoke(cli, ["unggulan", "--xlsx", str(xlsx)])
    assert result.exit_code == 0, result.output
    sheet = load_workbook(xlsx).active
    assert sheet is not None
    table = list(sheet.iter_rows(values_only=True))
    names = [row[table[0].index("product")] for row in table[1:]]
    assert names == ["Keripik Juara", "Keripik Lumayan", "Keripik Kota"]


def test_confirm_congratulates_once_and_decline_records_why(
    app: App, shops: dict[str, str]
) -> None:
    runner = CliRunner()
    juara, lumayan, baru = shops["Keripik Juara"], shops["Keripik Lumayan"], shops["Keripik Baru"]
    first = runner.invoke(cli, ["unggulan", "confirm", juara, "--note", "rasa konsisten"])
    assert first.exit_code == 0, first.output
    again = runner.invoke(cli, ["unggulan", "confirm", juara])
    assert again.exit_code == 0
    declined = runner.invoke(cli, ["unggulan", "decline", lumayan, "--note", "foto kurang"])
    assert declined.exit_code == 0
    thin = runner.invoke(cli, ["unggulan", "confirm", baru])
    assert thin.exit_code == 1  # under the evidence minimum
    assert runner.invoke(cli, ["unggulan", "confirm", "P_nope"]).exit_code == 1
    for month in ("2026-13", "0001-01", "2099-12"):  # not a month, out of range, to come
        assert runner.invoke(cli, ["unggulan", "--month", month]).exit_code == 2, month
        assert runner.invoke(cli, ["unggulan", "confirm", juara, "--month", month]).exit_code == 2
    with app.db.read_session() as session:
        notices = session.exec(select(Notice).order_by(col(Notice.id))).all()
        decisions = {d.product_ref: d for d in session.exec(select(ProdukUnggulan))}
    assert [(n.msgid, n.params["name"]) for n in notices] == [
        ("unggulan.congrats", "Keripik Juara")
    ]
    assert notices[0].params["regency"] == "Kabupaten Sidoarjo"
    assert decisions[juara].status == "confirmed" and decisions[juara].parts["rank"] == 1
    assert decisions[juara].decided_by == "cli"
    assert decisions[lumayan].status == "declined" and decisions[lumayan].note == "foto kurang"
    assert decisions[juara].month == local_day(utcnow()).strftime("%Y-%m")
    listed = runner.invoke(cli, ["unggulan", "--regency", "3515"])
    assert "confirmed" in listed.output and "declined" in listed.output
