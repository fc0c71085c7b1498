"""The main menu: what a registered owner can do next."""

from __future__ import annotations

from flows.engine import FINISH, Ctx, Flow, Invalid, Outcome, Parsed, Reading, Step
from flows.lexicon import lexicon, normalize
from flows.messages import Choice, Inbound, Outbound, Text, say, t
from flows.product import new_product, photos_sent
from flows.product_list import change_named, open_change
from flows.registration import shop_draft


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


def read_pick(msg: Inbound, allowed: tuple[Choice, ...], unclear: Text) -> Reading:
    """A menu answer: a button, a number, or the words for an option; photos mean "sell".

    The words for each option are the lexicon's `[answers.menu]`.
    """
    picked = msg.choice or lexicon().answer("menu", normalize(msg.text))
    if picked in {c.id for c in allowed}:
        return Parsed({"picked": picked})
    if (msg.photos or msg.rejected_photos) and "product" in {c.id for c in allowed}:
        return Parsed({"picked": "product", **photos_sent(msg)})  # a photo says "sell this"
    return Invalid(Text(unclear.msgid, {**unclear.params, "first": allowed[0].label}))


# What only a registered shop can do: asked for before registering, "register first".
_NEEDS_A_SHOP = frozenset({"product", "products", "edit_shop"})


def _registering(ctx: Ctx) -> bool:
    """Not registered yet, and registering is on offer (not a facilitator or an admin)."""
    return any(c.id == "registration" for c in _choices(ctx))


def help_text(ctx: Ctx) -> Text:
    """The menu's help: what to do next, registering first when there is no shop yet."""
    return t("menu.help_unregistered") if _registering(ctx) else t("menu.help_text")


def _read(msg: Inbound, ctx: Ctx) -> Reading:
    if _registering(ctx):
        wanted = msg.choice or lexicon().answer("menu", normalize(msg.text))
        if msg.photos or msg.rejected_photos or wanted in _NEEDS_A_SHOP:
            return Invalid(t("menu.register_first"))  # a photo, "produk saya": no shop yet
    picked = read_pick(msg, _choices(ctx), t("menu.unclear"))
    if isinstance(picked, Invalid) and ctx.env.registered:  # "harga tahu bakso jadi 17rb"
        change = change_named(msg.text or "", ctx.env)
        return Parsed({"picked": "change", **change}) if change else picked
    return picked


def _finish(ctx: Ctx) -> Outcome:
    picked = ctx.draft.get("picked")
    if picked == "help":
        return Outcome(replies=(say(help_text(ctx)),), start="menu")
    if picked == "edit_shop":
        return Outcome(start="registration", draft=shop_draft(ctx.env.seller), step="summary")
    if picked == "products":
        return Outcome(start="product_list")
    if picked == "register_owner":
        return Outcome(start="assisted")
    if picked == "my_owners":
        return Outcome(start="binaan")
    if picked == "broadcast":
        return Outcome(start="siaran")
    if picked == "product":
        return new_product(ctx.draft, ctx.env)
    if picked == "change":  # a listed product's field, named with the product
        return open_change(ctx)
    return Outcome(start=str(picked))


MENU_FLOW = Flow(
    id="menu",
    steps={
        "choose": Step(
            "choose",
            _ask,
            _read,
            slot="*",
            next=FINISH,
            help=help_text,  # before registering: "daftar dulu"
            takes_photos=True,
        )
    },
    first="choose",
    finish=_finish,
    cancelled=t("menu.closed"),
)
