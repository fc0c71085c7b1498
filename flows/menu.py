"""The main menu: what a registered owner can do next."""

from __future__ import annotations

from flows.engine import FINISH, Ctx, Flow, Invalid, Outcome, Parsed, Reading, Step
from flows.messages import Choice, Inbound, Outbound, Text, say, t

_WORDS = {
    "product": {
        "jual",
        "tambah",
        "tambah produk",
        "produk baru",
        "add product",
        "add",
        "sell",
        "upload",
        "posting",
        "foto",
    },
    "products": {
        "produk saya",
        "produk",
        "daftar produk",
        "my products",
        "products",
        "lihat produk",
    },
    "help": {"bantuan", "help", "tolong"},
    "registration": {"daftar", "register", "daftar toko"},
    "edit_shop": {"ubah toko", "ubah data toko", "edit shop"},
    "register_owner": {"daftarkan", "daftarkan pemilik", "register owner"},
    "my_owners": {"binaan", "binaan saya", "my owners"},
    "broadcast": {"siaran", "broadcast"},
}


def _choices(ctx: Ctx) -> tuple[Choice, ...]:
    """What this person may do: their own shop, plus what their role adds."""
    env = ctx.env
    choices: list[Choice] = []
    if env.facilitator:
        choices += [
            Choice("register_owner", t("fac.menu.register_owner")),
            Choice("my_owners", t("fac.menu.my_owners")),
        ]
    if env.registered:
        choices += [
            Choice("product", t("menu.add_product")),
            Choice("products", t("menu.my_products")),
            Choice("edit_shop", t("menu.edit_shop")),
        ]
    elif not env.facilitator and not env.is_admin:
        choices.append(Choice("registration", t("menu.register")))
    if env.is_admin:
        choices.append(Choice("broadcast", t("menu.broadcast")))
    choices.append(Choice("help", t("menu.help")))
    return tuple(choices)


def _ask(ctx: Ctx) -> Outbound:
    return say(t("menu.question"), choices=_choices(ctx))


def read_pick(
    msg: Inbound, words: dict[str, set[str]], allowed: set[str], unclear: Text
) -> Reading:
    """A menu answer: a button, a number, or the words for an option; photos mean "sell"."""
    said = " ".join((msg.text or "").lower().split())
    picked = msg.choice or next((k for k, ws in words.items() if said in ws), None)
    if picked in allowed:
        return Parsed({"picked": picked})
    if msg.photos and "product" in allowed:  # a photo says "sell this" by itself
        return Parsed({"picked": "product", "photos": [p.to_json() for p in msg.photos]})
    return Invalid(unclear)


def _read(msg: Inbound, ctx: Ctx) -> Reading:
    return read_pick(msg, _WORDS, {c.id for c in _choices(ctx)}, t("menu.unclear"))


def _finish(ctx: Ctx) -> Outcome:
    picked = ctx.draft.get("picked")
    if picked == "help":
        return Outcome(replies=(say(t("menu.help_text")),), start="menu")
    if picked == "edit_shop":
        seller = dict(ctx.env.seller or {})
        return Outcome(start="registration", draft=seller, step="summary")
    if picked == "products":
        return Outcome(start="product_list")
    if picked == "register_owner":
        return Outcome(start="assisted")
    if picked == "my_owners":
        return Outcome(start="binaan")
    if picked == "broadcast":
        return Outcome(start="siaran")
    photos = ctx.draft.get("photos")
    return Outcome(start=str(picked), draft={"photos": photos[:5]} if photos else None)


MENU_FLOW = Flow(
    id="menu",
    steps={
        "choose": Step(
            "choose",
            _ask,
            _read,
            slot="*",
            next=FINISH,
            help=t("menu.help_text"),
            takes_photos=True,
        )
    },
    first="choose",
    finish=_finish,
    cancelled=t("menu.closed"),
)
