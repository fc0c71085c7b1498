"""Engines, sessions and migrations for SQLite (WAL) and PostgreSQL."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlmodel import Session

MIGRATIONS = Path(__file__).resolve().parent / "migrations"

log = logging.getLogger(__name__)

Committed = Callable[[Mapping[Any, Any]], None]


class _NoRows(logging.Filter):
    """SQLAlchemy logs result rows at DEBUG: personal data, so never (statements still go)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.INFO


def _keep_rows_out_of_logs() -> None:
    engine_log = logging.getLogger("sqlalchemy.engine.Engine")
    if not any(isinstance(f, _NoRows) for f in engine_log.filters):
        engine_log.addFilter(_NoRows())


def _without_detail(context: Any) -> None:
    """PostgreSQL's error DETAIL names the values (`Key (phone)=(+62...) already exists`):
    errors keep only the primary message, so a logged traceback shows no one's data."""
    orig = context.original_exception
    primary = getattr(getattr(orig, "diag", None), "message_primary", None)
    if not primary or not orig.args or orig.args[0] == primary:
        return
    orig.args = (primary,)
    wrapped = context.sqlalchemy_exception
    if wrapped is not None and wrapped.args:
        name = f"{type(orig).__module__}.{type(orig).__name__}"
        wrapped.args = (f"({name}) {primary}", *wrapped.args[1:])


def normalize_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL URLs written the usual way."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_begin(conn: Any) -> None:
    # Writers take the write lock at BEGIN so two never deadlock upgrading a read lock;
    # read-only sessions (WAL readers) begin deferred and never wait for writers.
    read_only = conn.get_execution_options().get("read_only", False)
    conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


class Database:
    """One engine and its sessions; built once by the composition root.

    Bound values are personal (names, numbers, addresses): `hide_parameters` keeps them out
    of logged statements and of the errors a failed statement raises.
    """

    def __init__(self, url: str, echo: bool = False) -> None:
        self.url = normalize_url(url)
        _keep_rows_out_of_logs()
        self._committed: list[Committed] = []
        if self.is_sqlite:
            self.engine = sa.create_engine(
                self.url,
                echo=echo,
                hide_parameters=True,
                connect_args={"check_same_thread": False, "timeout": 30},
            )
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
            sa.event.listen(self.engine, "connect", _disable_pysqlite_transactions)
            sa.event.listen(self.engine, "begin", _sqlite_begin)
        else:
            self.engine = sa.create_engine(
                self.url,
                echo=echo,
                hide_parameters=True,
                pool_size=10,
                max_overflow=20,
                pool_pre_ping=True,
            )
            sa.event.listen(self.engine, "handle_error", _without_detail)

    @property
    def is_sqlite(self) -> bool:
        return self.url.startswith("sqlite")

    def after_commit(self, listener: Committed) -> None:
        """Call `listener(session.info)` after a `session()` that put something there commits.

        For work outside the database that must follow what a transaction did, and must not
        happen if it rolled back (removing a file whose row it deleted).
        """
        self._committed.append(listener)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session in one transaction: committed on success, rolled back on error."""
        with Session(self.engine, expire_on_commit=False) as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise
            info = dict(session.info)
        for listener in self._committed if info else ():
            try:
                listener(info)
            except Exception:  # the transaction stands; what failed here is only late
                log.exception("after-commit work failed")

    @contextmanager
    def read_session(self) -> Iterator[Session]:
        """A session for reads only: on SQLite it does not take the write lock."""
        with Session(
            self.engine.execution_options(read_only=True), expire_on_commit=False
        ) as session:
            yield session  # closing ends the transaction and keeps what was loaded

    def migrate(self) -> None:
        """Bring the schema to the newest migration."""
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.set_main_option("sqlalchemy.url", self.url.replace("%", "%%"))
        with self.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    def dispose(self) -> None:
        self.engine.dispose()


def _disable_pysqlite_transactions(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None
