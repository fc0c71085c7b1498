"""Golden transcripts (tests/transcripts/*.yaml), against the flows alone and end to end.

The flows-alone run takes milliseconds per transcript; the end-to-end run plays the same
files through the runner, the media pipeline and SQLite.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import SQLModel, col, select

from bot.app import App, build_app
from bot.config import Settings
from bot.conversation import ConversationRunner
from bot.i18n import Renderer
from bot.storage.models import ChannelAccount, Conversation, OutboxEvent, Product, Seller
from flows.messages import PhotoRef, RejectedPhoto
from flows.registration import shop_name_key
from tests import images
from tests.conftest import Clock
from tests.contract import problems
from tests.transcripts import FlowHost, PhotoMaker, Transcript, inbound, load_all, run

TRANSCRIPTS = load_all()
IDS = [t.name for t in TRANSCRIPTS]


def test_there_are_enough_transcripts() -> None:
    assert len(TRANSCRIPTS) >= 120


@pytest.mark.parametrize("transcript", TRANSCRIPTS, ids=IDS)
def test_on_the_flows_alone(transcript: Transcript) -> None:
    run(transcript, FlowHost(transcript, Renderer(transcript.spec.get("locale", "id"))))


@pytest.fixture(scope="module")
def shared_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    root = tmp_path_factory.mktemp("transcripts")
    settings = Settings(
        _env_file=None,
        database_url=f"sqlite:///{root / 'pelapak.db'}",
        media_dir=root / "media",
        strict_messages=True,
    )
    built = build_app(settings)
    yield built
    built.close()


@pytest.fixture
def clean_app(shared_app: App) -> App:
    """One database for the module, emptied before each transcript (migrating is slow): every
    table's DELETE in one script, run by SQLite itself (one statement at a time through
    SQLAlchemy was half the statements of the 600 end-to-end runs)."""
    conn = shared_app.db.engine.raw_connection()
    try:
        conn.driver_connection.executescript(_EMPTY_ALL)  # type: ignore[union-attr]
    finally:
        conn.close()
    return shared_app


_EMPTY_ALL = (
    "BEGIN;"
    + "".join(f'DELETE FROM "{table.name}";' for table in reversed(SQLModel.metadata.sorted_tables))
    + "COMMIT;"
)


class RunnerHost:
    """The real runner on SQLite, with photos through the real media pipeline."""

    def __init__(self, transcript: Transcript, app: App) -> None:
        self.transcript = transcript
        self.app = app
        self.clock = Clock()
        self.runner = ConversationRunner(app.db, app.settings, clock=self.clock)
        self.photos = PhotoMaker(self._photo)
        self.sent = 0
        self.last_choices: list[str] = []
        with app.db.session() as session:
            for name in transcript.spec.get("taken_shops", []):
                session.add(Seller(shop_name=name, shop_name_key=shop_name_key(name)))

    def _photo(self, kind: str, seed: int) -> PhotoRef | RejectedPhoto:
        made = {
            "sharp": images.sharp,
            "blurry": images.blurred,
            "dark": images.dark,
        }
        data = images.tiny() if kind == "tiny" else made[kind](seed)
        return self.app.media.ingest(data)

    def send(self, turn: Mapping[str, Any]) -> list[str]:
        if "wait" in turn:
            self.clock.advance(**turn["wait"])
            return []
        self.sent += 1
        replies = self.runner.handle(inbound(self.transcript, turn, self.photos, self.sent))
        self.last_choices = [cid for cid, _ in replies[-1].choices] if replies else []
        return [m for reply in replies for m in reply.msgids]

    def offered(self) -> list[str]:
        return self.last_choices

    def _account(self, session: Any) -> ChannelAccount | None:
        return session.exec(
            select(ChannelAccount).where(
                ChannelAccount.channel == self.transcript.channel,
                ChannelAccount.external_id == (self.transcript.phone or "user-1"),
            )
        ).first()

    def where(self) -> tuple[str | None, str | None, dict[str, Any]]:
        """Where the stored conversation is: one read after every turn, so one query."""
        with self.app.db.read_session() as session:
            found = session.exec(
                select(Conversation.flow, Conversation.step, Conversation.draft)
                .join(ChannelAccount, col(ChannelAccount.id) == Conversation.account_id)
                .where(
                    ChannelAccount.channel == self.transcript.channel,
                    ChannelAccount.external_id == (self.transcript.phone or "user-1"),
                )
            ).first()
        if found is None:
            return None, None, {}
        flow, step, draft = found
        return flow, step, dict(draft)

    def stored(self) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
        with self.app.db.session() as session:
            account = self._account(session)
            seller = (
                session.get(Seller, account.seller_id) if account and account.seller_id else None
            )
            if seller is None or seller.status == "erased":
                return None, []
            products = session.exec(
                select(Product)
                .where(Product.seller_id == seller.id, Product.status != "deleted")
                .order_by(col(Product.id))
            ).all()
            return seller.model_dump(), [p.model_dump() for p in products]


@pytest.mark.parametrize("transcript", TRANSCRIPTS, ids=IDS)
def test_end_to_end_on_sqlite(transcript: Transcript, clean_app: App) -> None:
    run(transcript, RunnerHost(transcript, clean_app))
    with clean_app.db.session() as session:  # and what it queued fits the marketplace contract
        events = session.exec(select(OutboxEvent).where(OutboxEvent.state != "superseded")).all()
    assert [p for e in events for p in problems(e.kind, e.payload)] == []


def test_transcript_files_are_where_the_loader_looks() -> None:
    assert (Path(__file__).parent / "transcripts").is_dir()
