"""The dashboard's produk unggulan page: the candidates with why, admins' decisions, the export.

Decisions go through `bot.unggulan.decide`, the function `pelapak unggulan confirm|decline`
calls, so a decision is recorded (and the owner congratulated, once) the same way from both;
the dashboard adds who decided and a line in its audit log.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import date
from itertools import groupby
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response
from starlette.routing import Route

from bot import unggulan
from bot.config import Settings
from bot.dashboard import auth, queries
from bot.ranking import PARTS, Method
from bot.sales import local_day
from bot.storage.database import Database
from bot.storage.models import utcnow
from flows.categories import LABELS, categories

Endpoint = Callable[[Request], Awaitable[Response]]
Handler = Callable[[Request, auth.Who], Awaitable[Response]]
DECISIONS = {"confirm": "confirmed", "decline": "declined"}
OUTCOMES = ("confirmed", "declined", "not_candidate")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass(frozen=True)
class Kit:
    """What the page borrows from the dashboard app: its database, settings, page renderer,
    the signed-in/role/CSRF wrapper and the security headers."""

    db: Database
    settings: Settings
    render: Callable[..., Response]
    page: Callable[[Handler, bool], Endpoint]
    headers: dict[str, str]


@dataclass(frozen=True)
class Filters:
    month: str  # YYYY-MM
    regency: str  # a Kemendagri code, or "" for every regency
    category: str  # a category code, or ""

    def query(self, **extra: str) -> str:
        values = {"regency": self.regency, "category": self.category, "month": self.month}
        return urlencode({k: v for k, v in {**values, **extra}.items() if v})


@dataclass(frozen=True)
class Group:
    regency: str
    category: Any  # a catalog Text, or the code when the category is unknown
    candidates: list[unggulan.Candidate]


def filters_of(values: Mapping[str, str], today: date) -> Filters:
    """The filters from a query or a form; a month that is not YYYY-MM, or has not begun, is
    this month (WIB)."""
    month = values.get("month", "")
    regency = values.get("regency", "")
    return Filters(
        month=month if unggulan.usable_month(month, today) else f"{today:%Y-%m}",
        regency=regency if regency.isdigit() and len(regency) == 4 else "",
        category=values.get("category", "")[:40],
    )


def grouped(found: list[unggulan.Candidate]) -> list[Group]:
    """Candidates come by regency, category, then rank: one group per regency and category."""
    return [
        Group(queries.regency_name(regency), LABELS.get(category, category), list(members))
        for (regency, category), members in groupby(
            found, key=lambda c: (c.ranked.figures.regency, c.ranked.figures.category)
        )
    ]


def curation_routes(kit: Kit) -> list[Route]:
    """/unggulan (the page), /unggulan/decide (POST) and /unggulan/export.csv|xlsx: admins only."""
    db, settings = kit.db, kit.settings

    def today() -> date:
        return local_day(utcnow(), settings.timezone)

    async def listed(
        chosen: Filters, day: date, media_base: str | None = None
    ) -> tuple[str, list[unggulan.Candidate]]:
        return await asyncio.to_thread(
            unggulan.candidates,
            db,
            day,
            chosen.month,
            chosen.regency or None,
            chosen.category or None,
            None,
            media_base,
        )

    async def show(request: Request, who: auth.Who) -> Response:
        day = today()
        chosen = filters_of(request.query_params, day)
        month, found = await listed(chosen, day)
        outcome = request.query_params.get("outcome", "")
        return kit.render(
            request,
            "unggulan.html",
            who,
            filters=chosen,
            month=month,
            groups=grouped(found),
            count=len(found),
            outcome=outcome if outcome in OUTCOMES else None,
            parts=PARTS,
            weights=dict(Method().weights),
            regency_options=queries.east_java_options(),
            category_options=[(c.code, LABELS.get(c.code, c.code)) for c in categories()],
        )

    async def decide(request: Request, who: auth.Who) -> Response:
        form = request.state.form
        status = DECISIONS.get(form.get("decision", ""))
        ref = form.get("ref", "")[:64]
        if status is None or not ref:
            return kit.render(
                request, "error.html", who, status=400, message="dash.unggulan.invalid"
            )
        note = form.get("note", "").strip()[:500] or None
        chosen = filters_of(form, today())
        now = utcnow()
        outcome = await asyncio.to_thread(
            unggulan.decide,
            db,
            ref,
            status,
            note,
            now,
            local_day(now, settings.timezone),
            chosen.month,
            by=who.actor,
        )
        if outcome == "not_found":
            return kit.render(
                request, "error.html", who, status=404, message="dash.unggulan.no_product"
            )
        if outcome in DECISIONS.values():
            await asyncio.to_thread(
                auth.audit,
                db,
                who,
                f"unggulan_{form['decision']}",
                f"product {ref}",
                month=chosen.month,
                note=note or "",
            )
        # Back to the list (a reload does not post again), at the candidate just decided.
        back = f"/admin/unggulan?{chosen.query(outcome=outcome)}#c-{quote(ref)}"
        return RedirectResponse(back, status_code=303, headers=kit.headers)

    async def export(request: Request, who: auth.Who) -> Response:
        fmt = request.path_params["fmt"]
        if fmt not in ("csv", "xlsx"):
            return Response(status_code=404, headers=kit.headers)
        day = today()
        chosen = filters_of(request.query_params, day)
        # the board opens the photos from outside
        month, found = await listed(chosen, day, settings.public_base_url)
        await asyncio.to_thread(
            auth.audit,
            db,
            who,
            "export",
            f"unggulan.{fmt}",
            month=month,
            regency=chosen.regency or "all",
            category=chosen.category or "all",
        )
        path = await asyncio.to_thread(_written, fmt, month, found)
        return FileResponse(
            path,
            media_type="text/csv; charset=utf-8" if fmt == "csv" else XLSX,
            filename=f"pelapak-unggulan-{chosen.regency or 'jatim'}-{month}.{fmt}",
            headers=kit.headers,
            background=BackgroundTask(path.unlink, missing_ok=True),
        )

    return [
        Route("/unggulan", kit.page(show, True)),
        Route("/unggulan/decide", kit.page(decide, True), methods=["POST"]),
        Route("/unggulan/export.{fmt}", kit.page(export, True)),
    ]


def _written(fmt: str, month: str, found: list[unggulan.Candidate]) -> Path:
    """The curation board's file, by the same code as `pelapak unggulan --csv/--xlsx`."""
    handle, name = tempfile.mkstemp(suffix=f".{fmt}", prefix="pelapak-unggulan-")
    os.close(handle)
    path = Path(name)
    (unggulan.write_csv if fmt == "csv" else unggulan.write_xlsx)(month, found, path)
    return path
