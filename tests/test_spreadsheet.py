"""What owners typed stays text in every export: never a formula a spreadsheet would run."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from openpyxl import Workbook, load_workbook

from bot.spreadsheet import csv_row, keep_text, xlsx_row

HOSTILE = ["=cmd|' /C calc'!A0", '=HYPERLINK("http://evil","klik")', "+62 812", "@SUM(A1)", "-1+1"]


def test_csv_cells_that_would_be_formulas_are_text() -> None:
    out = io.StringIO()
    csv.writer(out).writerow(csv_row([*HOSTILE, "Warung Bu Siti", 15000, None]))
    [row] = list(csv.reader(io.StringIO(out.getvalue())))
    assert all(cell.startswith("'") for cell in row[: len(HOSTILE)])
    assert row[len(HOSTILE) :] == ["Warung Bu Siti", "15000", ""]


def test_xlsx_cells_are_strings_in_write_only_and_normal_sheets(tmp_path: Path) -> None:
    streamed = Workbook(write_only=True)
    sheet = streamed.create_sheet("shops")
    sheet.append(xlsx_row(sheet, [*HOSTILE, 15000]))
    streamed.save(tmp_path / "a.xlsx")
    normal = Workbook()
    active = normal.active
    assert active is not None
    active.append([*HOSTILE, 15000])
    keep_text(active[active.max_row])
    normal.save(tmp_path / "b.xlsx")
    for name in ("a.xlsx", "b.xlsx"):
        book = load_workbook(tmp_path / name)
        cells = next(book.worksheets[-1].iter_rows())
        assert [c.value for c in cells[: len(HOSTILE)]] == HOSTILE
        assert all(c.data_type == "s" for c in cells[: len(HOSTILE)])
        assert cells[-1].value == 15000
