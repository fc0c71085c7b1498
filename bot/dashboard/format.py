"""How the dashboard writes numbers, dates and phone numbers (Babel, in the programme's zone)."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime
from babel.numbers import format_decimal, format_percent

from bot.i18n import format_rupiah


def mask_phone(e164: str | None) -> str:
    """'+6281234567890' -> '0812-****-7890': enough to recognise, not enough to call."""
    if not e164:
        return "-"
    local = "0" + e164[3:] if e164.startswith("+62") else e164
    if len(local) < 9:
        return local[:2] + "*" * max(0, len(local) - 2)
    return f"{local[:4]}-****-{local[-4:]}"


def full_phone(e164: str | None) -> str:
    if not e164:
        return "-"
    local = "0" + e164[3:] if e164.startswith("+62") else e164
    if local.startswith("08"):
        return "-".join(filter(None, (local[:4], local[4:8], local[8:])))
    return local


class Formats:
    """Bound to one locale and zone, handed to the templates."""

    def __init__(self, locale: str, zone: str) -> None:
        self.locale = locale
        self.zone = ZoneInfo(zone)

    def number(self, value: int | float | None) -> str:
        return "-" if value is None else format_decimal(value, locale=self.locale)

    def fixed(self, value: float, digits: int) -> str:
        """With exactly `digits` decimals (a score, a star rating)."""
        pattern = "#,##0" + ("." + "0" * digits if digits else "")
        return format_decimal(value, format=pattern, locale=self.locale)

    def percent(self, value: float) -> str:
        return format_percent(value, format="#,##0.#%", locale=self.locale)

    def rupiah(self, value: int | None) -> str:
        return "-" if value is None else format_rupiah(value, self.locale)

    def when(self, value: datetime | None) -> str:
        if value is None:
            return "-"
        return format_datetime(value.astimezone(self.zone), "d MMM yyyy, HH:mm", locale=self.locale)

    def day(self, value: date) -> str:
        return format_date(value, "d MMM", locale=self.locale)

    def month(self, value: str) -> str:
        """'2026-11' -> 'November 2026'."""
        year, number = (int(part) for part in value.split("-"))
        return format_date(date(year, number, 1), "LLLL yyyy", locale=self.locale)

    def local_input(self, value: datetime) -> str:
        """For <input type=datetime-local>, in the programme's zone."""
        return value.astimezone(self.zone).strftime("%Y-%m-%dT%H:%M")
