"""Every message the business starts is one `pelapak doctor` checks a WhatsApp template for.

Outside WhatsApp's 24-hour window a notice goes out only as an approved template; one
without a template is recorded as not sent. The doctor said "all configured" while the
sales digest, the produk unggulan congratulations and the marketplace's rejections had no
template to check: they were written as notices in their own modules and never listed."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from sqlmodel import select

from bot import notices
from bot.app import App
from bot.doctor import BUSINESS_MESSAGES
from bot.i18n import translations
from bot.storage.models import ChannelAccount, Notice

BOT = Path(__file__).resolve().parent.parent / "bot"


def _notices_made_outside_the_registry() -> list[str]:
    found = []
    for path in [*BOT.rglob("*.py"), *(BOT.parent / "flows").rglob("*.py")]:
        if path == BOT / "notices.py" or "migrations" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Call) and (_names_notice(node.func) or _inserts_notice(node)):
                found.append(f"{path.relative_to(BOT.parent)}:{node.lineno}")
    return found


def _names_notice(func: ast.expr) -> bool:
    """`Notice(...)`, `models.Notice(...)`, or an insert into its table (`NOTICE.insert()`,
    `sa.insert(Notice)`)."""
    match func:
        case ast.Name(id="Notice") | ast.Attribute(attr="Notice"):
            return True
        case ast.Attribute(attr="insert", value=ast.Name(id="NOTICE" | "Notice")):
            return True
    return False


def _inserts_notice(call: ast.Call) -> bool:
    """`sa.insert(Notice)`, `insert(NOTICE)`."""
    named = getattr(call.func, "attr", None) or getattr(call.func, "id", None)
    first = call.args[0] if call.args else None
    return named == "insert" and isinstance(first, ast.Name) and first.id in ("Notice", "NOTICE")


def test_every_notice_is_written_through_the_registry() -> None:
    assert _notices_made_outside_the_registry() == []


def test_the_doctor_checks_every_notice_and_broadcasts() -> None:
    assert set(notices.NOTICE_MESSAGES) < set(BUSINESS_MESSAGES)
    assert "broadcast.text" in BUSINESS_MESSAGES
    for msgid in ("perf.digest", "perf.digest_quiet", "unggulan.congrats", "market.rejected"):
        assert msgid in BUSINESS_MESSAGES


@pytest.mark.parametrize("locale", ["id", "en"])
def test_every_business_message_is_in_the_catalogs(locale: str) -> None:
    catalog = translations(locale)
    missing = [m for m in BUSINESS_MESSAGES if catalog.gettext(m) == m]
    assert missing == []


@pytest.mark.any_backend
def test_a_notice_not_listed_is_refused_and_a_listed_one_is_kept(app: App) -> None:
    with app.db.session() as s:
        account = ChannelAccount(channel="whatsapp", external_id="+6281200001111")
        s.add(account)
        s.flush()
        with pytest.raises(ValueError, match="NOTICE_MESSAGES"):
            notices.add(s, account.id or 0, "menu.main", {})
        notices.add(s, account.id or 0, "perf.digest_quiet", {})
    with app.db.session() as s:
        assert [n.msgid for n in s.exec(select(Notice))] == ["perf.digest_quiet"]
