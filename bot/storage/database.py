"""Engines, sessions and migrations for SQLite (WAL) and PostgreSQL."""

from __future__ import annotations

import ast
import atexit
import json
import logging
import os
import select
import signal
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlmodel import Session

if TYPE_CHECKING:
    from alembic.config import Config

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
    # Straight to the driver: through `exec_driver_sql` (events, an execution context, a
    # result) the BEGIN took 4-5% of the server's CPU in `make bench-telegram`.
    statement = (
        "BEGIN" if conn.get_execution_options().get("read_only", False) else "BEGIN IMMEDIATE"
    )
    dbapi = conn.dialect.loaded_dbapi
    try:
        conn.connection.driver_connection.execute(statement)
    except dbapi.Error as exc:  # raised as every other statement's error is ("database is locked")
        raise sa.exc.DBAPIError.instance(statement, None, exc, dbapi.Error) from exc


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
            # One writer at a time in the process: a waiting writer sleeps on this lock and
            # starts the moment the previous one commits, instead of SQLite's busy handler
            # polling with back-off (writers are still serialised by `BEGIN IMMEDIATE`, and
            # the busy timeout still covers other processes on the same file).
            self._writer: AbstractContextManager[Any] = threading.RLock()
        else:
            self._writer = nullcontext()
            # No `pool_pre_ping` (a round trip on every checkout): a connection the server
            # closed (restart, failover, idle timeout) is found without one at checkout, and
            # one that dies in use is invalidated with the rest of the pool by SQLAlchemy
            # ("optimistic" disconnect handling); `pool_recycle` retires old connections
            # before a proxy or firewall drops them silently.
            self.engine = sa.create_engine(
                self.url,
                echo=echo,
                hide_parameters=True,
                pool_size=10,
                max_overflow=20,
                pool_pre_ping=False,
                pool_recycle=1800,
            )
            sa.event.listen(self.engine, "handle_error", _without_detail)
            sa.event.listen(self.engine.pool, "checkout", _closed_by_server)
        stats_path = os.environ.get("PELAPAK_STATEMENT_STATS")
        if stats_path:
            StatementStats(self.engine, Path(stats_path))

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
        with self._writer, Session(self.engine, expire_on_commit=False) as session:
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
    def transaction(self) -> Iterator[sa.Connection]:
        """A connection in one writing transaction, for Core statements only: what a session
        costs (its identity map, its flush, the after-commit listeners) is not paid."""
        with self._writer, self.engine.begin() as connection:
            yield connection

    @contextmanager
    def read_session(self) -> Iterator[Session]:
        """A session for reads only: on SQLite it does not take the write lock."""
        with Session(
            self.engine.execution_options(read_only=True), expire_on_commit=False
        ) as session:
            yield session  # closing ends the transaction and keeps what was loaded

    def migrate(self) -> None:
        """Bring the schema to the newest migration.

        Several processes starting at once on PostgreSQL take turns (a transaction-level
        advisory lock): the first migrates, the others find the schema at the head.
        """
        with self.engine.execution_options(read_only=True).connect() as connection:
            try:  # the usual case: at the head, read without waiting on any writer
                if _versions(connection) == shipped_heads():
                    return
            except sa.exc.DBAPIError:
                pass  # no version table yet: a new database
        with self.engine.begin() as connection:
            if not self.is_sqlite:
                connection.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext('migrate'))"))
            if _at_head(connection):
                return  # another process has just migrated it
            from alembic import command

            config = _alembic_config()
            config.set_main_option("sqlalchemy.url", self.url.replace("%", "%%"))
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    def dispose(self) -> None:
        self.engine.dispose()


def _alembic_config() -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def _at_head(connection: sa.Connection) -> bool:
    """Whether the schema is at the newest migration, read as alembic reads it (its version
    table), without alembic's migration context: a test makes one per app, a process one."""
    if not connection.dialect.has_table(connection, "alembic_version"):
        return False
    return _versions(connection) == shipped_heads()


def _versions(connection: sa.Connection) -> frozenset[str]:
    return frozenset(
        connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalars()
    )


@cache
def shipped_heads() -> frozenset[str]:
    """The newest revision(s) of the migrations shipped with this code, read once."""
    return revision_heads(MIGRATIONS / "versions")


def head_revisions() -> tuple[str, ...]:
    """The newest migration(s) this code ships, in order (for health and `pelapak doctor`)."""
    return tuple(sorted(shipped_heads()))


def current_revisions(conn: sa.Connection) -> tuple[str, ...]:
    """What the database is at (empty before the first `pelapak db upgrade`)."""
    if not sa.inspect(conn).has_table("alembic_version"):
        return ()
    return tuple(sorted(conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalars()))


def revision_heads(versions: Path) -> frozenset[str]:
    """The revisions no other revision in `versions` follows, as alembic finds its heads.

    Read from each script's `revision` and `down_revision` literals, without importing
    alembic or the scripts: every command checks the schema as it starts, and alembic with
    its dialects and every script cost more CPU than the rest of `pelapak db upgrade`. When
    a script does not declare them as literals, alembic reads the scripts itself.
    """
    revisions: set[str] = set()
    followed: set[str] = set()
    for path in versions.glob("*.py"):
        if path.name.startswith((".#", "__init__")):
            continue
        declared = _declared(path)
        if "revision" not in declared or "down_revision" not in declared:
            from alembic.script import ScriptDirectory

            config = _alembic_config()
            config.set_main_option("path_separator", "os")
            config.set_main_option("version_locations", str(versions))
            return frozenset(ScriptDirectory.from_config(config).get_heads())
        revisions.add(declared["revision"])
        down = declared["down_revision"]
        followed.update([down] if isinstance(down, str) else down or ())
    return frozenset(revisions - followed)


def _declared(path: Path) -> dict[str, Any]:
    """A migration script's top-level `revision` and `down_revision`, when literals declared
    before its first function (where alembic's template puts them)."""
    found: dict[str, Any] = {}
    header = path.read_text(encoding="utf-8").split("\ndef ", 1)[0]
    try:
        body = ast.parse(header, str(path)).body
    except SyntaxError:  # "\ndef " inside a string: cut short
        return {}
    for node in body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        else:
            continue
        if isinstance(target, ast.Name) and target.id in ("revision", "down_revision"):
            try:
                found[target.id] = ast.literal_eval(value)
            except ValueError:
                return {}
    return found


def _closed_by_server(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """At checkout, without a round trip: a connection the server has closed is replaced.

    An idle connection has nothing to read unless the server ended it (PostgreSQL sends a
    FATAL error and closes the socket when it shuts down or terminates the backend), so a
    readable socket is a dead connection. `DisconnectionError` makes the pool discard it and
    check out another (a new one when the rest are gone too): the "retry once" is the pool's.
    """
    if getattr(dbapi_connection, "closed", False) or getattr(dbapi_connection, "broken", False):
        raise sa.exc.DisconnectionError("connection closed")
    pgconn = getattr(dbapi_connection, "pgconn", None)
    if pgconn is None:
        return
    try:
        readable, _, _ = select.select([pgconn.socket], [], [], 0)
    except (OSError, ValueError) as exc:  # no socket any more
        raise sa.exc.DisconnectionError("connection closed") from exc
    if readable:
        raise sa.exc.DisconnectionError("the server closed the connection")


def _disable_pysqlite_transactions(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None


_WRITES = ("insert", "update", "delete")


class StatementStats:
    """Counts what the engine sends, for bench/telegram_webhook.py (PELAPAK_STATEMENT_STATS).

    Statements (each a round trip on PostgreSQL), transactions begun, committed and rolled
    back, those that wrote, and pool checkouts. Written as JSON to `path` at exit and on
    SIGUSR1, so the bench can take a snapshot before its load and subtract it.
    """

    def __init__(self, engine: sa.Engine, path: Path) -> None:
        self.path = path
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        sa.event.listen(engine, "before_cursor_execute", self._statement)
        sa.event.listen(engine, "begin", self._begin)
        sa.event.listen(engine, "commit", self._end("commits"))
        sa.event.listen(engine, "rollback", self._end("rollbacks"))
        sa.event.listen(engine.pool, "checkout", self._checkout)
        atexit.register(self.dump)
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGUSR1, lambda *_: self.dump())

    def _count(self, key: str) -> None:
        with self._lock:
            self.counts[key] += 1

    def _statement(self, conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        self._count("statements")
        if statement.lstrip()[:6].lower() in _WRITES:
            conn.info["pelapak_wrote"] = True

    def _begin(self, conn: Any) -> None:
        conn.info["pelapak_wrote"] = False
        self._count("begins")
        if conn.dialect.name == "sqlite":
            self._count("statements")  # its BEGIN goes to the driver, past the cursor events

    def _end(self, key: str) -> Callable[[Any], None]:
        def ended(conn: Any) -> None:
            self._count(key)
            if conn.info.pop("pelapak_wrote", False):
                self._count("writing_transactions")

        return ended

    def _checkout(self, *_: Any) -> None:
        self._count("checkouts")

    def dump(self) -> None:
        with self._lock:
            data = dict(self.counts)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data))
        tmp.replace(self.path)
