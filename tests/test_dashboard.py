"""The web dashboard in a real browser (Debian's Chromium through Playwright) against the real
app on a loopback socket. On SQLite: the queries behind the pages are checked on both backends
without a browser (test_dashboard_queries.py)."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from openpyxl import load_workbook
from playwright.sync_api import Browser, Page, Request, ViewportSize, sync_playwright
from sqlmodel import select

from bot.app import App
from bot.storage.models import AuditLog, Broadcast, DashboardSession, OutboxEvent, utcnow
from bot.web import create_web_app
from tests.dashboard_data import EXPECTED, PAGES, Seeded, new_link, seed
from tests.served import Served, free_port
from tests.unggulan_data import seed_candidates

pytestmark = pytest.mark.any_backend

CHROMIUM = "/usr/bin/chromium"
VIEWPORT: ViewportSize = {"width": 1280, "height": 800}


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert Path(CHROMIUM).exists(), "install Debian's chromium: apt-get install -y chromium"
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture
def seeded(app: App) -> Seeded:
    return seed(app.db)


@pytest.fixture(scope="module")
def port() -> int:
    """Each test serves its own app, on the same port: the browser's page is kept."""
    return free_port()


@pytest.fixture
def served(app: App, seeded: Seeded, port: int) -> Iterator[Served]:
    server = Served(create_web_app(app), port, elsewhere=False)  # the page's base URL
    yield server
    server.stop()


@pytest.fixture(scope="module")
def browser_page(browser: Browser, port: int) -> Iterator[Page]:
    """One page for the module's tests: a new context or page costs Chromium 0.36 s of CPU
    (a renderer process), a navigation in a kept one 0.12 s."""
    context = browser.new_context(
        base_url=f"http://127.0.0.1:{port}", viewport=VIEWPORT, locale="id-ID"
    )
    yield context.new_page()
    context.close()


@pytest.fixture
def page(browser_page: Page, served: Served) -> Iterator[Page]:
    """The kept page, as a new one is: no cookies, the desktop size, a blank document."""
    context = browser_page.context
    outside: list[str] = []

    def note(request: Request) -> None:
        if not request.url.startswith(served.base):
            outside.append(request.url)

    context.on("request", note)
    yield browser_page
    context.remove_listener("request", note)
    browser_page.goto("about:blank")
    browser_page.set_viewport_size(VIEWPORT)
    context.clear_cookies()
    assert outside == []  # nothing ever left for another host


def sign_in(page: Page, app: App, channel: str = "console", external_id: str = "admin-ana") -> str:
    path = "/admin/" + new_link(app, channel, external_id)
    page.goto(path)
    page.get_by_role("button", name="Masuk").click()
    page.wait_for_url("**/admin/")
    return path


def metrics(page: Page) -> dict[str, int]:
    return {
        name: int(page.locator(f'[data-metric="{name}"]').text_content() or "") for name in EXPECTED
    }


def test_a_link_signs_in_once_and_shows_the_funnel(page: Page, app: App) -> None:
    page.goto("/admin/")
    assert page.locator("[data-metric]").count() == 0  # no session: the sign-in page, no data
    assert "/dasbor" in page.content()
    used = sign_in(page, app)
    assert metrics(page) == EXPECTED
    assert page.locator("#coverage tbody tr").count() == 38  # every East Java regency
    sidoarjo = page.locator('#coverage tr[data-regency="3515"] td')
    assert [sidoarjo.nth(i).inner_text() for i in range(4)] == [
        "Kabupaten Sidoarjo",
        "4",
        "2",
        "50%",
    ]
    assert page.evaluate("typeof window.Chart") == "function"  # the vendored library ran
    assert page.locator("#chart-daily").bounding_box()["height"] > 100  # type: ignore[index]
    page.context.clear_cookies()
    page.goto(used)
    page.get_by_role("button", name="Masuk").click()
    assert "sudah dipakai" in page.content()
    page.goto("/admin/")
    assert page.locator("[data-metric]").count() == 0


def test_an_expired_link_and_an_idle_session_end(page: Page, app: App) -> None:
    sign_in(page, app)
    with app.db.session() as session:
        for found in session.exec(select(DashboardSession)):
            found.last_seen_at = utcnow() - timedelta(hours=12, minutes=1)
            session.add(found)
    page.goto("/admin/")
    assert page.locator("[data-metric]").count() == 0
    path = "/admin/" + new_link(app, "console", "admin-ana")
    from bot.storage.models import DashboardLink

    with app.db.session() as session:
        for link in session.exec(select(DashboardLink).where(DashboardLink.used_at == None)):  # noqa: E711
            link.expires_at = utcnow() - timedelta(seconds=1)
            session.add(link)
    page.goto(path)
    page.get_by_role("button", name="Masuk").click()
    assert "sudah dipakai atau sudah lewat 15 menit" in page.content()


def test_a_facilitator_sees_only_their_own_shops(page: Page, app: App, seeded: Seeded) -> None:
    sign_in(page, app, "telegram", "111")  # Rina, PDP-3515-001
    assert metrics(page)["registered"] == 1
    assert "Usaha 0" in page.content()  # her leads from the imported data
    page.goto("/admin/shops")
    names = page.locator("#shops tbody td:first-child").all_inner_texts()
    assert names == ["Keripik Bu Sri"]
    response = page.goto(f"/admin/shops/{seeded.budi}")
    assert response is not None and response.status == 404
    assert "Sambal Pak Budi" not in page.content()
    response = page.goto(f"/admin/shops/{seeded.sri}")
    assert response is not None and response.status == 200
    assert page.locator("#phone").inner_text() == "0812-****-7890"
    assert page.get_by_role("button", name="Lihat nomor").count() == 0  # admins only
    response = page.goto("/admin/sync")
    assert response is not None and response.status == 403


def test_a_post_without_the_csrf_token_is_refused(page: Page, app: App, seeded: Seeded) -> None:
    sign_in(page, app)
    refused = page.request.post(f"/admin/sync/{seeded.failed_event}/retry", form={"x": "1"})
    assert refused.status == 403
    forged = page.request.post(
        f"/admin/sync/{seeded.failed_event}/retry", form={"csrf": "guess"}, max_redirects=0
    )
    assert forged.status == 403
    with app.db.read_session() as session:
        assert session.get(OutboxEvent, seeded.failed_event).state == "failed"  # type: ignore[union-attr]


def test_retry_a_failed_sync(page: Page, app: App, seeded: Seeded) -> None:
    sign_in(page, app)
    page.goto("/admin/sync")
    row = page.locator(f'#failed tr[data-event="{seeded.failed_event}"]')
    assert "price below the marketplace minimum" in row.inner_text()
    row.get_by_role("button", name="Kirim ulang").click()
    page.wait_for_url("**/admin/sync?retried=1")
    assert page.locator(f'#failed tr[data-event="{seeded.failed_event}"]').count() == 0
    with app.db.read_session() as session:
        assert session.get(OutboxEvent, seeded.failed_event).state == "pending"  # type: ignore[union-attr]
    page.goto("/admin/audit")
    assert page.locator('#audit tr[data-action="retry_sync"]').count() == 1


def test_create_preview_and_cancel_a_broadcast(page: Page, app: App) -> None:
    sign_in(page, app)
    page.goto("/admin/broadcasts")
    page.select_option("#segment", "regency")
    page.select_option('select[name="value_regency"]', "3515")
    page.fill('textarea[name="text"]', "Halo Kak, ada pelatihan foto produk Sabtu ini!")
    page.fill('input[name="send_at"]', "2030-01-02T09:00")
    page.get_by_role("button", name="Lihat penerima").click()
    assert page.locator("#preview").get_attribute("data-recipients") == "2"  # Sri and Tini
    page.get_by_role("button", name="Buat siaran").click()
    page.wait_for_url("**/admin/broadcasts")
    row = page.locator("#broadcasts tbody tr").first
    assert row.get_attribute("data-status") == "scheduled"
    with app.db.read_session() as session:
        [made] = session.exec(select(Broadcast)).all()
    assert (made.segment, made.segment_value) == ("regency", "3515")
    assert made.send_at.isoformat() == "2030-01-02T02:00:00+00:00"  # 09:00 WIB
    row.get_by_role("button", name="Batalkan").click()
    page.wait_for_url("**/admin/broadcasts")
    assert page.locator("#broadcasts tbody tr").first.get_attribute("data-status") == "cancelled"
    with app.db.read_session() as session:
        assert session.get(Broadcast, made.id).status == "cancelled"  # type: ignore[union-attr]
        actions = set(session.exec(select(AuditLog.action)))
    assert {"broadcast", "cancel_broadcast"} <= actions


def test_an_admin_reveals_a_phone_number_and_it_is_audited(
    page: Page, app: App, seeded: Seeded
) -> None:
    sign_in(page, app)
    page.goto("/admin/shops?q=keripik")
    page.get_by_role("link", name="Keripik Bu Sri").click()
    assert page.locator("#phone").inner_text() == "0812-****-7890"
    assert "Keripik tempe pedas" in page.content()
    assert "Rp15.000" in page.content()
    page.get_by_role("button", name="Lihat nomor").click()
    assert page.locator("#phone").inner_text() == "0812-3456-7890"
    with app.db.read_session() as session:
        [entry] = session.exec(select(AuditLog).where(AuditLog.action == "reveal_phone")).all()
    assert entry.target == f"seller {seeded.sri}"


def test_search_by_regency_category_and_step(page: Page, app: App) -> None:
    sign_in(page, app)
    page.goto("/admin/shops?regency=3515&step=registered")
    assert page.locator("#shops tbody td:first-child").all_inner_texts() == ["Batik Tini"]
    page.goto("/admin/shops?q=budi&category=makanan-minuman")
    assert page.locator("#shops tbody td:first-child").all_inner_texts() == ["Sambal Pak Budi"]
    page.goto("/admin/shops?step=live")
    assert page.locator("#shops tbody td:first-child").all_inner_texts() == ["Keripik Bu Sri"]


def test_add_a_facilitator_shows_the_invite(page: Page, app: App) -> None:
    sign_in(page, app)
    page.goto("/admin/facilitators")
    page.fill('input[name="name"]', "Siti Aminah")
    page.select_option('select[name="regency"]', "3515")
    page.get_by_role("button", name="Tambah dan buat kode undangan").click()
    invite = page.locator("[data-invite]").get_attribute("data-invite") or ""
    assert re.fullmatch(r"[A-Z2-9]{8}", invite)
    assert f"/pendamping {invite}" in page.locator("#invite").inner_text()
    assert "PDP-3515-002" in page.locator("#facilitators").inner_text()


def test_exports_download_and_read_back(page: Page, app: App, tmp_path: Path) -> None:
    sign_in(page, app)
    page.goto("/admin/exports")
    files = {}
    for kind in ("shops", "products"):
        for fmt in ("csv", "xlsx"):
            page.select_option(f"form[action='/admin/export/{kind}.{fmt}'] select", "3515")
            with page.expect_download() as info:
                page.click(f"#export-{kind}-{fmt}")
            target = tmp_path / f"{kind}.{fmt}"
            info.value.save_as(target)
            files[kind, fmt] = target
    shops = list(csv.DictReader(io.StringIO(files["shops", "csv"].read_text("utf-8-sig"))))
    assert [s["shop_name"] for s in shops] == ["Keripik Bu Sri", "Batik Tini"]
    assert shops[0]["phone"] == "0812-****-7890" and shops[0]["live_products"] == "1"
    sheet = load_workbook(files["shops", "xlsx"], read_only=True).active
    rows = list(sheet.iter_rows(values_only=True))  # type: ignore[union-attr]
    assert rows[0][:2] == ("ref", "shop_name") and [r[1] for r in rows[1:]] == [
        "Keripik Bu Sri",
        "Batik Tini",
    ]
    products = list(csv.DictReader(io.StringIO(files["products", "csv"].read_text("utf-8-sig"))))
    assert [(p["name"], p["price_rupiah"]) for p in products] == [("Keripik tempe pedas", "15000")]
    sheet = load_workbook(files["products", "xlsx"], read_only=True).active
    rows = list(sheet.iter_rows(values_only=True))  # type: ignore[union-attr]
    assert [(r[5], r[7]) for r in rows[1:]] == [("Keripik tempe pedas", 15000)]


URL_ATTRIBUTE = re.compile(r'(?<![\w-])(?:src|href|action)="([^"]*)"')
COMMENT = re.compile(r"/\*.*?\*/", re.S)


def test_no_page_or_asset_refers_to_another_host(page: Page, app: App, seeded: Seeded) -> None:
    seed_candidates(app.db)  # the produk unggulan page with candidates, their photos and forms
    sign_in(page, app)
    assets: set[str] = set()
    for path in PAGES:
        response = page.goto(path.format(sri=seeded.sri))
        assert response is not None and response.status == 200, path
        assert "default-src 'self'" in response.headers["content-security-policy"]
        for url in URL_ATTRIBUTE.findall(page.content()):
            assert url.startswith("/") and not url.startswith("//"), (path, url)
            if "/static/" in url:
                assets.add(url)
    assert {
        "/admin/static/dash.css",
        "/admin/static/dash.js",
        "/admin/static/chart.umd.min.js",
    } <= assets
    for asset in assets:
        body = page.request.get(asset).text()
        assert not re.search(r"https?://", COMMENT.sub("", body)), asset
    licence = page.request.get("/admin/static/chart.js.LICENSE.md")
    assert licence.ok and "MIT License" in licence.text()


def test_pages_fit_a_phone_and_a_desktop(
    page: Page, app: App, seeded: Seeded, tmp_path: Path
) -> None:
    """Screenshots for a person to look at (kept in the test's tmp dir), and no sideways scroll
    on a 360-px phone outside the tables' own scroll boxes."""
    seed_candidates(app.db)
    sign_in(page, app)
    shots = Path(tmp_path / "shots")
    shots.mkdir()
    for width, height in ((360, 740), (1280, 800)):
        page.set_viewport_size({"width": width, "height": height})
        for path in PAGES:
            page.goto(path.format(sri=seeded.sri))
            name = path.strip("/").replace("/", "_").replace("{sri}", "shop") or "admin"
            page.screenshot(path=str(shots / f"{name}-{width}.png"), full_page=True)
            overflow = page.evaluate("document.documentElement.scrollWidth")
            assert overflow <= width, (path, width, overflow)


def test_english_from_the_same_catalogs(page: Page, app: App) -> None:
    sign_in(page, app)
    page.get_by_role("button", name="English").click()
    page.wait_for_url("**/admin/")
    assert page.get_by_role("heading", name="Programme overview").count() == 1
    assert page.locator('[data-metric="started"]').text_content() == "5"


def test_huge_numbers_in_addresses_are_not_found_not_errors(page: Page, app: App) -> None:
    sign_in(page, app)
    huge = "9" * 30
    assert page.request.get(f"/admin/shops/{huge}").status == 404
    assert page.request.get(f"/admin/shops?page={huge}").status == 200
