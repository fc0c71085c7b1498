"""A facilitator's invite code typed with a slip, or inside a few words, is read as an invite
code: a 7-character typo of one started an owner's sign-up, and "kode saya ENB25EXG" too."""

from __future__ import annotations

import pytest
from sqlmodel import select

from bot.app import App
from bot.conversation import ConversationRunner
from bot.storage.models import Facilitator, InviteAttempt
from flows.facilitator import invite_attempt
from flows.interpret import FreeText, Keyword, read_text
from tests.conftest import Chat, Clock
from tests.test_facilitators import new_facilitator

pytestmark = pytest.mark.any_backend  # what is read, and one row for a try


@pytest.mark.parametrize(
    ("typed", "read"),
    [
        ("ENB25EXG", "ENB25EXG"),
        ("enb25exg", "ENB25EXG"),
        ("kode saya ENB25EXG", "ENB25EXG"),
        ("kode undangan saya: enb25exg.", "ENB25EXG"),
        ("pendamping ENB25EX", "ENB25EX"),  # a letter short
        ("ENB25EXGG", "ENB25EXGG"),  # a letter long
        ("ENB25EX0", "ENB25EX0"),  # one character no code has
        ("halo kak", None),
        ("toko123", None),  # a word with digits, not a code copied with a slip
        ("Keripik 2024", None),
        ("saya mau jual ENB25EXG di toko saya ya kak", None),  # a sentence, not a code
        ("kode ENB25EXG ENB25EXH", None),  # which one?
        ("08123456789", None),
    ],
)
def test_what_is_read_as_an_invite_code(typed: str, read: str | None) -> None:
    assert invite_attempt(typed) == read


def test_a_code_a_letter_short_says_what_a_code_looks_like(app: App, clock: Clock) -> None:
    runner = ConversationRunner(app.db, app.settings, clock=clock)
    facilitator = new_facilitator(app, "Rina Wati")
    chat = Chat(runner, "820001", channel="telegram")
    chat.send(facilitator.invite_code[:-1])
    assert "8 huruf dan angka" in chat.text and "ada 7" in chat.text
    assert "/start" in chat.text and "Setuju?" not in chat.text  # no sign-up begun
    with app.db.session() as s:  # a slip is not a guess: no try counted
        assert s.exec(select(InviteAttempt)).all() == []
    chat.send(f"kode saya {facilitator.invite_code.lower()}")
    assert "Selamat bergabung, Kak Rina Wati" in chat.text
    with app.db.session() as s:
        assert s.exec(select(Facilitator)).one().account_id is not None


def test_a_wrong_code_in_a_sentence_is_a_try(app: App, clock: Clock) -> None:
    runner = ConversationRunner(app.db, app.settings, clock=clock)
    new_facilitator(app)
    chat = Chat(runner, "820002", channel="telegram")
    chat.send("kode undangan saya TEBAK234")
    assert "tidak kami kenal" in chat.text
    with app.db.session() as s:
        assert len(s.exec(select(InviteAttempt)).all()) == 1


def test_an_owner_who_has_begun_signing_up_is_not_asked_about_codes(app: App, clock: Clock) -> None:
    runner = ConversationRunner(app.db, app.settings, clock=clock)
    owner = Chat(runner, "820003", channel="telegram")
    owner.send("/start")
    owner.send("ya")
    owner.send("Sri Wahyuni")
    owner.send("ENB25EX")  # at the phone question: not an invite code here
    assert "8 huruf dan angka" not in owner.text


@pytest.mark.parametrize("word", ["kak", "saya", "sih", "ini"])
def test_words_around_a_code_or_a_question_are_still_filler(word: str) -> None:
    """The lists that help read an invite code or a question are no instructions of their
    own: "kak" is filler, as before they were added."""
    assert read_text(word) == Keyword("filler")


@pytest.mark.parametrize("word", ["apa", "berapa", "dari", "gabung"])
def test_question_and_invite_words_alone_are_plain_text(word: str) -> None:
    assert isinstance(read_text(word), FreeText)
