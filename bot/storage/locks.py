"""Locks that hold across processes sharing one database, for the length of a transaction."""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import Session

LOCK = sa.text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))")


def hold_until_commit(session: Session, key: str) -> None:
    """Hold `key` until this transaction ends.

    PostgreSQL: a transaction-level advisory lock, so processes on several machines take
    turns. SQLite: writers already take turns (every write transaction begins IMMEDIATE), and
    a SQLite database is served by one process.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            sa.text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"), {"key": key}
        )
