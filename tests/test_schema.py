"""The schema the migrations build is the one the models declare, and the inbox's hot reads
go through an index, not through every update ever stored (the rows stay, scrubbed, so that
a redelivery is dropped: the table only grows)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

from bot.inbox import Inbox, Turn
from bot.marketplace_events import unknown_report
from bot.outgoing import Outgoing
from bot.storage.context import load_context
from bot.storage.database import Database
from bot.sync.worker import SyncWorker


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    yield database
    database.dispose()


def test_the_migrated_schema_is_what_the_models_declare(db: Database) -> None:
    def ours(name: str | None, kind: str, _parents: Any) -> bool:
        # APScheduler's job store makes and keeps its own table
        return not (kind == "table" and name == "apscheduler_jobs")

    with db.engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "include_name": ours}
        )
        assert compare_metadata(context, SQLModel.metadata) == []


def _index_definitions(connection: sa.Connection, schema: str) -> dict[str, str]:
    """Every index of the models' tables as the database itself writes it out."""
    names = {i.name for t in SQLModel.metadata.sorted_tables for i in t.indexes}
    if connection.dialect.name == "sqlite":
        rows = connection.exec_driver_sql(
            f"SELECT name, sql FROM {schema}.sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
        )
    else:
        rows = connection.exec_driver_sql(
            "SELECT indexname, replace(indexdef, %(prefix)s, '') FROM pg_indexes"
            " WHERE schemaname = %(schema)s",
            {"schema": schema, "prefix": f"{schema}."},
        )
    return {
        name: " ".join(definition.replace('"', "").lower().split())
        for name, definition in rows
        if name in names
    }


def test_every_index_is_what_the_models_declare_conditions_included(
    db: Database, tmp_path: Path
) -> None:
    """compare_metadata does not look at a partial index's condition: the database's own
    text of each index, migrated against made from the models, does."""
    if db.is_sqlite:
        made = sa.create_engine(f"sqlite:///{tmp_path / 'models.db'}")
        SQLModel.metadata.create_all(made)
        with made.connect() as connection:
            declared = _index_definitions(connection, "main")
        made.dispose()
        with db.engine.connect() as connection:
            migrated = _index_definitions(connection, "main")
    else:
        with db.engine.begin() as connection:
            connection.exec_driver_sql("DROP SCHEMA IF EXISTS models CASCADE")
            connection.exec_driver_sql("CREATE SCHEMA models")
            SQLModel.metadata.create_all(
                connection.execution_options(schema_translate_map={None: "models"})
            )
            declared = _index_definitions(connection, "models")
            migrated = _index_definitions(connection, "public")
            connection.exec_driver_sql("DROP SCHEMA models CASCADE")
    assert len(declared) >= 40
    assert migrated == declared


def _statements(db: Database, work: Callable[[], Any], table: str) -> list[tuple[str, Any]]:
    seen: list[tuple[str, Any]] = []

    def note(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if table in statement:
            seen.append((statement, parameters))

    sa.event.listen(db.engine, "before_cursor_execute", note)
    try:
        work()
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", note)
    assert seen
    return seen


def _plan(db: Database, statement: str, parameters: Any) -> str:
    with db.engine.connect() as connection:
        if db.is_sqlite:
            rows = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
            return "\n".join(str(row[-1]) for row in rows)
        # A test table is tiny, so the planner would read it whole: forbid that, and an
        # index that fits the statement must be there to be chosen.
        connection.exec_driver_sql("SET enable_seqscan = off")
        rows = connection.exec_driver_sql(f"EXPLAIN {statement}", parameters)
        return "\n".join(str(row[0]) for row in rows)


def test_the_inbox_reads_waiting_updates_through_indexes(db: Database) -> None:
    inbox = Inbox(db, "telegram", handler=None)  # type: ignore[arg-type]

    def first_unprocessed() -> None:
        with db.session() as session:
            Turn("telegram", "42", (1,)).claim(session)

    reads = {
        "stored between two numbers": (
            lambda: inbox._stored_between(5, 9),
            "ix_inbound_update_channel_seq",
        ),
        "a chat's waiting updates": (lambda: inbox._pending("42"), "ix_inbound_update_waiting"),
        "the chats with waiting updates": (
            lambda: inbox._pending_chats(timedelta(seconds=5)),
            "ix_inbound_update_waiting",
        ),
        "a chat's first waiting update": (first_unprocessed, "ix_inbound_update_waiting"),
    }
    for what, (work, index) in reads.items():
        _assert_reads_through(db, work, "inbound_update", index, what)


def _assert_reads_through(
    db: Database, work: Callable[[], Any], table: str, index: str, what: str
) -> None:
    for statement, parameters in _statements(db, work, table):
        if statement.lstrip().upper().startswith(("INSERT", "BEGIN")):
            continue
        plan = _plan(db, statement, parameters)
        assert index in plan, (what, plan)


def test_replies_notices_and_sync_events_waiting_are_read_through_indexes(db: Database) -> None:
    """What waits is read through an index of what waits: sent replies (kept a day), told
    notices and pushed sync events are not read again every few seconds."""
    outgoing = Outgoing(db, "telegram", deliver=None)  # type: ignore[arg-type]
    _assert_reads_through(
        db, outgoing.waiting_chats, "outgoing_message", "ix_outgoing_message_unsent", "replies"
    )
    worker = SyncWorker(db, media=None, client=None)  # type: ignore[arg-type]
    _assert_reads_through(
        db,
        lambda: worker.claim(8),
        "outbox_event_1",  # the claim looks for an earlier pending event of the seller
        "ix_outbox_event_pending_seller",
        "sync claim",
    )

    def context() -> None:
        with db.read_session() as session:
            load_context(session, "telegram", "42")

    _assert_reads_through(db, context, "notice.account_id", "ix_notice_unsent", "notices")
    _assert_reads_through(
        db,
        lambda: unknown_report(db),
        "marketplace_event",
        "ix_marketplace_event_unknown",
        "events about unknown products",
    )
