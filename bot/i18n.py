"""Translators and Babel formatting: catalog texts, Rupiah, weights and dates per locale."""

from __future__ import annotations

import gettext
import io
import re
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal

from flows.messages import Grams, Money, Outbound, Text, When

LOCALES_DIR = Path(__file__).resolve().parent.parent / "locales"
SUPPORTED = ("id", "en")
DEFAULT_LOCALE = "id"
_PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")
# "toko *Toko Batik Hj Siti*" says the word twice: the shop's own name carries it.
_TOKO_TOKO = re.compile(r"\b[Tt]oko (\*[Tt]oko\b)")


class MissingCatalog(RuntimeError):
    """The compiled catalogs are missing: run `make catalogs`."""


@cache
def translations(locale: str) -> gettext.NullTranslations:
    """The compiled catalog; an installed package without one compiles its .po in memory."""
    folder = LOCALES_DIR / locale / "LC_MESSAGES"
    compiled = folder / "messages.mo"
    if compiled.exists():
        with compiled.open("rb") as f:
            return gettext.GNUTranslations(f)
    source = folder / "messages.po"
    if not source.exists():
        raise MissingCatalog(f"{compiled} not found; run `make catalogs`")
    with source.open("rb") as f:
        catalog = read_po(f, locale=locale)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


def pick_locale(hint: str | None) -> str:
    """The supported locale for a platform language code ('en-US' -> 'en'); else Indonesian."""
    base = (hint or "").split("-")[0].split("_")[0].lower()
    return base if base in SUPPORTED else DEFAULT_LOCALE


def format_rupiah(amount: int, locale: str) -> str:
    return "Rp" + format_decimal(amount, format="#,##0", locale=locale)


def format_grams(grams: int, locale: str) -> str:
    if grams >= 1000:
        return f"{format_decimal(grams / 1000, format='#,##0.##', locale=locale)} kg"
    return f"{format_decimal(grams, format='#,##0', locale=locale)} gr"


class Renderer:
    """Turns catalog `Text` values into the owner's words in one locale."""

    def __init__(self, locale: str, timezone: str = "Asia/Jakarta", strict: bool = False) -> None:
        self.locale = pick_locale(locale)
        self.zone = ZoneInfo(timezone)
        self.strict = strict  # tests: a missing parameter is an error, not a blank
        self._gettext = translations(self.locale).gettext

    def __call__(self, text: Text | str) -> str:
        return self.text(text)

    def text(self, text: Text | str) -> str:
        if isinstance(text, str):
            return text
        template = self._gettext(text.msgid)
        if not _PLACEHOLDER.search(template):
            return template
        params = {key: self.value(v) for key, v in text.params.items()}
        try:
            said = template % params
        except KeyError:
            if self.strict:
                raise
            said = _PLACEHOLDER.sub(lambda m: str(params.get(m[1], "")), template)
        return _TOKO_TOKO.sub(r"\1", said) if "oko *" in said else said

    def value(self, value: Any) -> str:
        if isinstance(value, Text):
            return self.text(value)
        if isinstance(value, Money):
            return format_rupiah(value.rupiah, self.locale)
        if isinstance(value, Grams):
            return format_grams(value.grams, self.locale)
        if isinstance(value, When):
            at = datetime.fromisoformat(value.at) if isinstance(value.at, str) else value.at
            return format_datetime(
                at.astimezone(self.zone), "d MMM yyyy, HH:mm", locale=self.locale
            )
        if isinstance(value, int) and not isinstance(value, bool):
            return format_decimal(value, locale=self.locale)
        if isinstance(value, float):  # a rating: one decimal, the locale's separator
            return format_decimal(value, format="#,##0.0", locale=self.locale)
        return str(value)

    def message(self, out: Outbound) -> str:
        return "\n".join(self.text(line) for line in out.lines)
