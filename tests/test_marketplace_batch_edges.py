"""The edges of storing a batch in one go: repeats inside one batch, concurrent batches over the
same rows, and the cheap check in front of jsonschema never letting through what it refuses."""

from __future__ import annotations

import copy
import random
import threading
from datetime import date, datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlmodel import select

from bot.app import App
from bot.marketplace_events import (
    Event,
    _errors,
    _plain_check,
    _plainly_valid,
    check_batch,
    ingest,
)
from bot.storage.models import MarketplaceEvent, ProductStats
from tests.marketplace import make_shop, stats_event, status_event

DAY = date(2026, 11, 20)


def checked(events: list[dict[str, Any]]) -> list[Event]:
    found = check_batch({"events": events})
    assert isinstance(found, list), found
    return found


def stored_stats(app: App) -> list[tuple[Any, ...]]:
    with app.db.read_session() as session:
        return sorted(
            (s.product_ref, s.period_start, s.views, s.orders, s.event_id, s.product_id)
            for s in session.exec(select(ProductStats))
        )


# --- the cheap check ------------------------------------------------------------------------


def test_the_usual_events_take_the_cheap_way() -> None:
    assert _plainly_valid(stats_event("ev-usual-001", "P_abc", DAY, views=3, ratings=(1, 5)))
    assert _plainly_valid(
        status_event(
            "ev-usual-002", "P_abc", "rejected", "2026-11-20T10:00:00+07:00", reasons=["x"]
        )
    )
    assert _plainly_valid(
        status_event("ev-usual-003", "P_abc", "live", "2026-11-20T10:00:00Z", url="https://m/1")
    )
    # valid, but not the usual form: jsonschema decides (and accepts)
    odd = stats_event("ev-usual-004", "P_abc", DAY, views=3)
    odd["views"] = 3.0
    assert not _plainly_valid(odd) and _errors(odd) == []


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-3, 3)
    | st.floats(allow_nan=False)
    | st.text(max_size=3),
    lambda inner: (
        st.lists(inner, max_size=2) | st.dictionaries(st.text(max_size=3), inner, max_size=2)
    ),
    max_leaves=4,
)
EDGY = JSON | st.sampled_from(
    [
        "",
        "IDR",
        "idr",
        "2026-02-30",
        "2026-11-20",
        "2026-11-20T10:00:00",
        "P_x\n",
        "a" * 129,
        "product.stats",
        "product.status",
        "live",
        "gone",
        0,
        -1,
        True,
        2.0,
        [],
        {},
    ]
)


@st.composite
def mutated(draw: Any) -> dict[str, Any]:
    """A good event with a few of its values (at any depth) replaced, removed or added."""
    if draw(st.booleans()):
        event = stats_event("ev-mutant-001", "P_abc", DAY, views=4, orders=2, ratings=(2, 9))
    else:
        event = status_event(
            "ev-mutant-002", "P_abc", "rejected", "2026-11-20T10:00:00+07:00", reasons=["r"]
        )
    for _ in range(draw(st.integers(1, 3))):
        target = event
        nested = [k for k, v in event.items() if isinstance(v, dict)]
        if nested and draw(st.booleans()):
            target = event[draw(st.sampled_from(nested))]
        key = draw(st.sampled_from([*target, "extra"]))
        action = draw(st.sampled_from(["replace", "remove"]))
        if action == "remove":
            target.pop(key, None)
        else:
            # a copy: EDGY's own [] and {"extra": []} must never be changed by a later
            # mutation, or the next example draws from different values
            target[key] = copy.deepcopy(draw(EDGY))
    return event


@settings(max_examples=600, deadline=None)
@given(event=mutated())
def test_the_cheap_check_passes_only_what_jsonschema_passes(event: dict[str, Any]) -> None:
    if _plainly_valid(event):
        assert _errors(event) == []


def test_a_schema_with_a_keyword_it_does_not_know_is_never_cheap() -> None:
    # MarketplaceEvent is a oneOf: the cheap check does not do oneOf, so it is always unsure
    assert not _plain_check("MarketplaceEvent")(stats_event("ev-oneof-001", "P_abc", DAY))


# --- repeats inside one batch ---------------------------------------------------------------


def test_an_event_id_twice_in_one_batch_is_counted_once_and_the_first_stands(app: App) -> None:
    _, (ref,) = make_shop(app.db)
    first = stats_event("ev-twice-001", ref, DAY, views=5)
    again = stats_event("ev-twice-001", ref, DAY, views=9)  # same id, other figures
    result = ingest(app.db, checked([first, again]))
    assert (result.accepted, result.duplicates) == (1, 1)
    assert [row[2] for row in stored_stats(app)] == [5]
    result = ingest(app.db, checked([again, first]))
    assert (result.accepted, result.duplicates) == (0, 2)
    assert [row[2] for row in stored_stats(app)] == [5]


def test_the_same_period_twice_in_one_batch_keeps_the_later_word(app: App) -> None:
    _, (ref,) = make_shop(app.db)
    early = stats_event("ev-later-002", ref, DAY, views=1, at=datetime(2026, 11, 21, 9))
    late = stats_event("ev-later-001", ref, DAY, views=2, at=datetime(2026, 11, 21, 10))
    result = ingest(app.db, checked([late, early]))  # the later word first in the batch
    assert (result.accepted, result.duplicates) == (2, 0)
    assert [(row[2], row[4]) for row in stored_stats(app)] == [(2, "ev-later-001")]
    # the same time: the greater id is the later word, in one batch or across two
    tie_a = stats_event("ev-tie-aaaa", ref, DAY, views=3, at=datetime(2026, 11, 22, 8))
    tie_b = stats_event("ev-tie-bbbb", ref, DAY, views=4, at=datetime(2026, 11, 22, 8))
    ingest(app.db, checked([tie_b, tie_a]))
    assert [(row[2], row[4]) for row in stored_stats(app)] == [(4, "ev-tie-bbbb")]
    older = stats_event("ev-older-001", ref, DAY, views=7, at=datetime(2026, 11, 21, 23))
    assert ingest(app.db, checked([older])).accepted == 1  # recorded, changes nothing
    assert [(row[2], row[4]) for row in stored_stats(app)] == [(4, "ev-tie-bbbb")]


def test_an_unknown_products_event_keeps_its_payload_next_to_known_ones(app: App) -> None:
    _, (ref,) = make_shop(app.db)
    known = stats_event("ev-known-001", ref, DAY, views=2)
    stray = stats_event("ev-stray-001", "P_nobody", DAY, views=3, ratings=(1, 4))
    result = ingest(app.db, checked([stray, known]))
    assert result.unknown_products == ["P_nobody"] and result.accepted == 2
    with app.db.read_session() as session:
        rows = {e.event_id: e for e in session.exec(select(MarketplaceEvent))}
    assert rows["ev-stray-001"].unknown_product and rows["ev-stray-001"].payload == stray
    assert not rows["ev-known-001"].unknown_product and rows["ev-known-001"].payload is None
    stats = stored_stats(app)
    assert [(r[0], r[5] is None) for r in stats] == sorted([(ref, False), ("P_nobody", True)])


# --- concurrent batches over the same rows ----------------------------------------------------


def test_concurrent_batches_over_the_same_rows_all_store(app: App) -> None:
    """Redeliveries in parallel, each in its own order: rows are written in key order, so no
    two transactions wait on each other's rows in opposite orders (a deadlock)."""
    _, refs = make_shop(app.db, products=("A", "B", "C", "D"))
    days = [date.fromordinal(DAY.toordinal() - i) for i in range(125)]  # 500 events
    events = [
        stats_event(f"ev-par-{n:04}", ref, day, views=n % 7)
        for n, (ref, day) in enumerate((r, d) for r in refs for d in days)
    ]
    fixes = [
        dict(e, id=f"ev-fix-{e['id'][7:]}", views=99, occurred_at="2026-11-28T10:00:00+07:00")
        for e in events
    ]
    batches = []
    for seed in range(4):
        mixed = [*events[:100], *fixes[:100], *events[100:]]
        random.Random(seed).shuffle(mixed)
        batches.append(checked(mixed[:500]))
        batches.append(checked(mixed[500:]))
    results: list[tuple[int, int]] = []
    errors: list[BaseException] = []

    def send(batch: list[Event]) -> None:
        try:
            stored = ingest(app.db, batch)
            results.append((stored.accepted, stored.duplicates))
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=send, args=(b,)) for b in batches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sum(accepted for accepted, _ in results) == len(events) + 100
    stats = stored_stats(app)
    assert len(stats) == len(events)
    assert sum(1 for row in stats if row[2] == 99) == 100
