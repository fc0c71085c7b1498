"""Getting into the dashboard: /dasbor in the chat, `pelapak admin link`, and the funnel the
overview shows agreeing with `pelapak stats`."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from bot.app import App
from bot.cli import app as cli
from bot.conversation import ConversationRunner
from bot.dashboard.queries import funnel_totals
from bot.stats import STAGES, funnel
from bot.storage.models import DashboardLink
from tests.conftest import Chat
from tests.dashboard_data import EXPECTED, seed

LINK = re.compile(r"http://127\.0\.0\.1:8080/admin/login/[\w-]{40,}")


@pytest.mark.any_backend
def test_dasbor_gives_admins_and_facilitators_a_link(app: App, runner: ConversationRunner) -> None:
    seed(app.db)
    admin = Chat(runner, "admin-ana")
    admin.send("/dasbor")
    assert LINK.search(admin.text), admin.text
    assert "sekali" in admin.text and "15 menit" in admin.text
    facilitator = Chat(runner, "111", channel="telegram")
    facilitator.send("/dasbor")
    assert LINK.search(facilitator.text)
    owner = Chat(runner, "+6281234567890", channel="whatsapp", phone="+6281234567890")
    owner.send("/dasbor")
    assert not LINK.search(owner.text)
    assert "hanya untuk admin dan pendamping" in owner.text
    with app.db.read_session() as session:
        links = session.exec(DashboardLink.__table__.select()).all()  # type: ignore[attr-defined]
    assert sorted((link.role, link.facilitator_id is not None) for link in links) == [
        ("admin", False),
        ("facilitator", True),
    ]


@pytest.mark.any_backend
def test_pelapak_admin_link_prints_a_link_only_for_admins_and_facilitators(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(app.db)
    monkeypatch.setenv("DATABASE_URL", app.settings.database_url)
    monkeypatch.setenv("MEDIA_DIR", str(app.settings.media_dir))
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://pelapak.example.go.id")
    runner = CliRunner()
    made = runner.invoke(cli, ["admin", "link", "--console", "admin-ana"])
    assert made.exit_code == 0, made.output
    assert re.search(r"https://pelapak\.example\.go\.id/admin/login/[\w-]{40,}", made.output)
    facilitator = runner.invoke(cli, ["admin", "link", "--telegram", "111"])
    assert facilitator.exit_code == 0 and "/admin/login/" in facilitator.output
    stranger = runner.invoke(cli, ["admin", "link", "--whatsapp", "0812-3456-7890"])
    assert stranger.exit_code == 2 and "/admin/login/" not in stranger.output
    assert runner.invoke(cli, ["admin", "link"]).exit_code == 2


def test_the_overview_funnel_counts_what_pelapak_stats_counts(app: App) -> None:
    seed(app.db)
    by_regency = funnel(app.db, "regency")
    totals = {stage: sum(counts[stage] for counts in by_regency.values()) for stage in STAGES}
    with app.db.read_session() as session:
        assert funnel_totals(session) == totals == EXPECTED
        mine = funnel_totals(session, "PDP-3515-001")
    helped = funnel(app.db, "facilitator")["PDP-3515-001"]
    assert mine == {stage: helped[stage] for stage in STAGES}
    assert mine["registered"] == 1 and mine["live"] == 1
