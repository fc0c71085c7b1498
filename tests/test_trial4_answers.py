"""Fourth cold trial (items 2, 3, 6, 9, 10, 12): what the bot says back, where a transcript's
message ids cannot show it."""

from __future__ import annotations

from flows.state import Resume, pending_from_json, pending_to_json
from tests.transcripts import last_reply


def _last_reply(*sent: str) -> list[str]:
    """The rendered lines of the bot's answer to the last message, after /start."""
    return last_reply({"turns": [{"send": "/start"}, *({"send": text} for text in sent)]})


def test_nanti_aja_at_the_owners_name_is_put_off_in_plain_words() -> None:
    said = _last_reply("ya", "nanti aja")
    assert any("*lanjut*" in line for line in said), said
    assert not any("perintah" in line for line in said), said  # no "saya baca sebagai perintah"


def test_the_name_said_with_setuju_is_offered_by_name() -> None:
    said = _last_reply("setuju. nama saya Sri Wahyuni, toko saya Keripik Tempe Sri di Sidoarjo")
    assert any("Nama Kakak *Sri Wahyuni*, ya?" in line for line in said), said


def test_a_shop_name_fixed_at_the_category_is_said_back() -> None:
    said = _last_reply("ya", "Sri Wahyuni", "ya", "Kue Bsh Dewi", "eh salah, Kue Basah Dewi")
    assert any("*Kue Basah Dewi*" in line for line in said), said


def test_a_put_off_question_is_stored_as_put_off() -> None:
    assert pending_from_json(pending_to_json(Resume(later=True))) == Resume(later=True)
    assert pending_from_json(pending_to_json(Resume())) == Resume()
    assert pending_to_json(Resume()) == {"kind": "resume"}  # as stored before
