"""What an owner types as their name, the way they type it on a phone."""

from __future__ import annotations

import pytest

from flows.registration import _person_name


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("sy bu Siti Aminah kak 🙏", "Siti Aminah"),
        ("Siti Aminah🙏🙏", "Siti Aminah"),
        ("nama saya Bu Siti Rahayu, jualan tas rajut", "Siti Rahayu"),
        ("Sri Wahyuni, S.Pd", "Sri Wahyuni, S.Pd"),
        ("iya bu sri wahyuni", "sri wahyuni"),
        ("Dewi Ning", "Dewi Ning"),
        ("Agus ya kak", "Agus"),
    ],
)
def test_person_name_keeps_the_name_only(typed: str, stored: str) -> None:
    assert _person_name(typed) == stored
