"""Fuzz: adversarial messages on the way through every flow, through the real runner and
database (SQLite and PostgreSQL), where what the flows accept is stored for real.

Each example is a new person walking a golden path (an owner registering and listing a
product, a facilitator registering an owner, an admin writing a broadcast) with hypothesis's
messages slipped in before some of the answers: huge numbers, texts of thousands of
characters, unicode edge cases, choice ids from elsewhere, photos, contacts and locations
where text is expected. Every message gets an answer that is not the generic apology, no
error is logged, nothing stored is an answer word or empty, and "/batal" then "menu" still
work at the end.
"""

from __future__ import annotations

import itertools
import logging
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import col, select

from bot.app import App
from bot.conversation import ConversationRunner, Reply
from bot.roles import add_facilitator
from bot.storage.models import Facilitator, Product, Seller
from flows.lexicon import normalize
from flows.messages import Location, PhotoRef
from tests import images
from tests.conftest import Chat, Clock
from tests.test_flow_properties import ANSWER_KEYS, FREE_TEXT
from tests.test_fuzz_flows import messages
from tests.transcripts import REGISTERED

OWNER_PATH = [t["send"] for t in REGISTERED] + [
    "PHOTO",
    "selesai",
    "Keripik Tempe Pedas",
    "ya",
    "25000",
    "10",
    "1",
    "250 gr",
    "pakai",
    "simpan",
]
FACILITATOR_PATH = [
    "/daftarkan",
    "PHONE",
    "Budi Santoso",
    "Toko Budi Jaya",
    "makanan",
    "sidoarjo",
    "waru",
    "Jl. Raya Waru No. 12",
    "lewati",
    "simpan",
    "/binaan",
]
ADMIN_PATH = ["/siaran", "4", "sidoarjo", "Kak, yuk tambah produk hari ini!", "sekarang", "ya"]
ADMIN_ID = 424242
EXAMPLES = settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
users = itertools.count(1)
# Where to slip messages in (before which answer of the path), and what.
slipped = st.lists(st.tuples(st.integers(0, 30), messages), min_size=1, max_size=4)


class Walker:
    """People walking a path through the real runner, with messages slipped in."""

    def __init__(self, app: App, runner: ConversationRunner) -> None:
        self.app = app
        self.runner = runner
        self.photo = app.media.ingest(images.sharp(7))
        assert isinstance(self.photo, PhotoRef)

    def walk(self, chat: Chat, path: list[str], extra: list[tuple[int, dict[str, Any]]]) -> None:
        inserted: dict[int, list[dict[str, Any]]] = {}
        for position, message in extra:
            inserted.setdefault(position % (len(path) + 1), []).append(message)
        for n in range(len(path) + 1):
            for message in inserted.get(n, []):
                self.say(chat, message)
            if n < len(path):
                step = path[n]
                if step == "PHOTO":
                    self.say(chat, {"photos": ["sharp"]})
                elif step == "PHONE":
                    self.say(chat, {"send": f"0812{next(users):08d}"})
                else:
                    self.say(chat, {"send": step})
        for word in ("/batal", "menu"):
            self.say(chat, {"send": word})

    def say(self, chat: Chat, message: dict[str, Any]) -> None:
        location = message.get("location")
        photos = tuple(self.photo for _ in message.get("photos", []))
        replies = chat.send(
            message.get("send"),
            choice=message.get("choice"),
            photos=photos,
            contact_phone=message.get("contact"),
            location=Location(float(location[0]), float(location[1])) if location else None,
            unsupported=message.get("unsupported"),
        )
        check_replies(replies, message)


def check_replies(replies: list[Reply], message: dict[str, Any]) -> None:
    assert replies, f"no answer to {message!r}"
    said = [m for reply in replies for m in reply.msgids]
    assert "error.generic" not in said, f"{message!r} failed: {said}"


def check_stored(app: App) -> None:
    with app.db.session() as s:
        rows: list[dict[str, Any]] = [p.model_dump() for p in s.exec(select(Product))]
        rows += [dict(p.get("data") or {}) for p in rows]
        rows += [x.model_dump() for x in s.exec(select(Seller))]
    for row in rows:
        for key in FREE_TEXT:
            value = row.get(key)
            if value is None:
                continue
            assert str(value).strip(), f"{key} stored empty"
            assert normalize(str(value)) not in ANSWER_KEYS, f"{key} stored as {value!r}"


def no_errors(caplog: pytest.LogCaptureFixture) -> None:
    bad = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert not bad, [f"{r.name}: {r.getMessage()}" for r in bad]


@pytest.mark.slow
def test_owners_walk_registration_and_a_product(
    app: App, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    walker = Walker(app, ConversationRunner(app.db, app.settings, clock=clock))

    @settings(EXAMPLES, max_examples=40)
    @given(extra=slipped, channel=st.sampled_from(["console", "telegram", "whatsapp"]))
    def walk(extra: list[tuple[int, dict[str, Any]]], channel: str) -> None:
        user = f"+62813{next(users):08d}"
        phone = None if channel == "telegram" else user
        walker.walk(Chat(walker.runner, user, channel, phone=phone), OWNER_PATH, extra)
        check_stored(app)

    walk()
    with app.db.session() as s:  # the paths do get somewhere between the odd messages
        assert s.exec(select(Product).where(Product.status == "pending")).first() is not None
    no_errors(caplog)


@pytest.mark.slow
def test_facilitators_and_admins_walk_their_flows(
    app: App, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    settings_ = app.settings.model_copy(update={"admin_telegram_ids": [ADMIN_ID]})
    walker = Walker(app, ConversationRunner(app.db, settings_, clock=clock))
    admin = Chat(walker.runner, str(ADMIN_ID), channel="telegram")

    @EXAMPLES
    @given(extra=slipped, role=st.sampled_from(["facilitator", "admin"]))
    def walk(extra: list[tuple[int, dict[str, Any]]], role: str) -> None:
        if role == "admin":
            walker.walk(admin, ADMIN_PATH, extra)
            return
        with app.db.session() as s:
            facilitator = add_facilitator(s, "Dewi Lestari", "3515")
            s.flush()
            invite = facilitator.invite_code
        chat = Chat(walker.runner, str(700_000 + next(users)), channel="telegram")
        walker.say(chat, {"send": f"/pendamping {invite}"})
        walker.walk(chat, FACILITATOR_PATH, extra)
        check_stored(app)

    walk()
    with app.db.session() as s:
        assert s.exec(select(Facilitator).where(col(Facilitator.joined_at).is_not(None))).first()
        assert s.exec(select(Seller).where(Seller.status == "awaiting_consent")).first()
    no_errors(caplog)


@pytest.mark.any_backend
def test_an_old_whatsapp_button_at_the_name_question_stores_nothing(app: App) -> None:
    """A stale quick-reply (payload of another question, its label as the text) at a question
    whose answer is a name used to store the label as the owner's name."""
    chat = Chat(app.runner, "+6281500000001", "whatsapp", phone="+6281500000001")
    for text in ("/start", "ya"):
        chat.send(text)
    chat.send("Kabupaten Sidoarjo", choice="3515")
    chat.send("Setuju", choice="agree", location=Location(-7.45, 112.7))
    assert "nama Kakak" in chat.last
    with app.db.session() as s:
        assert s.exec(select(Seller)).first() is None
    chat.send("Sri Wahyuni")
    assert "Nomor HP Kakak" in chat.last  # the typed name is taken, as always
