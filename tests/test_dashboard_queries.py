"""The dashboard's pages, filters and exports on SQLite and on PostgreSQL, without a browser.

The browser tests (test_dashboard.py, test_dashboard_unggulan.py) run on SQLite: what a
browser adds (layout, scripts, forms clicked) does not depend on the database. What does
(the queries behind each page, their filters, counts, order and exports) is checked here on
both backends, through the real app served on a loopback socket.
"""

from __future__ import annotations

import csv
import html
import io
import re
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from openpyxl import load_workbook
from sqlmodel import col, select

from bot.app import App
from bot.sales import local_day
from bot.storage.models import (
    AuditLog,
    Broadcast,
    DashboardLink,
    DashboardSession,
    Notice,
    utcnow,
)
from bot.web import create_web_app
from tests.dashboard_data import EXPECTED, PAGES, Seeded, new_link, seed
from tests.served import Served, free_port
from tests.unggulan_data import seed_candidates

CSRF = re.compile(r'name="csrf" value="([^"]+)"')
SHOP_TABLE = re.compile(r'<table[^>]*id="shops".*?</table>', re.S)
CANDIDATE = re.compile(
    r'<article[^>]*class="[^"]*candidate[^"]*"[^>]*data-rank="(\d+)".*?<h3><span[^>]*>[^<]*</span>'
    r"\s*([^<]+)</h3>",
    re.S,
)


@pytest.fixture
def seeded(app: App) -> Seeded:
    return seed(app.db)


@pytest.fixture
def web(app: App, seeded: Seeded) -> Iterator[httpx.Client]:
    """The app served once the data is in (its summaries are worked out as it starts). The
    overview is opened once before the test: its first opening waits for that start-up
    computation, so what a test adds afterwards (the ranking's candidates) is never in it,
    however slowly the machine computed it."""
    server = Served(create_web_app(app), free_port())
    with httpx.Client(base_url=server.base, follow_redirects=True) as warmed:
        sign_in(warmed, app)
        assert warmed.get("/admin/").status_code == 200
    with httpx.Client(base_url=server.base, follow_redirects=True) as client:
        yield client
    server.stop()


def sign_in(web: httpx.Client, app: App, channel: str = "console", who: str = "admin-ana") -> str:
    """Signed in with a new link; the link's path (to try it again)."""
    path = "/admin/" + new_link(app, channel, who)
    signed = follow_link(web, path)
    assert signed.status_code == 200 and signed.url.path == "/admin/", signed.text[:200]
    return path


def follow_link(web: httpx.Client, path: str) -> httpx.Response:
    """Open a sign-in link and press Masuk."""
    form = web.get(path)
    [csrf] = CSRF.findall(form.text)
    return web.post("/admin/login", data={"csrf": csrf, "token": path.rsplit("/", 1)[1]})


def post(web: httpx.Client, path: str, **form: str) -> httpx.Response:
    """A form posted with the session's CSRF token, as the page's own form does."""
    [csrf, *_] = CSRF.findall(web.get("/admin/").text)
    return web.post(path, data={"csrf": csrf, **form})


def first_column(page: str) -> list[str]:
    """The shop names in the shops table, top to bottom."""
    [table] = SHOP_TABLE.findall(page)
    body = table.split("<tbody>", 1)[1]
    rows = re.findall(r"<tr[^>]*>\s*<td[^>]*>(.*?)</td>", body, re.S)
    return [html.unescape(re.sub(r"<[^>]+>", "", row)).strip() for row in rows]


def metric(page: str, name: str) -> int:
    [value] = re.findall(rf'data-metric="{name}"[^>]*>\s*([\d.]+)', page)
    return int(value.replace(".", ""))


def test_every_page_answers_and_the_overview_counts(
    web: httpx.Client, app: App, seeded: Seeded
) -> None:
    seed_candidates(app.db)
    sign_in(web, app)
    for path in PAGES:
        response = web.get(path.format(sri=seeded.sri))
        assert response.status_code == 200, (path, response.text[:300])
    overview = web.get("/admin/").text
    assert {name: metric(overview, name) for name in EXPECTED} == EXPECTED
    assert overview.count('<tr data-regency="') == 38  # every East Java regency
    huge = "9" * 30
    assert web.get(f"/admin/shops/{huge}").status_code == 404
    assert web.get(f"/admin/shops?page={huge}").status_code == 200


def test_shop_filters_and_a_facilitators_own_shops(
    web: httpx.Client, app: App, seeded: Seeded
) -> None:
    sign_in(web, app)
    for query, names in (
        ("regency=3515&step=registered", ["Batik Tini"]),
        ("q=budi&category=makanan-minuman", ["Sambal Pak Budi"]),
        ("step=live", ["Keripik Bu Sri"]),
        ("q=keripik", ["Keripik Bu Sri"]),
    ):
        assert first_column(web.get(f"/admin/shops?{query}").text) == names, query
    shop = web.get(f"/admin/shops/{seeded.sri}").text
    assert "Keripik tempe pedas" in shop and "Rp15.000" in shop
    web.cookies.clear()
    sign_in(web, app, "telegram", "111")  # Rina, PDP-3515-001
    assert metric(web.get("/admin/").text, "registered") == 1
    assert first_column(web.get("/admin/shops").text) == ["Keripik Bu Sri"]
    assert web.get(f"/admin/shops/{seeded.budi}").status_code == 404
    assert web.get("/admin/sync").status_code == 403


def test_exports_read_back(web: httpx.Client, app: App, seeded: Seeded) -> None:
    sign_in(web, app)
    shops = web.get("/admin/export/shops.csv?regency=3515")
    rows = list(csv.DictReader(io.StringIO(shops.content.decode("utf-8-sig"))))
    assert [r["shop_name"] for r in rows] == ["Keripik Bu Sri", "Batik Tini"]
    assert rows[0]["phone"] == "0812-****-7890" and rows[0]["live_products"] == "1"
    products = web.get("/admin/export/products.xlsx?regency=3515")
    sheet = load_workbook(io.BytesIO(products.content), read_only=True).active
    table = list(sheet.iter_rows(values_only=True))  # type: ignore[union-attr]
    assert [(r[5], r[7]) for r in table[1:]] == [("Keripik tempe pedas", 15000)]


def ranked(page: str) -> list[tuple[str, str]]:
    return [(rank, html.unescape(name).strip()) for rank, name in CANDIDATE.findall(page)]


def test_unggulan_candidates_in_rank_order_and_their_export(
    web: httpx.Client, app: App, seeded: Seeded
) -> None:
    seed_candidates(app.db, category="makanan-minuman")
    sign_in(web, app)
    page = web.get("/admin/unggulan").text
    assert ranked(page) == [("1", "Keripik Juara"), ("2", "Keripik Lumayan"), ("1", "Keripik Kota")]
    assert "2.400 kunjungan · 120 pesanan · 180 terjual · Rp2.700.000 · 60 ulasan" in page
    exported = web.get("/admin/unggulan/export.csv?regency=3515")
    rows = list(csv.DictReader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert [(r["rank"], r["product"]) for r in rows] == [
        ("1", "Keripik Juara"),
        ("2", "Keripik Lumayan"),
    ]
    assert (rows[0]["orders"], rows[0]["units_sold"], rows[0]["reviews"]) == ("120", "180", "60")


def test_unggulan_filters_months_and_a_decision(
    web: httpx.Client, app: App, seeded: Seeded
) -> None:
    refs = seed_candidates(app.db, category="makanan-minuman")
    sign_in(web, app)
    month = f"{local_day(utcnow()):%Y-%m}"
    chosen = web.get(f"/admin/unggulan?regency=3515&category=makanan-minuman&month={month}")
    assert ranked(chosen.text) == [("1", "Keripik Juara"), ("2", "Keripik Lumayan")]
    assert ranked(web.get("/admin/unggulan?regency=3515&category=fashion").text) == []
    assert ranked(web.get("/admin/unggulan?regency=3515&month=2020-01").text) == []
    for _ in range(2):  # a second confirmation congratulates nobody again
        decided = post(
            web,
            "/admin/unggulan/decide",
            ref=refs["Keripik Juara"],
            decision="confirm",
            note="rasa konsisten",
            regency="3515",
        )
        assert decided.status_code == 200, decided.text[:300]
    with app.db.read_session() as session:
        notices = session.exec(select(Notice.msgid)).all()
    assert notices.count("unggulan.congrats") == 1


def test_links_are_single_use_and_sessions_end(web: httpx.Client, app: App, seeded: Seeded) -> None:
    used = sign_in(web, app)
    web.cookies.clear()
    assert follow_link(web, used).status_code == 403  # a link signs in once
    sign_in(web, app)
    with app.db.session() as session:  # idle for longer than a session lasts
        for found in session.exec(select(DashboardSession)):
            found.last_seen_at = utcnow() - timedelta(hours=12, minutes=1)
            session.add(found)
    assert web.get("/admin/").status_code == 401
    path = "/admin/" + new_link(app, "console", "admin-ana")
    with app.db.session() as session:
        for link in session.exec(select(DashboardLink).where(col(DashboardLink.used_at).is_(None))):
            link.expires_at = utcnow() - timedelta(seconds=1)
            session.add(link)
    assert follow_link(web, path).status_code == 403


def test_a_broadcast_made_previewed_and_cancelled(
    web: httpx.Client, app: App, seeded: Seeded
) -> None:
    sign_in(web, app)
    form = {
        "segment": "regency",
        "value_regency": "3515",
        "text": "Halo Kak, ada pelatihan foto produk Sabtu ini!",
        "send_at": "2030-01-02T09:00",
    }
    preview = post(web, "/admin/broadcasts", **form)
    assert 'data-recipients="2"' in preview.text  # Sri and Tini
    post(web, "/admin/broadcasts", **form, action="create")
    with app.db.read_session() as session:
        [made] = session.exec(select(Broadcast)).all()
    assert (made.segment, made.segment_value) == ("regency", "3515")
    assert made.send_at is not None
    assert made.send_at.isoformat() == "2030-01-02T02:00:00+00:00"  # 09:00 WIB
    assert (
        f'data-broadcast="{made.id}" data-status="scheduled"' in web.get("/admin/broadcasts").text
    )
    cancelled = post(web, f"/admin/broadcasts/{made.id}/cancel")
    assert f'data-broadcast="{made.id}" data-status="cancelled"' in cancelled.text
    with app.db.read_session() as session:
        actions = set(session.exec(select(AuditLog.action)))
    assert {"broadcast", "cancel_broadcast"} <= actions


def test_a_revealed_number_and_a_new_facilitator_are_audited(
    web: httpx.Client, app: App, seeded: Seeded
) -> None:
    sign_in(web, app)
    revealed = post(web, f"/admin/shops/{seeded.sri}/reveal")
    assert '<span id="phone">0812-3456-7890</span>' in revealed.text
    added = post(web, "/admin/facilitators", name="Siti Aminah", regency="3515")
    assert "PDP-3515-002" in added.text
    with app.db.read_session() as session:
        audited = session.exec(select(AuditLog.action, AuditLog.target)).all()
    assert ("reveal_phone", f"seller {seeded.sri}") in audited
    assert "invite" in {action for action, _ in audited}
