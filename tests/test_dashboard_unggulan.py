"""The dashboard's produk unggulan page in Chromium: candidates in rank order with why, an
admin confirming and declining (the owner congratulated once, as `pelapak unggulan confirm`
does), facilitators kept out, and the curation board's export read back."""

from __future__ import annotations

import csv
import io
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from openpyxl import load_workbook
from playwright.sync_api import Locator, Page
from sqlmodel import col, select

from bot.app import App
from bot.sales import local_day
from bot.storage.models import AuditLog, Notice, ProdukUnggulan, Seller, utcnow
from bot.unggulan import decide
from tests import test_dashboard as dashboard
from tests.dashboard_data import Seeded
from tests.test_dashboard import sign_in
from tests.unggulan_data import seed_candidates

# The browser, the seeded dashboard data, the served app and a page, as test_dashboard has them.
browser, port, browser_page, seeded, served, page = (
    dashboard.browser,
    dashboard.port,
    dashboard.browser_page,
    dashboard.seeded,
    dashboard.served,
    dashboard.page,
)


@pytest.fixture
def refs(app: App, seeded: Seeded) -> dict[str, str]:
    """The dashboard's shops, and the snack shops with 60 days of figures (Keripik Juara helped
    by the seeded facilitator Rina, PDP-3515-001)."""
    return seed_candidates(app.db, category="makanan-minuman")


def this_month() -> str:
    return f"{local_day(utcnow()):%Y-%m}"


def month_name() -> str:
    """This month as the English catalog's dates write it ("November 2026")."""
    return f"{local_day(utcnow()):%B %Y}"


def candidate(page: Page, ref: str) -> Locator:
    return page.locator(f'article.candidate[data-ref="{ref}"]')


def shown(page: Page) -> list[tuple[str, str]]:
    """(rank, product name) of each candidate on the page, top to bottom."""
    cards = page.locator("article.candidate")
    return [
        (
            cards.nth(i).get_attribute("data-rank") or "",
            (cards.nth(i).locator("h3").inner_text()).split(" ", 1)[1],
        )
        for i in range(cards.count())
    ]


def congratulations(app: App) -> list[str]:
    with app.db.read_session() as session:
        notices = session.exec(select(Notice).order_by(col(Notice.id))).all()
    return [n.params["name"] for n in notices if n.msgid == "unggulan.congrats"]


def choose(page: Page, ref: str, button: str, note: str = "") -> None:
    card = candidate(page, ref)
    card.locator('input[name="note"]').fill(note)
    card.get_by_role("button", name=button).click()
    page.wait_for_url("**/admin/unggulan?**")


@pytest.mark.any_backend  # the queries on both: test_dashboard_queries.py
def test_an_admin_filters_and_sees_candidates_in_rank_order_with_why(
    page: Page,
    app: App,
    refs: dict[str, str],
) -> None:
    sign_in(page, app)
    page.get_by_role("link", name="Unggulan").click()
    page.wait_for_url("**/admin/unggulan")
    month = page.locator('#filters input[name="month"]')
    assert month.input_value() == this_month()  # this month in WIB, by default
    for odd in ("0001-01", "2099-12", "abc"):  # out of range, not begun, not a month
        assert page.goto(f"/admin/unggulan?month={odd}").ok  # type: ignore[union-attr]
        assert month.input_value() == this_month(), odd
    page.goto("/admin/unggulan")
    assert shown(page) == [("1", "Keripik Juara"), ("2", "Keripik Lumayan"), ("1", "Keripik Kota")]
    assert page.locator("section.group h2").all_inner_texts() == [
        "Kabupaten Sidoarjo · Makanan & Minuman",
        "Kota Surabaya · Makanan & Minuman",
    ]
    page.select_option('#filters select[name="regency"]', "3515")
    page.select_option('#filters select[name="category"]', "makanan-minuman")
    page.fill('#filters input[name="month"]', this_month())
    page.get_by_role("button", name="Tampilkan").click()
    page.wait_for_url("**/admin/unggulan?regency=3515&category=makanan-minuman&month=*")
    assert shown(page) == [("1", "Keripik Juara"), ("2", "Keripik Lumayan")]
    assert page.locator("#count").get_attribute("data-count") == "2"
    juara = candidate(page, refs["Keripik Juara"])
    assert "Toko: Keripik Juara" in juara.inner_text()
    assert "Pendamping: PDP-3515-001 Rina" in juara.inner_text()
    assert juara.locator("img").get_attribute("src") == f"/media/{'a' * 64}.jpg"
    # 60 days of 2 orders, 3 units (Rp15.000 each), 40 views and one 5-star review a day
    figures = juara.locator(".figures").inner_text()
    assert figures == "2.400 kunjungan · 120 pesanan · 180 terjual · Rp2.700.000 · 60 ulasan"
    parts = {
        (row.get_attribute("data-part") or ""): row.locator("td").all_inner_texts()
        for row in juara.locator("tr[data-part]").all()
    }
    assert list(parts) == ["rating", "sales", "conversion", "returns"]
    assert parts["rating"][0].startswith("Rating") and parts["rating"][2:] == ["100", "35%"]
    assert parts["sales"][1:] == ["60,0", "100", "30%"]  # 180 units in 90 days
    assert parts["conversion"][1:3] == ["5%", "100"]  # 120 orders / 2,400 views
    assert parts["returns"][1:3] == ["0%", "50"]  # a tie with Lumayan counts half
    assert juara.locator(".score").inner_text() == "Skor 92,5"
    assert juara.get_attribute("data-decision") == "pending"
    assert "Belum diputuskan" in juara.inner_text()
    page.goto("/admin/unggulan?regency=3515&month=2020-01")  # no figures then
    assert page.locator("article.candidate").count() == 0
    assert page.locator("#none").count() == 1
    assert page.locator("h1").inner_text() == "Kandidat produk unggulan Januari 2020"
    page.get_by_role("button", name="English").click()  # the same page from the en catalog
    page.wait_for_url("**/admin/unggulan")
    assert page.locator("h1").inner_text() == f"Produk unggulan candidates, {month_name()}"
    assert "Units sold per 30 days" in candidate(page, refs["Keripik Juara"]).inner_text()


@pytest.mark.any_backend  # the queries on both: test_dashboard_queries.py
def test_confirm_congratulates_once_and_decline_keeps_the_note(
    page: Page,
    app: App,
    refs: dict[str, str],
) -> None:
    juara, lumayan = refs["Keripik Juara"], refs["Keripik Lumayan"]
    sign_in(page, app)
    page.goto("/admin/unggulan?regency=3515")
    choose(page, juara, "Jadikan unggulan", "rasa konsisten")
    assert page.locator("#outcome").get_attribute("data-outcome") == "confirmed"
    card = candidate(page, juara)
    assert card.get_attribute("data-decision") == "confirmed"
    assert "Catatan: rasa konsisten" in card.inner_text()
    assert "oleh admin console:admin-ana" in card.inner_text()
    assert congratulations(app) == ["Keripik Juara"]

    choose(page, lumayan, "Tolak", "foto kurang")
    assert page.locator("#outcome").get_attribute("data-outcome") == "declined"
    assert candidate(page, lumayan).get_attribute("data-decision") == "declined"
    assert "Catatan: foto kurang" in candidate(page, lumayan).inner_text()

    choose(page, juara, "Jadikan unggulan")  # again: still confirmed, nobody hears twice
    choose(page, juara, "Tolak", "salah pilih")
    assert candidate(page, juara).get_attribute("data-decision") == "declined"
    choose(page, juara, "Jadikan unggulan", "jadi juga")  # confirmed after a decline
    assert candidate(page, juara).get_attribute("data-decision") == "confirmed"
    assert congratulations(app) == ["Keripik Juara"]

    with app.db.read_session() as session:
        decisions = {d.product_ref: d for d in session.exec(select(ProdukUnggulan))}
        actions = session.exec(
            select(AuditLog.action, AuditLog.target).where(
                col(AuditLog.action).startswith("unggulan_")
            )
        ).all()
    assert (decisions[juara].status, decisions[juara].note) == ("confirmed", "jadi juga")
    assert decisions[juara].decided_by == "admin console:admin-ana"
    assert decisions[juara].month == this_month() and decisions[juara].parts["rank"] == 1
    assert (decisions[lumayan].status, decisions[lumayan].note) == ("declined", "foto kurang")
    assert sorted(actions) == sorted(
        [
            ("unggulan_confirm", f"product {juara}"),
            ("unggulan_decline", f"product {lumayan}"),
            ("unggulan_confirm", f"product {juara}"),
            ("unggulan_decline", f"product {juara}"),
            ("unggulan_confirm", f"product {juara}"),
        ]
    )
    page.goto("/admin/audit")
    assert page.locator('#audit tr[data-action="unggulan_confirm"]').count() == 3
    assert "Unggulan dikonfirmasi" in page.locator("#audit").inner_text()


@pytest.mark.any_backend  # the queries on both: test_dashboard_queries.py
def test_a_product_under_the_evidence_minimum_cannot_be_confirmed(
    page: Page,
    app: App,
    refs: dict[str, str],
) -> None:
    sign_in(page, app)
    page.goto("/admin/unggulan?regency=3515")
    csrf = page.locator('form.decide input[name="csrf"]').first.input_value()
    form = {"csrf": csrf, "ref": refs["Keripik Baru"], "decision": "confirm", "regency": "3515"}
    answer = page.request.post("/admin/unggulan/decide", form=form)
    assert answer.ok and "outcome=not_candidate" in answer.url
    missing = page.request.post("/admin/unggulan/decide", form={**form, "ref": "P_nope"})
    assert missing.status == 404
    odd = page.request.post("/admin/unggulan/decide", form={**form, "decision": "maybe"})
    assert odd.status == 400
    assert congratulations(app) == []
    with app.db.read_session() as session:
        assert session.exec(select(ProdukUnggulan)).all() == []


def test_two_admins_confirming_at_once_congratulate_once(
    app: App,
    refs: dict[str, str],
) -> None:
    """What the dashboard's button calls, from four threads at once (a double click, two
    admins): one congratulation, on a fresh candidate and on one declined before."""
    juara, lumayan = refs["Keripik Juara"], refs["Keripik Lumayan"]
    now = utcnow()
    today = local_day(now)
    assert decide(app.db, lumayan, "declined", "belum", now, today) == "declined"
    outcomes: list[str] = []

    def confirm(ref: str, by: str) -> Callable[[], None]:
        return lambda: outcomes.append(decide(app.db, ref, "confirmed", None, now, today, by=by))

    threads = [
        threading.Thread(target=confirm(ref, f"admin console:{n}"))
        for ref in (juara, lumayan)
        for n in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes == ["confirmed"] * 8
    assert sorted(congratulations(app)) == ["Keripik Juara", "Keripik Lumayan"]


@pytest.mark.any_backend
def test_a_facilitator_cannot_see_or_decide(
    page: Page,
    app: App,
    refs: dict[str, str],
) -> None:
    sign_in(page, app, "telegram", "111")  # Rina, who helps Keripik Juara
    assert page.get_by_role("link", name="Unggulan").count() == 0
    response = page.goto("/admin/unggulan")
    assert response is not None and response.status == 403
    assert "Keripik Juara" not in page.content()
    page.goto("/admin/")
    csrf = page.locator('input[name="csrf"]').first.input_value()
    form = {"csrf": csrf, "ref": refs["Keripik Juara"], "decision": "confirm"}
    assert page.request.post("/admin/unggulan/decide", form=form).status == 403
    assert page.request.get("/admin/unggulan/export.csv").status == 403
    assert congratulations(app) == []
    with app.db.read_session() as session:
        assert session.exec(select(ProdukUnggulan)).all() == []


@pytest.mark.any_backend
def test_an_admin_needs_the_csrf_token_to_decide(
    page: Page,
    app: App,
    refs: dict[str, str],
) -> None:
    sign_in(page, app)
    form = {"ref": refs["Keripik Juara"], "decision": "confirm"}
    assert page.request.post("/admin/unggulan/decide", form=form).status == 403
    forged = {**form, "csrf": "guess"}
    assert page.request.post("/admin/unggulan/decide", form=forged).status == 403
    assert congratulations(app) == []


@pytest.mark.any_backend  # the queries on both: test_dashboard_queries.py
def test_the_curation_export_downloads_and_reads_back(
    page: Page,
    app: App,
    refs: dict[str, str],
    tmp_path: Path,
) -> None:
    with app.db.session() as session:  # an owner's text must stay text in a spreadsheet
        seller = session.exec(select(Seller).where(Seller.shop_name == "Keripik Lumayan")).one()
        seller.shop_name = '=HYPERLINK("http://x")'
        session.add(seller)
    sign_in(page, app)
    page.goto("/admin/unggulan?regency=3515")
    choose(page, refs["Keripik Juara"], "Jadikan unggulan", "rasa konsisten")
    files = {}
    for fmt in ("csv", "xlsx"):
        with page.expect_download() as info:
            page.click(f"#export-{fmt}")
        assert info.value.suggested_filename == f"pelapak-unggulan-3515-{this_month()}.{fmt}"
        files[fmt] = tmp_path / f"unggulan.{fmt}"
        info.value.save_as(files[fmt])
    rows = list(csv.DictReader(io.StringIO(files["csv"].read_text("utf-8-sig"))))
    assert [(r["rank"], r["product"]) for r in rows] == [
        ("1", "Keripik Juara"),
        ("2", "Keripik Lumayan"),
    ]
    juara, lumayan = rows
    assert (juara["regency"], juara["shop"]) == ("Kabupaten Sidoarjo", "Keripik Juara")
    assert juara["facilitator"] == "PDP-3515-001 Rina"
    assert juara["photos"].endswith(f"/media/{'a' * 64}.jpg")
    assert (juara["orders"], juara["units_sold"], juara["reviews"]) == ("120", "180", "60")
    assert float(juara["rating_percentile"]) == 100.0
    assert (juara["decision"], juara["note"]) == ("confirmed", "rasa konsisten")
    assert lumayan["shop"] == '\'=HYPERLINK("http://x")' and lumayan["decision"] == ""
    sheet = load_workbook(files["xlsx"]).active
    assert sheet is not None
    table = list(sheet.iter_rows())
    header = [c.value for c in table[0]]
    assert [r[header.index("product")].value for r in table[1:]] == [
        "Keripik Juara",
        "Keripik Lumayan",
    ]
    shop_cell = table[2][header.index("shop")]
    assert shop_cell.value == '=HYPERLINK("http://x")' and shop_cell.data_type == "s"
    with app.db.read_session() as session:
        exported = session.exec(select(AuditLog.target).where(AuditLog.action == "export")).all()
    assert sorted(exported) == ["unggulan.csv", "unggulan.xlsx"]
