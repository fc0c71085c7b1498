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

import httpx
import pytest
from openpyxl import load_workbook

from bot.app import App
from bot.web import create_web_app
from tests.dashboard_data import EXPECTED, Seeded, seed
from tests.served import Served, free_port
from tests.test_dashboard import PAGES, new_link
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
    """The app served once the data is in (its summaries are worked out as it starts)."""
    server = Served(create_web_app(app), free_port())
    with httpx.Client(base_url=server.base, follow_redirects=True) as client:
        yield client
    server.stop()


def sign_in(web: httpx.Client, app: App, channel: str = "console", who: str = "admin-ana") -> None:
    form = web.get("/admin/" + new_link(app, channel, who))
    token = form.url.path.rsplit("/", 1)[1]
    [csrf] = CSRF.findall(form.text)
    signed = web.post("/admin/login", data={"csrf": csrf, "token": token})
    assert signed.status_code == 200 and signed.url.path == "/admin/", signed.text[:200]


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


def test_unggulan_candidates_in_rank_order_and_their_export(
    web: httpx.Client, app: App, seeded: Seeded
) -> None:
    seed_candidates(app.db, category="makanan-minuman")
    sign_in(web, app)
    page = web.get("/admin/unggulan").text
    ranked = [(rank, html.unescape(name).strip()) for rank, name in CANDIDATE.findall(page)]
    assert ranked == [("1", "Keripik Juara"), ("2", "Keripik Lumayan"), ("1", "Keripik Kota")]
    assert "2.400 kunjungan · 120 pesanan · 180 terjual · Rp2.700.000 · 60 ulasan" in page
    exported = web.get("/admin/unggulan/export.csv?regency=3515")
    rows = list(csv.DictReader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert [(r["rank"], r["product"]) for r in rows] == [
        ("1", "Keripik Juara"),
        ("2", "Keripik Lumayan"),
    ]
    assert (rows[0]["orders"], rows[0]["units_sold"], rows[0]["reviews"]) == ("120", "180", "60")
