"""The dashboard's pages: server-rendered (Jinja2), plain forms, charts drawn by Chart.js.

Every page needs a session; without one the sign-in page is shown and no data. Facilitators see
their own shops and leads only; the rest is for admins. Every POST carries the session's CSRF
token (403 without it), and admin actions are written to the audit log.
"""

from __future__ import annotations

import asyncio
import csv
import hmac
import io
import json
import os
import secrets
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlmodel import Session
from starlette.applications import Starlette
from starlette.convertors import IntegerConvertor, register_url_convertor
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from bot import broadcasts
from bot.dashboard import auth, queries
from bot.dashboard.curation import Kit, curation_routes
from bot.dashboard.format import Formats, full_phone, mask_phone
from bot.i18n import Renderer, pick_locale
from bot.roles import add_facilitator, assign_leads
from bot.spreadsheet import csv_row, xlsx_row
from bot.storage.models import Broadcast, BroadcastDelivery, utcnow
from bot.sync.status import requeue
from flows.admin import STALLED_STEPS
from flows.categories import LABELS, categories
from flows.messages import Text


class RowId(IntegerConvertor):
    """A row id: at most 18 digits, so a huge number is a 404, not an overflow (500)."""

    regex = "[0-9]{1,18}"


register_url_convertor("rowid", RowId())

if TYPE_CHECKING:
    from bot.app import App

HERE = Path(__file__).resolve().parent
MAX_FORM = 64 * 1024
# The overview's and the regency table's aggregates are kept this long per process (a summary
# refreshed on a schedule); every other page reads the database on each request.
SUMMARY_SECONDS = 30.0
PRE_COOKIE = "pelapak_signin"  # the sign-in form's CSRF token, before there is a session
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
        "script-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",  # a sign-in link never leaves in a Referer
    "Cache-Control": "no-store",
}
Handler = Callable[[Request, auth.Who], Awaitable[Response]]


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env


def create_dashboard(app: App) -> Starlette:
    """The dashboard as an app of its own, to mount at /admin."""
    settings = app.settings
    db = app.db
    templates = _environment()
    secure = (settings.public_base_url or "").startswith("https://")
    key_holder: list[bytes] = []

    def key() -> bytes:
        if not key_holder:
            key_holder.append(auth.signing_key(db, settings))
        return key_holder[0]

    def render(
        request: Request,
        name: str,
        who: auth.Who | None,
        status: int = 200,
        locale: str | None = None,
        **context: Any,
    ) -> Response:
        lang = pick_locale(locale or (who.locale if who else None) or _browser_locale(request))
        renderer = Renderer(lang, settings.timezone)

        def translate(msgid: str, **params: Any) -> str:
            return renderer.text(Text(msgid, params))

        page = templates.get_template(name).render(
            t=translate,
            fmt=Formats(lang, settings.timezone),
            who=who,
            lang=lang,
            path=request.url.path,
            root=request.scope.get("root_path", "") or "/admin",
            label=lambda text: renderer(text) if isinstance(text, Text) else str(text),
            **context,
        )
        return HTMLResponse(page, status_code=status, headers=HEADERS)

    def sign_in_page(request: Request, status: int, problem: str | None = None) -> Response:
        pre = secrets.token_urlsafe(24)
        token = request.path_params.get("token", "")
        response = render(
            request,
            "signin.html",
            None,
            status=status,
            token=token,
            pre=pre,
            problem=problem,
        )
        response.set_cookie(
            PRE_COOKIE, pre, httponly=True, samesite="lax", secure=secure, path="/admin"
        )
        return response

    async def who_is(request: Request) -> auth.Who | None:
        value = request.cookies.get(auth.COOKIE, "")
        token = auth.unsign(await asyncio.to_thread(key), value) if value else None
        if token is None:
            return None
        return await asyncio.to_thread(auth.current, db, token, utcnow())

    async def form_of(request: Request) -> dict[str, str] | None:
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_FORM:
                return None
        return dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))

    def page(
        handler: Handler, admin_only: bool = False
    ) -> Callable[[Request], Awaitable[Response]]:
        """Signed in (else the sign-in page), the right role, and a CSRF token on a POST."""

        async def endpoint(request: Request) -> Response:
            who = await who_is(request)
            if who is None:
                if request.method == "POST":
                    return Response(status_code=403, headers=HEADERS)
                return sign_in_page(request, 401)
            if admin_only and not who.is_admin:
                return render(
                    request, "error.html", who, status=403, message="dash.error.admin_only"
                )
            if request.method == "POST":
                form = await form_of(request)
                given = (form or {}).get("csrf", "")
                if form is None or not hmac.compare_digest(given.encode(), who.csrf.encode()):
                    return Response("CSRF", status_code=403, headers=HEADERS)
                request.state.form = form
            return await handler(request, who)

        return endpoint

    def read(fn: Callable[[Session], Any]) -> Awaitable[Any]:
        def run() -> Any:
            with db.read_session() as session:
                return fn(session)

        return asyncio.to_thread(run)

    def scope(who: auth.Who) -> str | None:
        """The facilitator code a facilitator's views are limited to (None for admins)."""
        return None if who.is_admin else (who.facilitator_code or "-")

    # --- signing in and out ------------------------------------------------------------------

    async def login_form(request: Request) -> Response:
        return sign_in_page(request, 200)

    async def login(request: Request) -> Response:
        form = await form_of(request) or {}
        pre = request.cookies.get(PRE_COOKIE, "")
        if not pre or not hmac.compare_digest(form.get("csrf", "").encode(), pre.encode()):
            return Response("CSRF", status_code=403, headers=HEADERS)
        token = form.get("token", "")
        locale = pick_locale(_browser_locale(request))
        session_token = (
            await asyncio.to_thread(auth.redeem, db, token, locale, utcnow()) if token else None
        )
        if session_token is None:
            return sign_in_page(request, 403, "dash.signin.link_invalid")
        response = RedirectResponse("/admin/", status_code=303, headers=HEADERS)
        response.set_cookie(
            auth.COOKIE,
            auth.sign(await asyncio.to_thread(key), session_token),
            httponly=True,
            samesite="lax",
            secure=secure,
            path="/admin",
        )
        response.delete_cookie(PRE_COOKIE, path="/admin")
        return response

    async def logout(request: Request, who: auth.Who) -> Response:
        await asyncio.to_thread(auth.end, db, who.session_id, utcnow())
        response = RedirectResponse("/admin/", status_code=303, headers=HEADERS)
        response.delete_cookie(auth.COOKIE, path="/admin")
        return response

    async def language(request: Request, who: auth.Who) -> Response:
        chosen = pick_locale(request.state.form.get("lang"))
        await asyncio.to_thread(auth.set_locale, db, who.session_id, chosen)
        back = request.state.form.get("next", "/admin/")
        return RedirectResponse(back if back.startswith("/admin") else "/admin/", status_code=303)

    # --- overview ----------------------------------------------------------------------------

    Key = tuple[str, str | None]
    summaries: dict[Key, tuple[float, Any]] = {}
    computing: dict[Key, asyncio.Task[Any]] = {}

    async def compute(key: Key, fn: Callable[[Session], Any]) -> Any:
        try:
            value = await read(fn)
            summaries[key] = (time.monotonic(), value)
            return value
        finally:
            computing.pop(key, None)

    async def summary(name: str, code: str | None, fn: Callable[[Session], Any]) -> Any:
        """Aggregates over the whole programme, served from memory: older than
        SUMMARY_SECONDS, they are recomputed in the background while the last ones are
        shown. Only a view nobody has opened yet waits, and then for one computation
        (the admins' overview is computed at start-up)."""
        key = (name, code)
        kept = summaries.get(key)
        if kept is not None and time.monotonic() - kept[0] < SUMMARY_SECONDS:
            return kept[1]
        if key not in computing:
            computing[key] = asyncio.create_task(compute(key, fn))
        if kept is not None:
            return kept[1]  # the last figures, while the new ones are computed
        return await asyncio.shield(computing[key])

    def gatherer(code: str | None, is_admin: bool, facilitator_id: int | None) -> Any:
        def gather(session: Session) -> dict[str, Any]:
            now = utcnow()
            funnel = queries.funnel_totals(session, code)
            line = queries.daily(session, now, settings.timezone, code)
            rows = queries.regency_table(session) if is_admin else []
            leads = queries.leads(session, facilitator_id) if facilitator_id else []
            return {"funnel": funnel, "line": line, "rows": rows, "leads": leads}

        return gather

    async def warm() -> None:
        """The admins' overview, computed once at start-up (off the request path)."""
        await summary("overview", None, gatherer(None, True, None))

    async def overview(request: Request, who: auth.Who) -> Response:
        code = scope(who)
        data = await summary(
            "overview",
            code if who.is_admin else f"{code}:{who.facilitator_id}",
            gatherer(code, who.is_admin, who.facilitator_id),
        )
        fmt = Formats(pick_locale(who.locale), settings.timezone)
        chart = {
            "funnel": {"values": [data["funnel"][s] for s in queries.STAGES]},
            "daily": {
                "labels": [fmt.day(d) for d in data["line"].days],
                "registrations": data["line"].registrations,
                "live": data["line"].live,
            },
            "coverage": {
                "labels": [r.name for r in data["rows"]],
                "values": [round(r.coverage * 100, 1) for r in data["rows"]],
            },
        }
        return render(
            request,
            "overview.html",
            who,
            stages=queries.STAGES,
            chart_json=json.dumps(chart).replace("</", "<\\/"),
            **data,
        )

    async def regency_page(request: Request, who: auth.Who) -> Response:
        rows = await summary("regencies", None, queries.regency_table)
        return render(request, "regencies.html", who, rows=rows)

    async def facilitator_page(request: Request, who: auth.Who, added: Any = None) -> Response:
        rows = await read(queries.facilitator_table)
        return render(
            request,
            "facilitators.html",
            who,
            rows=rows,
            added=added,
            regency_options=queries.east_java_options(),
            problem=None,
        )

    async def facilitator_add(request: Request, who: auth.Who) -> Response:
        form = request.state.form
        name, regency = form.get("name", ""), form.get("regency", "")

        def add() -> dict[str, Any]:
            with db.session() as session:
                facilitator = add_facilitator(session, name, regency)
                leads = assign_leads(session, facilitator, None)
                return {
                    "name": facilitator.name,
                    "code": facilitator.code,
                    "invite": facilitator.invite_code,
                    "leads": leads,
                }

        try:
            added = await asyncio.to_thread(add)
        except ValueError:
            rows = await read(queries.facilitator_table)
            return render(
                request,
                "facilitators.html",
                who,
                status=400,
                rows=rows,
                added=None,
                regency_options=queries.east_java_options(),
                problem="dash.facilitators.invalid",
            )
        await asyncio.to_thread(auth.audit, db, who, "invite", added["code"], name=added["name"])
        username = settings.telegram_bot_username
        added["link"] = f"https://t.me/{username}?start=pdp_{added['invite']}" if username else None
        return await facilitator_page(request, who, added)

    # --- shops -------------------------------------------------------------------------------

    async def shops(request: Request, who: auth.Who) -> Response:
        params = request.query_params
        page_number = params.get("page", "1")
        search = queries.Search(
            q=params.get("q", "")[:100],
            regency=params.get("regency", "")[:4],
            category=params.get("category", "")[:40],
            step=params.get("step", "") if params.get("step") in queries.STEPS else "",
            page=int(page_number) if page_number.isdigit() and len(page_number) <= 6 else 1,
        )
        found = await read(lambda s: queries.search_shops(s, search, scope(who)))
        query = {k: v for k, v in params.items() if k != "page" and v}
        return render(
            request,
            "shops.html",
            who,
            search=found,
            steps=queries.STEPS,
            regency_options=queries.east_java_options(),
            category_options=[(c.code, LABELS.get(c.code, c.code)) for c in categories()],
            next_query=urlencode({**query, "page": found.page + 1}),
            previous_query=urlencode({**query, "page": max(1, found.page - 1)}),
        )

    async def shop(request: Request, who: auth.Who, revealed: bool = False) -> Response:
        seller_id = request.path_params["seller_id"]
        found = await read(lambda s: queries.shop_page(s, seller_id, scope(who)))
        if found is None:
            return render(request, "error.html", who, status=404, message="dash.error.no_shop")
        phone = full_phone(found.seller.phone) if revealed else mask_phone(found.seller.phone)
        return render(
            request,
            "shop.html",
            who,
            shop=found,
            phone=phone,
            revealed=revealed,
            regency=queries.regency_name(found.seller.regency_code),
            category=LABELS.get(found.seller.category or "", found.seller.category or "-"),
        )

    async def reveal(request: Request, who: auth.Who) -> Response:
        seller_id = request.path_params["seller_id"]
        exists = await read(lambda s: queries.shop_page(s, seller_id, None) is not None)
        if not exists:
            return render(request, "error.html", who, status=404, message="dash.error.no_shop")
        await asyncio.to_thread(auth.audit, db, who, "reveal_phone", f"seller {seller_id}")
        return await shop(request, who, revealed=True)

    # --- sync and broadcasts -----------------------------------------------------------------

    async def sync_page(request: Request, who: auth.Who) -> Response:
        failed = await read(queries.failed_events)
        counts = await read(queries.sync_counts)
        return render(
            request,
            "sync.html",
            who,
            failed=failed,
            counts=counts,
            retried=request.query_params.get("retried"),
        )

    async def retry(request: Request, who: auth.Who) -> Response:
        event_id = request.path_params["event_id"]
        count = await asyncio.to_thread(requeue, db, event_id)
        await asyncio.to_thread(auth.audit, db, who, "retry_sync", f"event {event_id}", count=count)
        return RedirectResponse(f"/admin/sync?retried={count}", status_code=303)

    async def broadcast_page(
        request: Request,
        who: auth.Who,
        draft: dict[str, str] | None = None,
        preview: dict[str, Any] | None = None,
        problem: str | None = None,
        status: int = 200,
    ) -> Response:
        rows = await read(queries.broadcast_rows)
        fmt = Formats(pick_locale(who.locale), settings.timezone)
        return render(
            request,
            "broadcasts.html",
            who,
            status=status,
            rows=rows,
            draft=draft or {"send_at": fmt.local_input(utcnow() + timedelta(hours=1))},
            preview=preview,
            problem=problem,
            segments=broadcasts.SEGMENTS,
            segment_text=_segment_text,
            regency_options=queries.east_java_options(),
            category_options=[(c.code, LABELS.get(c.code, c.code)) for c in categories()],
            stalled_options=[(c.id.removeprefix("step:"), c.label) for c in STALLED_STEPS],
        )

    async def broadcast_post(request: Request, who: auth.Who) -> Response:
        form = request.state.form
        segment = form.get("segment", "")
        value = (form.get(f"value_{segment}") or "").strip() or None
        text = form.get("text", "").strip()
        draft = {"segment": segment, "text": text, "send_at": form.get("send_at", "")}
        if value:
            draft[f"value_{segment}"] = value
        zone = ZoneInfo(settings.timezone)
        try:
            send_at = (
                datetime.fromisoformat(form["send_at"]).replace(tzinfo=zone)
                if form.get("send_at")
                else None
            )
        except ValueError:
            return await broadcast_page(request, who, draft, None, "dash.broadcasts.bad_time", 400)
        if segment not in broadcasts.SEGMENTS or not text:
            return await broadcast_page(request, who, draft, None, "dash.broadcasts.invalid", 400)

        def count() -> tuple[int, float, int]:
            with db.read_session() as session:
                people = broadcasts.recipients(session, segment, value)
                reachable, seconds = broadcasts.audience(session, segment, value, settings)
                return reachable, seconds, len(people) - reachable

        reachable, seconds, opted_out = await asyncio.to_thread(count)
        preview = {
            "count": reachable,
            "opted_out": opted_out,
            "minutes": max(1, int(seconds // 60) + (1 if seconds % 60 else 0)),
            "seconds": seconds,
        }
        if form.get("action") != "create":
            return await broadcast_page(request, who, draft, preview)
        try:
            broadcast_id = await asyncio.to_thread(
                broadcasts.create_broadcast, db, segment, text, value, send_at
            )
        except ValueError:
            return await broadcast_page(
                request, who, draft, preview, "dash.broadcasts.invalid", 400
            )
        await asyncio.to_thread(
            auth.audit,
            db,
            who,
            "broadcast",
            f"broadcast {broadcast_id}",
            segment=broadcasts.segment_label(segment, value),
            recipients=reachable,
        )
        return RedirectResponse("/admin/broadcasts", status_code=303)

    async def broadcast_cancel(request: Request, who: auth.Who) -> Response:
        broadcast_id = request.path_params["broadcast_id"]

        def cancel() -> bool:
            with db.session() as session:
                found = session.get(Broadcast, broadcast_id)
                if found is None or found.status not in ("scheduled", "sending"):
                    return False
                found.status, found.finished_at = "cancelled", utcnow()
                session.add(found)
                table = BroadcastDelivery.__table__  # type: ignore[attr-defined]
                session.execute(
                    table.update()
                    .where(table.c.broadcast_id == broadcast_id, table.c.status == "pending")
                    .values(status="cancelled")
                )
                return True

        if await asyncio.to_thread(cancel):
            await asyncio.to_thread(
                auth.audit, db, who, "cancel_broadcast", f"broadcast {broadcast_id}"
            )
        return RedirectResponse("/admin/broadcasts", status_code=303)

    # --- exports and the audit log -----------------------------------------------------------

    async def exports(request: Request, who: auth.Who) -> Response:
        return render(request, "exports.html", who, regency_options=queries.east_java_options())

    async def export(request: Request, who: auth.Who) -> Response:
        kind, fmt = request.path_params["kind"], request.path_params["fmt"]
        regency = request.query_params.get("regency", "")[:4] or None
        if kind not in ("shops", "products") or fmt not in ("csv", "xlsx"):
            return Response(status_code=404, headers=HEADERS)
        rows_of = queries.shop_export if kind == "shops" else queries.product_export
        columns = queries.SHOP_COLUMNS if kind == "shops" else queries.PRODUCT_COLUMNS
        await asyncio.to_thread(
            auth.audit, db, who, "export", f"{kind}.{fmt}", regency=regency or "all"
        )
        name = f"pelapak-{kind}-{regency or 'jatim'}-{utcnow():%Y%m%d}.{fmt}"
        disposition = {"Content-Disposition": f'attachment; filename="{name}"'}

        def rows() -> Iterator[list[Any]]:
            with db.read_session() as session:
                yield list(columns)
                yield from rows_of(session, regency, settings.timezone)

        if fmt == "csv":
            return StreamingResponse(
                _iterate_in_thread(_csv_chunks(rows())),
                media_type="text/csv; charset=utf-8",
                headers={**HEADERS, **disposition},
            )
        path = await asyncio.to_thread(_write_xlsx, rows(), kind)
        return StreamingResponse(
            _file_chunks(path),
            media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            headers={**HEADERS, **disposition},
        )

    async def audit_page(request: Request, who: auth.Who) -> Response:
        rows = await read(queries.audit_rows)
        return render(request, "audit.html", who, rows=rows)

    def _segment_text(segment: str, value: str | None) -> str:
        if segment == "regency":
            return queries.regency_name(value)
        return broadcasts.segment_label(segment, value)

    dashboard = Starlette(
        routes=[
            Route("/", page(overview)),
            Route("/login/{token}", login_form),
            Route("/login", login, methods=["POST"]),
            Route("/logout", page(logout), methods=["POST"]),
            Route("/language", page(language), methods=["POST"]),
            Route("/regencies", page(regency_page, admin_only=True)),
            Route("/facilitators", page(facilitator_page, admin_only=True)),
            Route("/facilitators", page(facilitator_add, admin_only=True), methods=["POST"]),
            Route("/shops", page(shops)),
            Route("/shops/{seller_id:rowid}", page(shop)),
            Route(
                "/shops/{seller_id:rowid}/reveal", page(reveal, admin_only=True), methods=["POST"]
            ),
            Route("/sync", page(sync_page, admin_only=True)),
            Route("/sync/{event_id:rowid}/retry", page(retry, admin_only=True), methods=["POST"]),
            Route("/broadcasts", page(broadcast_page, admin_only=True)),
            Route("/broadcasts", page(broadcast_post, admin_only=True), methods=["POST"]),
            Route(
                "/broadcasts/{broadcast_id:rowid}/cancel",
                page(broadcast_cancel, admin_only=True),
                methods=["POST"],
            ),
            Route("/exports", page(exports, admin_only=True)),
            Route("/export/{kind}.{fmt}", page(export, admin_only=True)),
            Route("/audit", page(audit_page, admin_only=True)),
            *curation_routes(Kit(db, settings, render, page, HEADERS)),
            Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
        ]
    )
    dashboard.state.warm = warm
    return dashboard


def _browser_locale(request: Request) -> str:
    accepted = request.headers.get("Accept-Language", "")
    return accepted.split(",")[0].strip() if accepted else "id"


def _csv_chunks(rows: Iterator[list[Any]]) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    yield "\ufeff".encode()  # so spreadsheet programs read it as UTF-8
    for index, row in enumerate(rows):
        writer.writerow(csv_row(row))
        if index % 500 == 499:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()


async def _iterate_in_thread(chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    """Database reads stay off the event loop, one chunk at a time."""
    done = object()
    while True:
        chunk = await asyncio.to_thread(next, chunks, done)
        if chunk is done:
            return
        yield chunk  # type: ignore[misc]


def _write_xlsx(rows: Iterator[list[Any]], title: str) -> Path:
    """openpyxl's write-only mode: rows go to disk as they come, never all in memory."""
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title)
    for row in rows:
        sheet.append(xlsx_row(sheet, row))
    handle, name = tempfile.mkstemp(suffix=".xlsx", prefix="pelapak-export-")
    os.close(handle)
    workbook.save(name)
    return Path(name)


async def _file_chunks(path: Path) -> AsyncIterator[bytes]:
    try:
        with path.open("rb") as f:
            while chunk := await asyncio.to_thread(f.read, 64 * 1024):
                yield chunk
    finally:
        path.unlink(missing_ok=True)


__all__ = ["create_dashboard"]
