"""The schema the migrations build is the one the models declare, and the inbox's hot reads
go through an index, not through every update ever stored (the rows stay, scrubbed, so that
a redelivery is dropped: the table only grows)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

from bot.inbox import Inbox, Turn
from bot.storage.database import Database


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    yield database
    database.dispose()


def test_the_migrated_schema_is_what_the_models_declare(db: Database) -> None:
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, SQLModel.metadata) == []


def _statements(db: Database, work: Callable[[], Any]) -> list[tuple[str, Any]]:
    seen: list[tuple[str, Any]] = []

    def note(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if "inbound_update" in statement:
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
        for statement, parameters in _statements(db, work):
            plan = _plan(db, statement, parameters)
            assert index in plan, (what, plan)
