"""The produk unggulan rating on a table of hand-made products with known figures."""

from __future__ import annotations

import pytest

from bot.ranking import Figures, Group, Method, bayesian, percentiles, rank

SIDOARJO, SURABAYA, PACITAN = "3515", "3578", "3501"
FOOD, CRAFT = "makanan", "kerajinan"

# ref, regency, category, views, orders, units, ratings count, ratings sum, returns
TABLE = [
    # Sidoarjo snacks: the steady favourite, a one-hit wonder, and thin evidence
    ("steady", SIDOARJO, FOOD, 4000, 200, 260, 200, 960, 2),  # 200 reviews averaging 4.8
    ("lucky", SIDOARJO, FOOD, 900, 10, 12, 5, 25, 0),  # 5 reviews, all 5 stars
    ("middling", SIDOARJO, FOOD, 3000, 60, 80, 40, 160, 1),  # 4.0
    ("nine_orders", SIDOARJO, FOOD, 500, 9, 9, 9, 45, 0),  # one order short
    ("four_reviews", SIDOARJO, FOOD, 500, 40, 40, 4, 20, 0),  # one review short
    # Surabaya snacks: far bigger sellers, in their own group
    ("big_city", SURABAYA, FOOD, 90000, 3000, 4000, 900, 4300, 30),
    ("big_city_2", SURABAYA, FOOD, 80000, 2500, 3500, 800, 3700, 20),
    # Sidoarjo crafts: a different category in the same regency
    ("batik", SIDOARJO, CRAFT, 300, 12, 12, 6, 27, 0),
    # Pacitan snacks: twins but for returns
    ("twin_clean", PACITAN, FOOD, 1000, 50, 60, 20, 90, 0),
    ("twin_returns", PACITAN, FOOD, 1000, 50, 60, 20, 90, 12),
]


def products() -> list[Figures]:
    return [
        Figures(ref, reg, cat, views, orders, units, units * 20000, count, total, returns)
        for ref, reg, cat, views, orders, units, count, total, returns in TABLE
    ]


def groups(method: Method | None = None) -> dict[tuple[str, str], Group]:
    return {(g.regency, g.category): g for g in rank(products(), method)}


def order(group: Group) -> list[str]:
    return [r.figures.ref for r in group.ranked]


def test_the_evidence_minimum_keeps_thin_products_out() -> None:
    found = groups()[(SIDOARJO, FOOD)]
    assert "nine_orders" not in order(found) and "four_reviews" not in order(found)
    assert {f.ref for f in found.too_little} == {"nine_orders", "four_reviews"}
    assert "lucky" in order(found)  # exactly 10 orders and 5 reviews is enough


def test_the_evidence_minimum_is_configurable() -> None:
    found = groups(Method(min_orders=5, min_reviews=1))[(SIDOARJO, FOOD)]
    assert {"nine_orders", "four_reviews"} <= set(order(found))
    strict = groups(Method(min_orders=100))[(SIDOARJO, FOOD)]
    assert order(strict) == ["steady"]


def test_a_few_perfect_reviews_do_not_beat_many_very_good_ones() -> None:
    found = groups()[(SIDOARJO, FOOD)]
    parts = {r.figures.ref: r.parts for r in found.ranked}
    assert parts["steady"]["rating"].value > parts["lucky"]["rating"].value
    assert parts["steady"]["rating"].percentile == 100.0
    # the group's mean is every review in it, thin products' too
    assert found.mean_rating == pytest.approx((960 + 25 + 160 + 45 + 20) / (200 + 5 + 40 + 9 + 4))
    lucky = next(f for f in products() if f.ref == "lucky")
    assert bayesian(lucky, found.mean_rating, Method()) == pytest.approx(
        (10 * found.mean_rating + 25) / 15
    )
    # with no damping at all, five 5-star reviews would win the rating part
    raw = groups(Method(prior_reviews=0))[(SIDOARJO, FOOD)]
    raw_parts = {r.figures.ref: r.parts for r in raw.ranked}
    assert raw_parts["lucky"]["rating"].value > raw_parts["steady"]["rating"].value
    assert order(found)[0] == "steady"


def test_regencies_and_categories_are_ranked_apart() -> None:
    found = groups()
    assert set(found) == {(SIDOARJO, FOOD), (SURABAYA, FOOD), (SIDOARJO, CRAFT), (PACITAN, FOOD)}
    assert order(found[(SURABAYA, FOOD)]) == ["big_city", "big_city_2"]
    assert "big_city" not in order(found[(SIDOARJO, FOOD)])
    assert order(found[(SIDOARJO, CRAFT)]) == ["batik"]  # the only one: first of its own
    assert found[(SIDOARJO, CRAFT)].ranked[0].rank == 1
    # removing Surabaya changes nothing in Sidoarjo
    without = rank([f for f in products() if f.regency != SURABAYA])
    sidoarjo = next(g for g in without if (g.regency, g.category) == (SIDOARJO, FOOD))
    assert [(r.figures.ref, r.score) for r in sidoarjo.ranked] == [
        (r.figures.ref, r.score) for r in found[(SIDOARJO, FOOD)].ranked
    ]


def test_returns_count_against() -> None:
    found = groups()[(PACITAN, FOOD)]
    assert order(found) == ["twin_clean", "twin_returns"]
    clean, returns = found.ranked
    assert returns.parts["returns"].value == pytest.approx(12 / 60)
    assert clean.parts["returns"].percentile == 100.0 and returns.parts["returns"].percentile == 0
    assert clean.score - returns.score == pytest.approx(15.0)  # the returns weight, all of it


def test_every_listed_product_shows_why() -> None:
    for group in rank(products()):
        for ranked in group.ranked:
            why = ranked.explain()
            assert set(why) == {"rating", "sales", "conversion", "returns"}
            assert all(0 <= p["percentile"] <= 100 for p in why.values())
            weights = dict(Method().weights)
            assert ranked.score == pytest.approx(
                sum(weights[k] * ranked.parts[k].percentile for k in weights), abs=0.01
            )
    steady = groups()[(SIDOARJO, FOOD)].ranked[0]
    assert steady.parts["sales"].value == pytest.approx(260 * 30 / 90)
    assert steady.parts["conversion"].value == pytest.approx(200 / 4000)


def test_percentiles_count_ties_half() -> None:
    assert percentiles([1.0, 2.0, 3.0]) == [0.0, 50.0, 100.0]
    assert percentiles([2.0, 2.0]) == [50.0, 50.0]
    assert percentiles([7.0]) == [100.0]
