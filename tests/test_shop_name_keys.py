"""The key that says a shop name is taken ignores case, spacing, punctuation and emoji, and
the keys stored before that (case and spacing only) are brought in line by migration 0016."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command

from bot.storage.database import Database, _alembic_config
from bot.storage.models import Seller
from flows.registration import shop_name_key
from tests.conftest import fresh_postgres_database


@pytest.mark.parametrize(
    "typed",
    ["Sumber Rejeki", "SUMBER REJEKI.", "sumber rejeki!", "sumber-rejeki", "Sumber Rejeki 🙏"],
)
def test_punctuation_and_emoji_do_not_make_a_name_different(typed: str) -> None:
    assert shop_name_key(typed) == "sumberrejeki"


def test_letters_and_digits_still_do() -> None:
    assert shop_name_key("Sumber Rejeki 2") != shop_name_key("Sumber Rejeki")
    assert shop_name_key("Sumber Rezeki") != shop_name_key("Sumber Rejeki")


def _migrate(url: str, revision: str, *, down: bool = False) -> None:
    config = _alembic_config()
    config.set_main_option("sqlalchemy.url", url)
    (command.downgrade if down else command.upgrade)(config, revision)


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database with no schema yet, to migrate step by step (the shared test database is
    at the head already)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'pelapak.db'}"
        return
    with fresh_postgres_database("pelapak_keys") as url:
        yield url


def test_stored_keys_are_recomputed_and_the_older_shop_keeps_a_shared_one(
    empty_database: str,
) -> None:
    url = empty_database
    _migrate(url, "0015")
    db = Database(url)
    shops = [  # as 0015 keyed them: case and spaces only
        (1, "Sumber Rejeki", "sumberrejeki"),
        (2, "SUMBER REJEKI.", "sumberrejeki."),
        (3, "Warung Bu Ani 🙏", "warungbuani🙏"),
        (4, None, None),
    ]
    with db.session() as session:  # 0016 changes no column: the model fits 0015's table
        for seller_id, name, key in shops:
            session.add(Seller(id=seller_id, shop_name=name, shop_name_key=key))
    _migrate(url, "head")
    with db.engine.connect() as conn:
        keys = dict(conn.execute(sa.text("SELECT id, shop_name_key FROM seller")).all())
    # the second "Sumber Rejeki" keeps its old key: two rows cannot share one
    assert keys == {1: "sumberrejeki", 2: "sumberrejeki.", 3: "warungbuani", 4: None}
    _migrate(url, "0015", down=True)
    with db.engine.connect() as conn:
        keys = dict(conn.execute(sa.text("SELECT id, shop_name_key FROM seller")).all())
    assert keys == {1: "sumberrejeki", 2: "sumberrejeki.", 3: "warungbuani🙏", 4: None}
    db.dispose()
