"""What the marketplace reports back: signed, at-least-once, unordered batches of events.

Contract v1.1, `webhooks.marketplaceEvents`. A batch is checked whole (signature, then every
event against the contract's JSON Schema) and stored in one transaction:

- every event id is recorded once (`marketplace_event`); a redelivered id is a duplicate;
- `product.status`: the event with the latest `(occurred_at, id)` is the listing's status;
  the owner hears about a change to live, rejected or delisted once, never about an older one;
- `product.stats`: one row per product and period; the event with the latest
  `(occurred_at, id)` holds the figures (a correction replaces them, never adds);
- events about a product we do not know are kept (with their payload) and reported.

So any order and any number of repeats of the same events leave the same stored state.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite
from sqlmodel import Session, col, select

from bot import notices
from bot.storage.database import Database

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator
from bot.storage.models import (
    ListingStatus,
    MarketplaceEvent,
    Product,
    ProductStats,
    UTCDateTime,
    utcnow,
)
from bot.storage.sellers import latest_account
from flows.messages import Text, label_to_json, t
from flows.product import FIX_WORDS

CONTRACT = Path(__file__).resolve().parent.parent / "contracts" / "marketplace-sync.yaml"
MAX_EVENTS = 500
SIGNATURE_TOLERANCE_SECONDS = 300
_HEX64 = re.compile(r"[0-9a-f]{64}")

# --- the signature --------------------------------------------------------------------------


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The `v1` value for a body sent at `timestamp` (what the marketplace computes)."""
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_ok(header: str, body: bytes, secrets: Sequence[str], now: float) -> bool:
    """`t=<unix seconds>,v1=<hex>[,v1=<hex>...]`: one v1 matching one of our secrets, and
    `t` within 300 s of our clock. Every candidate is compared in constant time."""
    stamp: str | None = None
    given: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and stamp is None:
            stamp = value
        elif key == "v1" and _HEX64.fullmatch(value):
            given.append(value)
    if not stamp or not stamp.isdigit() or not given or not secrets:
        return False
    if abs(now - int(stamp)) > SIGNATURE_TOLERANCE_SECONDS:
        return False
    matched = False
    for secret in secrets:
        expected = sign(secret, int(stamp), body)
        for candidate in given:
            matched |= hmac.compare_digest(expected, candidate)
    return matched


# --- the batch's shape ----------------------------------------------------------------------


# The contract's discriminator: an event's `type` names its schema (so errors name fields).
_SCHEMAS = {"product.status": "ProductStatusEvent", "product.stats": "ProductStatsEvent"}


# yaml and jsonschema are imported by the first batch, not by every `pelapak` process that
# serves the web app (about 40 ms of its start-up CPU).


@cache
def _contract() -> dict[str, Any]:
    import yaml

    loaded: dict[str, Any] = yaml.safe_load(CONTRACT.read_text(encoding="utf-8"))
    return loaded


@cache
def _validator(schema: str) -> Draft202012Validator:
    from jsonschema import Draft202012Validator, FormatChecker

    root = {
        "$ref": f"#/components/schemas/{schema}",
        "components": copy.deepcopy(_contract()["components"]),
    }
    return Draft202012Validator(root, format_checker=FormatChecker())


def _schema_name(item: Any) -> str:
    kind = item.get("type") if isinstance(item, dict) else None
    return _SCHEMAS.get(kind, "MarketplaceEvent") if isinstance(kind, str) else "MarketplaceEvent"


def _event_validator(item: Any) -> Draft202012Validator:
    return _validator(_schema_name(item))


# --- the common case, checked cheaply ---------------------------------------------------------
#
# jsonschema walks every keyword of every event through its generic machinery: about 0.3 ms an
# event, most of a batch's time. The contract's schemas use a handful of keywords, so each
# event schema is also turned into one Python expression (compiled once) that is true only
# where jsonschema certainly finds no error. An event it is unsure about (an error, or an
# unusual valid form such as 3.0 for an integer) goes through jsonschema as before, which
# gives the 422's wording. A keyword jsonschema checks and this does not know makes its schema's
# check always unsure; one jsonschema ignores (description, default) is ignored here too.


@cache
def _keywords() -> frozenset[str]:
    from jsonschema import Draft202012Validator

    return frozenset(Draft202012Validator.VALIDATORS)


# Exact Python types, as json.loads makes them (bool is not an integer; 3.0 goes the slow way).
_TYPES = {
    "object": "type({v}) is dict",
    "array": "type({v}) is list",
    "string": "type({v}) is str",
    "integer": "type({v}) is int",
    "boolean": "type({v}) is bool",
    "null": "{v} is None",
}
_UNSURE = "False"


@dataclass
class _Source:
    """The expression being written, and the constants it refers to by name."""

    constants: dict[str, Any] = field(default_factory=dict)
    loops: int = 0

    def constant(self, value: Any) -> str:
        name = f"_c{len(self.constants)}"
        self.constants[name] = value
        return name


def _keyword(key: str, arg: Any, v: str, src: _Source, depth: int) -> str:
    """One keyword as an expression about the value `v`, strict about its type."""
    if key == "$ref" and isinstance(arg, str) and arg.startswith("#/components/schemas/"):
        found = _contract()["components"]["schemas"].get(arg.rsplit("/", 1)[1])
        return _expression(found, v, src, depth + 1)
    if key == "type":
        names = [arg] if isinstance(arg, str) else arg
        if not isinstance(names, list) or not names or not all(n in _TYPES for n in names):
            return _UNSURE
        return "(" + " or ".join(_TYPES[n].format(v=v) for n in names) + ")"
    if key == "required" and isinstance(arg, list) and all(isinstance(n, str) for n in arg):
        return " and ".join([f"type({v}) is dict", *(f"{n!r} in {v}" for n in arg)])
    if key == "properties" and isinstance(arg, dict):
        parts = [f"type({v}) is dict"]
        for name, sub in arg.items():
            inner = _expression(sub, f"{v}[{name!r}]", src, depth + 1)
            parts.append(f"({name!r} not in {v} or ({inner}))")
        return " and ".join(parts)
    if key == "items" and isinstance(arg, dict):
        src.loops += 1
        item = f"_i{src.loops}"
        inner = _expression(arg, item, src, depth + 1)
        return f"type({v}) is list and all(({inner}) for {item} in {v})"
    if key in ("minLength", "maxLength") and type(arg) is int:
        return f"type({v}) is str and len({v}) {'>=' if key == 'minLength' else '<='} {arg}"
    if key == "pattern" and isinstance(arg, str):
        return f"type({v}) is str and {src.constant(re.compile(arg))}.search({v}) is not None"
    if key == "format" and isinstance(arg, str):
        return f"type({v}) is str and _conforms({v}, {arg!r})"
    if key == "minimum" and type(arg) is int:
        return f"type({v}) is int and {v} >= {arg}"
    if key in ("const", "enum"):
        allowed = [arg] if key == "const" else arg
        if isinstance(allowed, list) and allowed and all(type(a) is str for a in allowed):
            return f"type({v}) is str and {v} in {src.constant(frozenset(allowed))}"
    return _UNSURE


def _expression(schema: Any, v: str, src: _Source, depth: int) -> str:
    if not isinstance(schema, dict) or depth > 20:
        return _UNSURE
    known = _keywords()
    parts = [
        f"({_keyword(key, arg, v, src, depth)})" for key, arg in schema.items() if key in known
    ]
    return " and ".join(parts) or "True"


@cache
def _plain_check(schema: str) -> Callable[[Any], bool]:
    """Contract schema `schema` as a plain predicate (see above)."""
    src = _Source()
    expression = _expression({"$ref": f"#/components/schemas/{schema}"}, "event", src, 0)
    from jsonschema import FormatChecker

    formats = _validator(schema).format_checker or FormatChecker()
    namespace: dict[str, Any] = {**src.constants, "_conforms": formats.conforms}
    check: Callable[[Any], bool] = eval(f"lambda event: bool({expression})", namespace)
    return check


def _plainly_valid(item: Any) -> bool:
    return _plain_check(_schema_name(item))(item)


@dataclass(frozen=True)
class Refused:
    """Why a batch is refused whole (422): the first bad event's index and what is wrong."""

    message: str
    index: int | None = None
    fields: dict[str, str] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": "validation_failed", "message": self.message}
        if self.fields:
            error["fields"] = self.fields
        if self.index is not None:
            error["index"] = self.index
        return {"error": error}


@dataclass(frozen=True)
class Event:
    """One checked event, with its times parsed."""

    id: str
    type: str
    occurred_at: datetime
    product_ref: str
    data: dict[str, Any]

    @property
    def order(self) -> tuple[datetime, str]:
        """Which of two events about the same thing is the later word."""
        return (self.occurred_at, self.id)


def _timestamp(text: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo is not None else None


def _semantics(data: dict[str, Any]) -> tuple[str, str] | None:
    """What the schema cannot say: a real time, sensible periods and ratings."""
    if _timestamp(data["occurred_at"]) is None:
        return "occurred_at", "not an RFC 3339 date-time with an offset"
    if data["type"] != "product.stats":
        return None
    start, end = date.fromisoformat(data["period_start"]), date.fromisoformat(data["period_end"])
    if not 0 <= (end - start).days <= 6:
        return "period_end", "a period is one day or one week, ending on or after its start"
    ratings = data["ratings"]
    if not ratings["count"] <= ratings["sum"] <= 5 * ratings["count"]:
        return "ratings.sum", "each rating is 1 to 5 stars"
    return None


def _errors(item: Any) -> list[Any]:
    return sorted(_event_validator(item).iter_errors(item), key=lambda e: list(map(str, e.path)))


def check_batch(data: Any) -> list[Event] | Refused:
    """The batch's events, or why it is refused (naming the first bad event's index)."""
    if not isinstance(data, dict) or not isinstance(data.get("events"), list):
        return Refused("the body must be an object with an events array")
    items: list[Any] = data["events"]
    if not 1 <= len(items) <= MAX_EVENTS:
        return Refused(f"a batch has 1 to {MAX_EVENTS} events, this one has {len(items)}")
    events: list[Event] = []
    for index, item in enumerate(items):
        errors = [] if _plainly_valid(item) else _errors(item)
        if errors:
            where = {
                f"events[{index}]" + "".join(f".{p}" for p in e.path): e.message[:200]
                for e in errors[:5]
            }
            return Refused(f"event {index} does not match the contract", index, where)
        wrong = _semantics(item)
        if wrong is not None:
            return Refused(
                f"event {index} does not make sense",
                index,
                {f"events[{index}].{wrong[0]}": wrong[1]},
            )
        occurred = _timestamp(item["occurred_at"])
        assert occurred is not None
        events.append(Event(item["id"], item["type"], occurred, item["product_ref"], item))
    return events


# --- storing it -------------------------------------------------------------------------------


@dataclass
class Stored:
    accepted: int = 0
    duplicates: int = 0
    unknown_products: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "unknown_products": self.unknown_products,
        }


def ingest(db: Database, events: Sequence[Event], now: datetime | None = None) -> Stored:
    """Store one checked batch in one transaction."""
    with db.session() as session:
        return store(session, events, now or utcnow())


def store(session: Session, events: Sequence[Event], now: datetime) -> Stored:
    """Store one checked batch in the caller's transaction.

    On PostgreSQL each step is one statement over arrays of the batch's values (`unnest`), so
    a batch of 500 costs a few round trips and no per-row SQL; SQLite takes the same steps as
    executemany. Rows go in key order, so concurrent batches touching the same keys lock them
    in the same order (no deadlock)."""
    result = Stored()
    unique: dict[str, Event] = {}
    for event in events:
        if event.id in unique:
            result.duplicates += 1
        else:
            unique[event.id] = event
    postgres = session.get_bind().dialect.name == "postgresql"
    refs = sorted({e.product_ref for e in unique.values()})
    if postgres:
        found = session.execute(
            sa.text("SELECT ref, id FROM product WHERE ref = ANY(CAST(:refs AS VARCHAR[]))"),
            {"refs": refs},
        )
    else:
        found = session.execute(select(Product.ref, Product.id).where(col(Product.ref).in_(refs)))
    ids: dict[str, int | None] = {ref: pid for ref, pid in found}
    unknown = set(refs) - set(ids)
    fresh_events = sorted(unique.values(), key=lambda e: e.id)
    new_ids = (_record_pg if postgres else _record)(session, fresh_events, unknown, now)
    fresh = [e for e in unique.values() if e.id in new_ids]
    result.duplicates += len(unique) - len(fresh)
    result.accepted = len(fresh)
    result.unknown_products = sorted({e.product_ref for e in fresh} & unknown)
    stats = [e for e in fresh if e.type == "product.stats"]
    if stats:
        rows = _stats_rows(stats, ids)
        (_store_stats_pg if postgres else _store_stats)(session, rows)
    _store_status(session, [e for e in fresh if e.type == "product.status"], ids)
    return result


def _record(session: Session, events: list[Event], unknown: set[str], now: datetime) -> set[str]:
    """Record each event id once; the ids that are new."""
    rows = [
        {
            "event_id": e.id,
            "type": e.type,
            "product_ref": e.product_ref,
            "occurred_at": e.occurred_at,
            "received_at": now,
            "unknown_product": e.product_ref in unknown,
            "payload": e.data if e.product_ref in unknown else None,
        }
        for e in events
    ]
    table = MarketplaceEvent.__table__  # type: ignore[attr-defined]
    statement = (
        sqlite.insert(table)
        .on_conflict_do_nothing(index_elements=["event_id"])
        .returning(table.c.event_id)
    )
    return set(session.execute(statement, rows).scalars())


_RECORD_PG = sa.text(
    """
    INSERT INTO marketplace_event
        (event_id, type, product_ref, occurred_at, received_at, unknown_product, payload)
    SELECT e.event_id, e.type, e.product_ref, e.occurred_at, :now, e.unknown_product, e.payload
    FROM json_to_recordset(CAST(:rows AS JSON)) AS e(
        event_id VARCHAR, type VARCHAR, product_ref VARCHAR, occurred_at TIMESTAMPTZ,
        unknown_product BOOLEAN, payload JSON)
    ON CONFLICT (event_id) DO NOTHING
    RETURNING event_id
    """
).bindparams(sa.bindparam("now", type_=UTCDateTime()))


def _record_pg(session: Session, events: list[Event], unknown: set[str], now: datetime) -> set[str]:
    """`_record` as one statement: the rows go as one JSON array (json.dumps is C, and the
    server reads it in C too; a parameter per value or arrays cost far more in Python)."""
    rows = [
        {
            "event_id": e.id,
            "type": e.type,
            "product_ref": e.product_ref,
            "occurred_at": e.occurred_at.isoformat(),
            "unknown_product": e.product_ref in unknown,
            "payload": e.data if e.product_ref in unknown else None,
        }
        for e in events
    ]
    return set(session.execute(_RECORD_PG, {"now": now, "rows": json.dumps(rows)}).scalars())


def _latest(events: Iterable[Event], key: Any) -> list[Event]:
    """Of the events sharing a key, the latest word only."""
    best: dict[Any, Event] = {}
    for event in events:
        k = key(event)
        if k not in best or event.order > best[k].order:
            best[k] = event
    return list(best.values())


# The stored row's columns, in order; the first three are the key, the rest the figures.
_STATS_COLUMNS = (
    ("product_ref", "VARCHAR"),
    ("period_start", "DATE"),
    ("period_end", "DATE"),
    ("product_id", "INTEGER"),
    ("views", "INTEGER"),
    ("orders", "INTEGER"),
    ("units_sold", "INTEGER"),
    ("revenue", "BIGINT"),
    ("ratings_count", "INTEGER"),
    ("ratings_sum", "INTEGER"),
    ("returns", "INTEGER"),
    ("occurred_at", "TIMESTAMPTZ"),
    ("event_id", "VARCHAR"),
)
_FIGURES = tuple(name for name, _ in _STATS_COLUMNS[3:])


def _stats_rows(events: list[Event], ids: dict[str, int | None]) -> list[tuple[Any, ...]]:
    """One row per product and period: the batch's latest word on it, in key order."""
    rows = []
    for e in _latest(
        events, lambda e: (e.product_ref, e.data["period_start"], e.data["period_end"])
    ):
        data = e.data
        rows.append(
            (
                e.product_ref,
                date.fromisoformat(data["period_start"]),
                date.fromisoformat(data["period_end"]),
                ids.get(e.product_ref),
                data["views"],
                data["orders"],
                data["units_sold"],
                data["revenue"]["amount"],
                data["ratings"]["count"],
                data["ratings"]["sum"],
                data.get("returns", 0),
                e.occurred_at,
                e.id,
            )
        )
    rows.sort(key=lambda row: row[:3])
    return rows


def _store_stats(session: Session, rows: list[tuple[Any, ...]]) -> None:
    """Insert each row, or replace the stored figures when the row is the later word."""
    table = ProductStats.__table__  # type: ignore[attr-defined]
    insert = sqlite.insert(table)
    newer = sa.tuple_(insert.excluded.occurred_at, insert.excluded.event_id) > sa.tuple_(
        table.c.occurred_at, table.c.event_id
    )
    names = [name for name, _ in _STATS_COLUMNS]
    session.execute(
        insert.on_conflict_do_update(
            index_elements=["product_ref", "period_start", "period_end"],
            set_={name: insert.excluded[name] for name in _FIGURES},
            where=newer,
        ),
        [dict(zip(names, row, strict=True)) for row in rows],
    )


_STORE_STATS_PG = sa.text(
    "INSERT INTO product_stats ({names})"
    " SELECT {names} FROM json_to_recordset(CAST(:rows AS JSON)) AS r({columns})"
    " ON CONFLICT (product_ref, period_start, period_end) DO UPDATE SET {figures}"
    " WHERE (excluded.occurred_at, excluded.event_id)"
    " > (product_stats.occurred_at, product_stats.event_id)".format(
        names=", ".join(name for name, _ in _STATS_COLUMNS),
        columns=", ".join(f"{name} {kind}" for name, kind in _STATS_COLUMNS),
        figures=", ".join(f"{name} = excluded.{name}" for name in _FIGURES),
    )
)


def _store_stats_pg(session: Session, rows: list[tuple[Any, ...]]) -> None:
    """`_store_stats` as one statement, the rows as one JSON array (as `_record_pg`)."""
    names = [name for name, _ in _STATS_COLUMNS]
    session.execute(
        _STORE_STATS_PG,
        {"rows": json.dumps([dict(zip(names, row, strict=True)) for row in rows], default=str)},
    )


# --- listing status, and telling the owner --------------------------------------------------

PRODUCT_LIVE = t("sync.product_live")
REJECTED = t("market.rejected")
REJECTED_FIX = t("market.rejected_fix")
DELISTED = t("market.delisted")
DELISTED_FIX = t("market.delisted_fix")
# A marketplace reason (its own words, any language) -> what it is about, by keyword.
REASON_KINDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("prohibited", ("prohibit", "dilarang", "terlarang", "banned", "illegal", "counterfeit")),
    ("duplicate", ("duplicate", "duplikat", "ganda")),
    ("photos", ("photo", "foto", "image", "gambar", "watermark", "blur")),
    ("price", ("price", "harga")),
    ("description", ("description", "deskripsi")),
    ("category", ("category", "kategori")),
    ("weight", ("weight", "berat")),
    ("stock", ("stock", "stok")),
    ("name", ("name", "nama", "title", "judul")),
)
REASON_TEXTS = {
    "prohibited": t("market.reason.prohibited"),
    "duplicate": t("market.reason.duplicate"),
    "photos": t("market.reason.photos"),
    "price": t("market.reason.price"),
    "description": t("market.reason.description"),
    "category": t("market.reason.category"),
    "weight": t("market.reason.weight"),
    "stock": t("market.reason.stock"),
    "name": t("market.reason.name"),
}
_FIX_WORD = {field: word for word, field in FIX_WORDS.items()}


def explain(reasons: Sequence[str]) -> tuple[Text | str, str | None]:
    """The first reason in plain words, and the word to type after *ubah* to fix it."""
    for reason in reasons:
        lowered = reason.lower()
        for kind, keys in REASON_KINDS:
            if any(k in lowered for k in keys):
                return REASON_TEXTS[kind], _FIX_WORD.get(kind)
    return ("; ".join(reasons)[:300] or "-"), None


def _store_status(session: Session, events: list[Event], ids: dict[str, int | None]) -> None:
    for event in sorted(_latest(events, lambda e: e.product_ref), key=lambda e: e.order):
        row = session.get(ListingStatus, event.product_ref)
        if row is not None and (row.occurred_at, row.event_id) >= event.order:
            continue  # an older word than the one we have: it changes nothing
        before = row.status if row is not None else None
        reasons = [str(r) for r in event.data.get("reasons") or []]
        if row is None:
            row = ListingStatus(
                product_ref=event.product_ref,
                status=event.data["status"],
                occurred_at=event.occurred_at,
                event_id=event.id,
            )
        row.product_id = ids.get(event.product_ref)
        row.status, row.url, row.reasons = event.data["status"], event.data.get("url"), reasons
        row.occurred_at, row.event_id = event.occurred_at, event.id
        session.add(row)
        product = session.get(Product, row.product_id) if row.product_id else None
        if product is not None and product.status != "deleted":
            _apply_to_product(session, product, row, changed=before != row.status)


def _apply_to_product(
    session: Session, product: Product, row: ListingStatus, changed: bool
) -> None:
    """The product follows the listing's latest status (and nothing before it), so any
    delivery order ends the same; the owner hears of a change once."""
    name = product.name or ""
    message: Text | None = None
    was_live = product.status == "live"
    product.url = row.url or (product.url if row.status == "live" else None)
    product.reason = None
    if row.status == "live":
        product.status = "live"
        if not was_live:
            message = Text(PRODUCT_LIVE.msgid, {"name": name, "url": product.url or "-"})
    elif row.status in ("rejected", "delisted"):
        reason, word = explain(row.reasons)
        product.status = "needs_fix"
        product.reason = ("; ".join(row.reasons) or row.status)[:500]
        if changed:
            kind = {"rejected": (REJECTED, REJECTED_FIX), "delisted": (DELISTED, DELISTED_FIX)}
            plain, fixable = kind[row.status]
            params: dict[str, Any] = {"name": name, "reason": label_to_json(reason)}
            if word:
                message = Text(fixable.msgid, {**params, "field": word})
            else:
                message = Text(plain.msgid, params)
    else:  # pending_review
        product.status = "pending"
    product.updated_at = utcnow()
    session.add(product)
    if message is not None:
        _notify(session, product.seller_id, message)


def _notify(session: Session, seller_id: int, message: Text) -> None:
    """A notice on the channel the owner used most recently (as the sync worker does)."""
    account = latest_account(session, seller_id)
    if account is not None and account.id is not None:
        notices.add(session, account.id, message.msgid, dict(message.params))


def unknown_report(db: Database, limit: int = 50) -> list[tuple[str, str, int]]:
    """Events about products we do not know: (product_ref, type, how many), most first."""
    with db.read_session() as session:
        rows = session.exec(
            select(MarketplaceEvent.product_ref, MarketplaceEvent.type, sa.func.count())
            .where(col(MarketplaceEvent.unknown_product) == sa.true())  # the partial index
            .group_by(col(MarketplaceEvent.product_ref), col(MarketplaceEvent.type))
            .order_by(sa.func.count().desc())
            .limit(limit)
        ).all()
    return [(str(ref), str(kind), int(n)) for ref, kind, n in rows]
