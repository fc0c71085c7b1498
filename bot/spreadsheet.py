"""Exports opened in a spreadsheet: what owners typed must stay text, never a formula.

A cell starting with = + - @ (or a tab or carriage return) is run as a formula by Excel and
LibreOffice when a CSV is opened; an owner could name their shop `=HYPERLINK(...)`. CSV
cells get a leading apostrophe (shown as text, the OWASP advice); XLSX cells are written
with the string type, so openpyxl never stores them as formulas.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def csv_row(values: Iterable[Any]) -> list[Any]:
    return ["" if v is None else csv_safe(v) for v in values]


def xlsx_row(sheet: Any, values: Iterable[Any]) -> list[Any]:
    """Cells for a write-only sheet; text stays text."""
    from openpyxl.cell import WriteOnlyCell

    cells = []
    for value in values:
        cell = WriteOnlyCell(sheet, value=value)
        if isinstance(value, str):
            cell.data_type = "s"
        cells.append(cell)
    return cells


def keep_text(cells: Iterable[Any]) -> None:
    """For a normal sheet, after `append`: strings stay strings."""
    for cell in cells:
        if isinstance(cell.value, str):
            cell.data_type = "s"
