"""Every owner-facing message comes from locales/, complete in Indonesian, same placeholders."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from flows.categories import LABELS, categories

ROOT = Path(__file__).resolve().parent.parent
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


def _catalog(locale: str) -> dict[str, tuple[str, bool]]:
    with (ROOT / "locales" / locale / "LC_MESSAGES" / "messages.po").open("rb") as f:
        return {m.id: (m.string, m.fuzzy) for m in read_po(f) if m.id}


@pytest.fixture(scope="module")
def code_msgids(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    """Message ids extracted from the code right now (not the committed .pot)."""
    pot = tmp_path_factory.mktemp("pot") / "messages.pot"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "babel.messages.frontend",
            "extract",
            "-F",
            "babel.cfg",
            "-k",
            "t",
            "-k",
            "N_",
            "--no-location",
            "-o",
            str(pot),
            ".",
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    with pot.open("rb") as f:
        return {m.id for m in read_po(f) if m.id}


@pytest.mark.parametrize("locale", ["id", "en"])
def test_every_message_is_translated(locale: str, code_msgids: set[str]) -> None:
    catalog = _catalog(locale)
    missing = sorted(m for m in code_msgids if not catalog.get(m, ("", False))[0].strip())
    fuzzy = sorted(m for m in code_msgids if catalog.get(m, ("", False))[1])
    assert missing == [], f"{locale}: untranslated {missing}"
    assert fuzzy == [], f"{locale}: fuzzy {fuzzy}"


def test_placeholders_match_between_languages(code_msgids: set[str]) -> None:
    indonesian, english = _catalog("id"), _catalog("en")
    differing = {
        m: (set(PLACEHOLDER.findall(indonesian[m][0])), set(PLACEHOLDER.findall(english[m][0])))
        for m in code_msgids
        if set(PLACEHOLDER.findall(indonesian[m][0])) != set(PLACEHOLDER.findall(english[m][0]))
    }
    assert differing == {}


def test_indonesian_speaks_to_kak_in_questions() -> None:
    """The voice: questions address the owner and show an example of what to send."""
    indonesian = _catalog("id")
    asks = {k: v for k, (v, _) in indonesian.items() if ".ask_" in k and "language" not in k}
    assert asks
    without_example = sorted(
        k for k, v in asks.items() if "Contoh" not in v and "*" not in v and "%(" not in v
    )
    assert without_example == []


def test_every_category_has_a_label() -> None:
    assert {c.code for c in categories()} == set(LABELS)
