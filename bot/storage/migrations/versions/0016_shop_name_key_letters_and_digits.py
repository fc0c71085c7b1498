"""shop name keys: letters and digits only

`seller.shop_name_key` says a shop name is taken. It was the name without spaces, in lower
case, so "SUMBER REJEKI." ("sumberrejeki.") or "Sumber Rejeki 🙏" registered next to
"Sumber Rejeki". The key is now the name's letters and digits only, in lower case
(`flows.registration.shop_name_key`); the keys stored before are recomputed here so that
the names registered before are found by the new key.

Two shops registered before may now share a key ("Sumber Rejeki" and "SUMBER REJEKI."):
the one that has it already keeps it (else the older one, lower id, takes it), the other
keeps the key it had, which no new name can
have (new keys hold no punctuation). No row is changed otherwise: that shop is asked for
another name only if it changes its shop's data (the flow checks the name first).

The rule is copied here, not imported: this migration must mean what it meant when written.
Downgrading gives back the old rule's keys, skipping any that are in use.

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-29 21:00:00.000000
"""

import re
import unicodedata
from collections.abc import Callable, Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _letters_and_digits(name: str) -> str:
    folded = unicodedata.normalize("NFKC", name).casefold()  # NFKC may lengthen it ("㍿")
    return "".join(ch for ch in folded if unicodedata.category(ch)[0] in "LN")[:60]


def _without_spaces(name: str) -> str:
    return re.sub(r"\s+", "", name).casefold()[:60]


def _rekey(key_of: Callable[[str], str]) -> None:
    connection = op.get_bind()
    rows = connection.execute(
        sa.text(
            "SELECT id, shop_name, shop_name_key FROM seller"
            " WHERE shop_name_key IS NOT NULL ORDER BY id"
        )
    ).all()
    used = {key for _, _, key in rows}
    changes = []
    for seller_id, name, key in rows:
        new = key_of(name or "")
        if new == key or new in used:  # unchanged, or another shop has it: keep this one's
            continue
        used.discard(key)
        used.add(new)
        changes.append({"key": new, "id": seller_id})
    # Keys move to free ones only, one after another: sent in that order, no two rows ever
    # hold one key. Batches keep each round trip (executemany) a reasonable size.
    for start in range(0, len(changes), 5000):
        connection.execute(
            sa.text("UPDATE seller SET shop_name_key = :key WHERE id = :id"),
            changes[start : start + 5000],
        )


def upgrade() -> None:
    _rekey(_letters_and_digits)


def downgrade() -> None:
    _rekey(_without_spaces)
