"""The produk unggulan rating: pure computation over each product's figures in a window.

Products compete only within their regency and category. Every product with enough evidence
gets four parts, each a figure and its percentile among the group's eligible products:

- rating: the Bayesian average of its stars, pulled towards the group's mean by
  `prior_reviews` imaginary reviews: (m * C + stars) / (m + reviews);
- sales: units sold per 30 days of the window;
- conversion: orders per product page view;
- returns: returned units per unit sold (fewer is better).

score = 100 * sum(weight * percentile), weights 0.35 / 0.30 / 0.20 / 0.15 by default.
See README "Produk unggulan" for the method written out.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

PARTS = ("rating", "sales", "conversion", "returns")


@dataclass(frozen=True)
class Method:
    window_days: int = 90
    min_orders: int = 10
    min_reviews: int = 5
    prior_reviews: float = 10.0  # m: how many reviews at the group's mean each product starts with
    weights: tuple[tuple[str, float], ...] = (
        ("rating", 0.35),
        ("sales", 0.30),
        ("conversion", 0.20),
        ("returns", 0.15),
    )


@dataclass(frozen=True)
class Figures:
    """One product's totals over the window."""

    ref: str
    regency: str
    category: str
    views: int = 0
    orders: int = 0
    units_sold: int = 0
    revenue: int = 0
    ratings_count: int = 0
    ratings_sum: int = 0
    returns: int = 0


@dataclass(frozen=True)
class Part:
    value: float  # the figure (Bayesian stars, units / 30 days, orders / view, returns / unit)
    percentile: float  # 0..100: the share of the group's other eligible products it beats


@dataclass(frozen=True)
class Ranked:
    figures: Figures
    rank: int
    score: float
    parts: dict[str, Part]

    def explain(self) -> dict[str, dict[str, float]]:
        return {
            name: {"value": round(p.value, 4), "percentile": round(p.percentile, 1)}
            for name, p in self.parts.items()
        }


@dataclass
class Group:
    regency: str
    category: str
    mean_rating: float
    ranked: list[Ranked] = field(default_factory=list)
    too_little: list[Figures] = field(default_factory=list)  # under the evidence minimum


def eligible(f: Figures, method: Method) -> bool:
    return f.orders >= method.min_orders and f.ratings_count >= method.min_reviews


def bayesian(f: Figures, mean: float, method: Method) -> float:
    m = method.prior_reviews
    return (m * mean + f.ratings_sum) / (m + f.ratings_count) if m + f.ratings_count else mean


def _values(f: Figures, mean: float, method: Method) -> dict[str, float]:
    """Each part's figure, oriented so that higher is better for the percentile."""
    return {
        "rating": bayesian(f, mean, method),
        "sales": f.units_sold * 30.0 / method.window_days,
        "conversion": f.orders / f.views if f.views else 0.0,
        "returns": f.returns / f.units_sold if f.units_sold else 0.0,
    }


def percentiles(values: list[float]) -> list[float]:
    """For each value, the share (0..100) of the others it beats, ties counting half."""
    n = len(values)
    if n == 1:
        return [100.0]
    ordered = sorted(values)
    result = []
    for v in values:
        below = bisect_left(ordered, v)
        equal = bisect_right(ordered, v) - below - 1  # the others with the same value
        result.append(100.0 * (below + 0.5 * equal) / (n - 1))
    return result


def rank(products: Iterable[Figures], method: Method | None = None) -> list[Group]:
    """Every (regency, category) group, its eligible products in rank order."""
    method = method or Method()
    groups: dict[tuple[str, str], list[Figures]] = defaultdict(list)
    for f in products:
        groups[(f.regency, f.category)].append(f)
    weights = dict(method.weights)
    found = []
    for (regency, category), members in sorted(groups.items()):
        stars = sum(f.ratings_sum for f in members)
        reviews = sum(f.ratings_count for f in members)
        mean = stars / reviews if reviews else 0.0
        group = Group(regency, category, mean)
        ok = [f for f in members if eligible(f, method)]
        group.too_little = [f for f in members if not eligible(f, method)]
        values = [_values(f, mean, method) for f in ok]
        shares = {
            name: percentiles([(-v[name] if name == "returns" else v[name]) for v in values])
            for name in PARTS
        }
        scored = []
        for i, (f, v) in enumerate(zip(ok, values, strict=True)):
            parts = {name: Part(v[name], shares[name][i]) for name in PARTS}
            score = sum(weights.get(name, 0.0) * parts[name].percentile for name in PARTS)
            scored.append((f, round(score, 2), parts))
        scored.sort(key=lambda s: (-s[1], -s[2]["rating"].value, s[0].ref))
        group.ranked = [
            Ranked(f, position, score, parts)
            for position, (f, score, parts) in enumerate(scored, start=1)
        ]
        found.append(group)
    return found
