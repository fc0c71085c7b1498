"""Fixtures: every database test runs on SQLite and on PostgreSQL (a fresh database per run)."""

from __future__ import annotations

import gc
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import SQLModel

from bot.app import App, build_app
from bot.config import Settings
from bot.conversation import ConversationRunner, Reply
from bot.storage.database import Database, normalize_url
from flows.messages import Inbound, PhotoRef, RejectedPhoto
from tests.fake_telegram import FakeTelegram
from tests.fake_twilio import FakeTwilio

PG_ADMIN_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


@contextmanager
def fresh_postgres_database(prefix: str = "pelapak_fresh") -> Iterator[str]:
    """A new, empty database on the local server (no schema), dropped afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A database made for this test run on the local server, dropped at the end."""
    name = f"pelapak_test_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        # Commits need not wait for the disk: nothing here survives a crash of the server.
        conn.exec_driver_sql(f'ALTER DATABASE "{name}" SET synchronous_commit TO off')
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    db = Database(url)
    db.migrate()
    db.dispose()
    yield url
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A test marked `any_backend` (a refusal before anything is stored, a log line, an
    image) runs on SQLite only: the PostgreSQL copy would test the same code again. Tests
    marked `slow` start first, the longest of them first."""
    twice = [
        item
        for item in items
        if item.get_closest_marker("any_backend")
        and getattr(item, "callspec", None) is not None
        and item.callspec.params.get("database_url") == "postgresql"  # type: ignore[attr-defined]
    ]
    if twice:
        config.hook.pytest_deselected(items=twice)
        dropped = {id(item) for item in twice}
        items[:] = [item for item in items if id(item) not in dropped]
    # The longest first (each test process takes a few at a time), so the run does not end
    # waiting on one long test that started late.
    items.sort(key=_expected_seconds, reverse=True)


# Modules whose tests drive Chromium (module-scoped: launched once per module and process).
BROWSER_MODULES = ("tests/test_dashboard.py::", "tests/test_dashboard_unggulan.py::")


@pytest.hookimpl(optionalhook=True)  # a known hook only while xdist is loaded
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """`make test`'s -n 4: tests are handed out one by one as usual, except the browser
    tests, which all go to one test process and run there one module after the other. Spread
    over every process, Chromium was launched ten times a run (1.4 s of CPU each), again
    whenever other tests came in between. (xdist's own `loadgroup` does not group under
    pytest 9: it renames node ids, which pytest 9 no longer reads.)"""
    if config.getvalue("dist") != "load":
        return None  # --dist loadscope, loadfile... keep xdist's own scheduling
    from xdist.scheduler import LoadScopeScheduling

    class OneChromium(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return "browser" if nodeid.startswith(BROWSER_MODULES) else nodeid

    return OneChromium(config, log)


def pytest_collection_finish(session: pytest.Session) -> None:
    """What collection made (the modules, the fuzzers' places, thousands of test items) lives
    for the whole run: moved out of the garbage collector's sight, every later collection
    has less to walk (about 7% of the suite's CPU)."""
    gc.collect()
    gc.freeze()


def _expected_seconds(item: pytest.Item) -> float:
    slow = item.get_closest_marker("slow")
    return 0.0 if slow is None else float(slow.kwargs.get("seconds", 10))


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite database migrated to the head once per run (migrating from nothing takes
    about a second); each test starts from a copy of it."""
    path = tmp_path_factory.mktemp("template") / "pelapak.db"
    db = Database(f"sqlite:///{path}")
    db.migrate()
    db.dispose()  # the last connection to close folds the write-ahead log into the file
    return path


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        path = tmp_path / "pelapak.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("postgres_url")
    truncate_all(url)
    return url


_EMPTYING: dict[str, str] = {}
_EMPTIERS: dict[str, sa.Engine] = {}


def truncate_all(url: str) -> None:
    """Empty every table of a PostgreSQL test database and restart its ids.

    DELETE on a test's handful of rows takes a fifth of the time TRUNCATE takes (which makes
    new files for every table), and this runs before every PostgreSQL test: 1.3 ms in all."""
    if url not in _EMPTIERS:  # kept for the run (a new connection costs 4 ms); pinged, as
        # some tests end every connection to the database
        _EMPTIERS[url] = sa.create_engine(normalize_url(url), pool_size=1, pool_pre_ping=True)
    with _EMPTIERS[url].begin() as conn:
        if url not in _EMPTYING:
            sequences = conn.exec_driver_sql(
                "SELECT sequencename FROM pg_sequences WHERE schemaname = 'public'"
            ).scalars()
            _EMPTYING[url] = "; ".join(
                [f'DELETE FROM "{t.name}"' for t in reversed(SQLModel.metadata.sorted_tables)]
                # setval, not ALTER SEQUENCE ... RESTART: 1 ms for all against 21 ms
                + [f"SELECT setval('\"{name}\"', 1, false)" for name in sequences]
            )
        conn.exec_driver_sql(_EMPTYING[url])


@pytest.fixture(scope="session")
def base_settings() -> Settings:
    """The settings every test starts from, read from the environment once: reading it (92
    fields, two sources) took 10 ms, paid by every test."""
    return Settings(_env_file=None, strict_messages=True)


@pytest.fixture
def settings(base_settings: Settings, database_url: str, tmp_path: Path) -> Settings:
    # a deep copy: a test's change to a list or a dict of its settings stays its own
    return base_settings.model_copy(
        update={"database_url": database_url, "media_dir": tmp_path / "media"}, deep=True
    )


@pytest.fixture
def app(settings: Settings) -> Iterator[App]:
    built = build_app(settings)
    yield built
    built.close()


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)  # 10:00 WIB

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock()


class Chat:
    """One person talking to the bot, the way a transcript reads."""

    def __init__(
        self,
        runner: ConversationRunner,
        user: str,
        channel: str = "console",
        phone: str | None = None,
        locale: str | None = None,
    ) -> None:
        self.runner = runner
        self.user = user
        self.channel = channel
        self.phone = phone
        self.locale = locale
        self.replies: list[Reply] = []
        self.sent = 0

    def send(
        self,
        text: str | None = None,
        *,
        choice: str | None = None,
        photos: tuple[PhotoRef | RejectedPhoto, ...] = (),
        message_id: str | None = None,
        **extra: object,
    ) -> list[Reply]:
        self.sent += 1
        inbound = Inbound(
            user_key=self.user,
            channel=self.channel,
            text=text,
            choice=choice,
            sender_phone=extra.pop("sender_phone", self.phone),  # type: ignore[arg-type]
            locale_hint=self.locale,
            message_id=message_id,
            photos=tuple(p for p in photos if isinstance(p, PhotoRef)),
            rejected_photos=tuple(p for p in photos if isinstance(p, RejectedPhoto)),
            **extra,  # type: ignore[arg-type]
        )
        self.replies = self.runner.handle(inbound)
        return self.replies

    def choose(self, label: str) -> list[Reply]:
        """Tap the button with this label on the last reply."""
        for reply in reversed(self.replies):
            for cid, text in reply.choices:
                if text == label:
                    return self.send(choice=cid)
        raise AssertionError(f"no choice {label!r} in {[r.choices for r in self.replies]}")

    @property
    def last(self) -> str:
        return self.replies[-1].text if self.replies else ""

    @property
    def text(self) -> str:
        return "\n".join(r.text for r in self.replies)


@pytest.fixture
def twilio() -> Iterator[FakeTwilio]:
    """A fake Twilio API on 127.0.0.1."""
    fake = FakeTwilio()
    yield fake
    fake.close()


@pytest.fixture
def fake() -> Iterator[FakeTelegram]:
    """A fake Telegram Bot API on 127.0.0.1."""
    server = FakeTelegram()
    yield server
    server.close()


@pytest.fixture
def runner(app: App, clock: Clock) -> ConversationRunner:
    return ConversationRunner(app.db, app.settings, clock=clock)


@pytest.fixture
def owner(runner: ConversationRunner) -> Chat:
    return Chat(runner, "+6281234567890", phone="+6281234567890")
