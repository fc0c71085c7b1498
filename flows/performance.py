"""/performa: how each live product sells, the last 7 and 30 days, with one tip where it helps.

Pure: the figures come from the host through `env.directory.sales_figures`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flows.messages import Money, Outbound, Text, say, t
from flows.steps import Env

WINDOWS = (7, 30)
MAX_PRODUCTS = 10  # one message each; more than this is a wall of text on a small screen
FEW_PHOTOS = 3
SHORT_DESCRIPTION = 120


def performance(env: Env) -> list[Outbound]:
    """The replies to /performa."""
    if not env.registered:
        return [say(t("perf.not_registered"))]
    live = [p for p in env.products if p.get("status") == "live" and p.get("id") is not None]
    if not live:
        return [say(t("perf.no_live"))]
    figures = env.directory.sales_figures([int(p["id"]) for p in live], env.now)
    replies = [say(t("perf.header", count=len(live)))]
    for product in live[:MAX_PRODUCTS]:
        replies.append(_product(product, figures.get(int(product["id"]), {})))
    if len(live) > MAX_PRODUCTS:
        replies.append(say(t("perf.more", count=len(live) - MAX_PRODUCTS)))
    return replies


def _product(product: Mapping[str, Any], windows: Mapping[int, Mapping[str, int]]) -> Outbound:
    lines: list[Text | str] = [t("perf.product", name=product.get("name") or "-")]
    for days in WINDOWS:
        f = windows.get(days) or {}
        lines.append(
            t(
                "perf.window",
                days=days,
                views=f.get("views", 0),
                orders=f.get("orders", 0),
                units=f.get("units_sold", 0),
                revenue=Money(f.get("revenue", 0)),
                rating=_rating(f),
            )
        )
    tip = advice(product, windows.get(max(WINDOWS)) or {})
    if tip is not None:
        lines.append(tip)
    return say(*lines)


def _rating(f: Mapping[str, int]) -> Text:
    count = f.get("ratings_count", 0)
    if not count:
        return t("perf.no_rating")
    return t("perf.rating", stars=round(f.get("ratings_sum", 0) / count, 1), count=count)


def advice(product: Mapping[str, Any], month: Mapping[str, int]) -> Text | None:
    """One concrete tip: nobody looks (share the link), or they look and don't buy (the
    photos, then the description, then the price)."""
    if not month.get("views"):
        return t("perf.tip.no_views", url=product.get("url") or "-")
    if month.get("orders"):
        return None
    data = product.get("data") or {}
    if len(data.get("photos") or []) < FEW_PHOTOS:
        return t("perf.tip.photos")
    if len(data.get("description") or "") < SHORT_DESCRIPTION:
        return t("perf.tip.description")
    return t("perf.tip.price", price=Money(int(product.get("price") or 0)))
