"""'Produk saya': the owner's products with their state; open one to change or delete it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from flows.effects import DeleteProduct
from flows.engine import (
    FINISH,
    Ctx,
    Env,
    Flow,
    Invalid,
    Outcome,
    Parsed,
    Reading,
    Step,
    new_value,
    yes_no,
)
from flows.interpret import GlobalWord, without_softeners
from flows.lexicon import lexicon, normalize
from flows.messages import (
    Choice,
    Inbound,
    Money,
    Outbound,
    PhotoRef,
    RejectedPhoto,
    Text,
    say,
    shortened,
    t,
)
from flows.product import (
    FIX_WORDS,
    PRODUCT,
    answered,
    first_missing_step,
    new_product,
    photo_command,
    photos_sent,
    reopened,
    steps_before,
    verb_first,
)

MAX_LISTED = 10
# The id a draft kept by this very message is listed under: it has no id of its own before
# the host saves it. A tap on it later means the newest draft (a typed "1" is read against
# the list as it is then, with the real id).
JUST_KEPT = 0


def with_kept_draft(env: Env, data: Mapping[str, Any]) -> Env:
    """The env with a draft being kept now at the top of the products (newest first)."""
    kept = {"id": JUST_KEPT, "name": data.get("name"), "price": data.get("price")}
    return replace(env, products=({**kept, "status": "draft", "data": dict(data)}, *env.products))


_LINES = {
    "draft": t("products.line.draft"),
    "pending": t("products.line.pending"),
    "live": t("products.line.live"),
    "needs_fix": t("products.line.needs_fix"),
}
_ACTIONS = {"continue": t("choice.continue_product"), "edit": t("choice.edit_product")}


def product_name(product: Mapping[str, Any]) -> Text | str:
    """The product's name; a draft left before it was named is called by its photos."""
    photos = (product.get("data") or {}).get("photos") or []
    return product.get("name") or t("products.unnamed", count=len(photos))


def _status_line(product: dict[str, Any]) -> Any:
    status = product.get("status", "draft")
    params: dict[str, Any] = {
        "name": product_name(product),
        "price": Money(int(product.get("price") or 0)),
    }
    params["url"] = product.get("url") or "-"
    params["reason"] = product.get("reason") or "-"
    line = _LINES.get(status, _LINES["pending"])
    return Text(line.msgid, params)


def _ask_pick(ctx: Ctx) -> Outbound:
    products = list(ctx.env.products)[:MAX_LISTED]
    helped = (ctx.env.acting_for or {}).get("shop_name")  # a facilitator's: the shop's, by name
    if not products:
        none = t("products.none_helped", shop=helped) if helped else t("products.none")
        return say(none, choices=(Choice("add_product", t("menu.add_product")),))
    count = len(ctx.env.products)
    title = t("products.title_helped", shop=helped, count=count) if helped else None
    lines = [title or t("products.title", count=count)]
    lines += [_status_line(dict(p)) for p in products]
    lines.append(t("products.pick"))
    choices = tuple(Choice(f"p:{p['id']}", _short(product_name(p))) for p in products)
    return say(*lines, choices=choices)


def _short(name: Text | str) -> Text | str:
    return shortened(name, 30) if isinstance(name, str) else name


def _read_pick(msg: Inbound, ctx: Ctx) -> Reading:
    to_delete = _delete_named(msg.text or "", ctx)
    if to_delete is not None:  # "hapus 2", "hapus yang kawung": straight to "yakin hapus?"
        return Parsed({"product_id": to_delete, "action": "delete"})
    ids = {f"p:{p['id']}" for p in ctx.env.products}
    if msg.choice == f"p:{JUST_KEPT}" and msg.choice not in ids:  # listed as it was kept
        newest = next((p for p in ctx.env.products if _is_draft(dict(p))), None)
        msg = replace(msg, choice=f"p:{newest['id']}" if newest else None)
    if msg.choice in ids:
        return Parsed({"product_id": int(msg.choice.split(":")[1])})
    if msg.photos or msg.rejected_photos:  # a photo here, as at the menu: a new product
        return Parsed({"product_id": None, **photos_sent(msg)})
    if not ctx.env.products and (msg.choice == "add_product" or yes_no(ctx)):
        return Parsed({"product_id": None})
    if lexicon().answer("menu", normalize(msg.text)) == "product":  # "tambah produk": a new one
        return Parsed({"product_id": None})
    return Invalid(t("products.pick_unclear"))


_NUMBER_WORDS = {"nomor", "nomer", "no", "produk", "barang"}  # "hapus nomor 2", "hapus produk 2"


def _delete_named(text: str, ctx: Ctx) -> int | None:
    """The product "hapus 2" or "hapus yang kawung" names in the list shown: by its number, or
    by words of its name that only it has; None when it names none, or several."""
    said = normalize(text).split()
    start = next(
        (n for n in (2, 1) if lexicon().answer("product_action", " ".join(said[:n])) == "delete"),
        0,
    )
    rest = [w for w in without_softeners(" ".join(said[start:])).split() if w not in _NUMBER_WORDS]
    if not start or not rest:
        return None
    listed = list(ctx.env.products)[:MAX_LISTED]
    if len(rest) == 1 and rest[0].isdigit():
        number = int(rest[0])
        return int(listed[number - 1]["id"]) if 1 <= number <= len(listed) else None
    named = [p for p in listed if set(rest) <= set(normalize(str(p.get("name") or "")).split())]
    return int(named[0]["id"]) if len(named) == 1 else None


def _product(ctx: Ctx) -> dict[str, Any]:
    pid = ctx.draft.get("product_id")
    return dict(next((p for p in ctx.env.products if p["id"] == pid), {}))


def _after_pick(ctx: Ctx) -> str:
    if not ctx.draft.get("product_id"):
        return FINISH
    return "confirm_delete" if ctx.draft.get("action") == "delete" else "action"


def _ask_action(ctx: Ctx) -> Outbound:
    product = _product(ctx)
    verb = _verb(ctx)
    return say(
        t("products.action", name=product_name(product)),
        choices=(Choice(verb, _ACTIONS[verb]), Choice("delete", t("choice.delete_product"))),
    )


def _read_action(msg: Inbound, ctx: Ctx) -> Reading:
    if msg.choice in ("edit", "continue", "delete"):
        return Parsed({"action": msg.choice})
    if msg.photos or msg.rejected_photos:  # a photo for this product: added to its photos
        return Parsed({"action": _verb(ctx), "field": "photos", **photos_sent(msg)})
    match ctx.said:
        case GlobalWord(kind="edit", rest=rest) if rest:  # "ubah harga": straight to the price
            field = _field_named(rest)
            answer = new_value(rest.split()[1:]) if field else ""  # "ubah harga 20rb": and 20rb
            return Parsed({"action": _verb(ctx), "field": field, "answer": answer or None})
    phrase = normalize(msg.text)
    if _sold_out(phrase):  # "udah habis kak": the stock, 0, asked as at the stock question
        return Parsed({"action": _verb(ctx), "field": "stock", "answer": "habis"})
    if photo_command(msg.text or ""):  # "hapus foto 1", "utama 3": the photo editor, doing it
        return Parsed({"action": _verb(ctx), "field": "photos", "answer": msg.text})
    change = verb_first(msg.text or "") or msg.text or ""  # "tambah stok 10": "stok tambah 10"
    field = _field_named(normalize(change))
    if field is not None:  # "harganya jadi 25 ribu": as "ubah harga 25 ribu"
        answer = new_value(change.split()[1:])
        return Parsed({"action": _verb(ctx), "field": field, "answer": answer or None})
    typed = lexicon().answer("product_action", phrase) or lexicon().answer(
        "product_action", without_softeners(phrase)
    )  # "lanjutin aja kak", "hapus"
    if typed == "delete":
        return Parsed({"action": "delete"})
    if typed == "photos":  # "tambah foto": its photos, to add one
        return Parsed({"action": _verb(ctx), "field": "photos"})
    if typed == "go_on" or yes_no(ctx) is True:
        return Parsed({"action": _verb(ctx)})
    return Invalid(t("products.action_unclear", go_on=_ACTIONS[_verb(ctx)]))


def change_named(text: str, env: Env) -> dict[str, Any] | None:
    """ "Harga tahu bakso naik jadi 17rb" at the menu: the one product whose whole name is in
    it, and the change of one of its fields said around the name, as picked at that product's
    "Mau apa?"; None when no product, or more than one, is named, or no field is."""
    said = normalize(text).split()
    named = [
        p
        for p in env.products
        if (name := normalize(str(p.get("name") or "")).split()) and set(name) <= set(said)
    ]
    if len(named) != 1:
        return None
    name = normalize(str(named[0]["name"])).split()
    rest = [w for w in said if w not in name]
    change = verb_first(" ".join(rest)) or " ".join(rest)  # "naikin harga 2rb": the price
    field = _field_named(change)
    if field is None:
        return None
    product = dict(named[0])
    verb = "continue" if _is_draft(product) else "edit"
    answer = new_value(change.split()[1:])
    return {"product_id": product["id"], "action": verb, "field": field, "answer": answer or None}


def open_change(ctx: Ctx) -> Outcome:
    """The product a change named at the menu, opened at that change (see `change_named`)."""
    return _finish(ctx)


def _sold_out(phrase: str) -> bool:
    """The stock's "none" words ("habis", "udah habis kak", "kosong"), not a bare "0"."""
    bare = without_softeners(phrase)
    said = lexicon().answer("stock", phrase) or lexicon().answer("stock", bare)
    return said == "none" and not bare.isdigit()


def _field_named(rest: str) -> str | None:
    """The product field after "ubah": "harga" or "harganya" -> "price"."""
    word = (normalize(rest).split() or [""])[0]
    return FIX_WORDS.get(word) or FIX_WORDS.get(word.removesuffix("nya"))


def _is_draft(product: dict[str, Any]) -> bool:
    return product.get("status") == "draft"


def _verb(ctx: Ctx) -> str:
    return "continue" if _is_draft(_product(ctx)) else "edit"


def _after_action(ctx: Ctx) -> str:
    return "confirm_delete" if ctx.draft.get("action") == "delete" else FINISH


def _ask_delete(ctx: Ctx) -> Outbound:
    product = _product(ctx)
    name = product_name(product)
    # A draft was never sent to the marketplace: there is nothing to take down.
    question = (
        t("products.delete_confirm_draft", name=name)
        if _is_draft(product)
        else t("products.delete_confirm", name=name)
    )
    return say(
        question,
        choices=(Choice("yes", t("choice.yes_delete")), Choice("no", t("choice.no"))),
    )


def _read_delete(msg: Inbound, ctx: Ctx) -> Reading:
    said = yes_no(ctx)
    if said is True:
        return Parsed(True)
    if said is False:
        return Parsed(False)
    return Invalid(t("products.delete_unclear"))


def _finish(ctx: Ctx) -> Outcome:
    product = _product(ctx)
    if not product:
        return new_product(ctx.draft, ctx.env)
    if ctx.draft.get("action") == "delete":
        if ctx.draft.get("delete"):
            return Outcome(
                effects=(DeleteProduct(product["id"]),),
                replies=(say(t("products.deleted", name=product_name(product))),),
                start="menu",
            )
        # not deleted: back to the list it was picked from (the owner was working in it)
        return Outcome(replies=(say(t("products.kept")),), start="product_list")
    draft = reopened({**(product.get("data") or {}), "product_id": product["id"]}, ctx.env)
    if _is_draft(product):
        draft = _min_order_unasked(draft)
    return _reopen(draft, ctx.draft.get("field"), _sent_along(ctx), ctx.env)


def _sent_along(ctx: Ctx) -> Inbound | None:
    """What came with the choice, for the question it opens: the new value typed with the
    field ("ubah harga 20rb"), or the photos sent at the product."""
    sent, typed = ctx.draft.get("sent"), ctx.draft.get("answer")
    if sent:
        return Inbound(
            user_key="",
            channel=ctx.env.channel,
            text=sent.get("caption"),
            photos=tuple(PhotoRef.from_json(p) for p in sent.get("photos") or ()),
            rejected_photos=tuple(RejectedPhoto(r) for r in sent.get("rejected") or ()),
        )
    return Inbound(user_key="", channel=ctx.env.channel, text=typed) if typed else None


def _min_order_unasked(draft: dict[str, Any]) -> dict[str, Any]:
    """A stored draft has a minimum order of 1 whether or not it was asked (the column has a
    default): before the weight, asked right after it, is answered, it was most likely not,
    so it is asked in its turn ("1" is one tap away) instead of passed over unseen."""
    if draft.get("min_order") == 1 and not answered(draft, "weight"):
        return {**draft, "min_order": None}
    return draft


def _reopen(
    draft: dict[str, Any], field_id: str | None, answer: Inbound | None, env: Env
) -> Outcome:
    """Open a product where it stopped, or at the field the owner named: then back to the
    summary (a finished product) or on to where it stopped (a draft). A new value typed with
    the field ("ubah harga 20rb"), or a photo sent, answers that question at once."""
    where = first_missing_step(draft)
    field = next((f for f in PRODUCT.fields if f.id == field_id), None)
    asked = steps_before(draft, where, env)
    if field_id == "photos" and where == "photos":  # no photo yet: this is the first
        return Outcome(start="product", draft=draft, step=where, answer=answer, asked=asked)
    if field is not None and field.steps[0] == where:  # stopped right there: answered now
        return Outcome(start="product", draft=draft, step=where, answer=answer, asked=asked)
    if field is None or not answered(draft, field.id):  # not reached yet: asked in its turn
        return Outcome(start="product", draft=draft, step=where, asked=asked)
    step = field.steps[0]
    return Outcome(start="product", draft=draft, step=step, then=where, answer=answer, asked=asked)


PRODUCT_LIST = Flow(
    id="product_list",
    steps={
        s.id: s
        for s in (
            Step("pick", _ask_pick, _read_pick, slot="*", next=_after_pick, takes_photos=True),
            Step(
                "action",
                _ask_action,
                _read_action,
                slot="*",
                next=_after_action,
                takes_photos=True,
            ),
            Step("confirm_delete", _ask_delete, _read_delete, slot="delete", next=FINISH),
        )
    },
    first="pick",
    finish=_finish,
    cancelled=t("products.closed"),
    # "ya, eh ga jadi" at "hapus produk?": said plainly that it was not deleted
    cancelled_edit=t("products.kept"),
    editing=lambda ctx: ctx.draft.get("action") == "delete",
)
