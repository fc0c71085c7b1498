"""Listing a product: photos first, then name, category, price, stock, weight, description."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from string import capwords
from typing import Any

from flows.categories import categories, rank_categories, suggest_categories
from flows.effects import SaveProduct
from flows.engine import (
    FINISH,
    YES_CHOICES,
    Clarify,
    Ctx,
    Env,
    Field,
    Flow,
    Invalid,
    Outcome,
    Parsed,
    Reading,
    Stay,
    Step,
    new_value,
    said_word,
    sets_a_value,
    yes_no,
)
from flows.interpret import FreeText, read_text, without_softeners
from flows.lexicon import an_instruction, lexicon, normalize, without_lead, words
from flows.messages import (
    Choice,
    Grams,
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
from flows.parsing import (
    count_unit,
    names_a_mass,
    parse_price,
    parse_quantity,
    parse_weight_grams,
)
from flows.registration import category_choices, read_category
from flows.steps import EARLY, FieldReader

MAX_PHOTOS = 5
PRICE_MIN, PRICE_MAX = 100, 100_000_000
NAME_MIN, NAME_MAX = 3, 70
DESCRIPTION_MIN, DESCRIPTION_MAX = 20, 2000
WEIGHT_MAX = 500_000
KILOS_BELOW = 10  # a weight typed without a unit under this is read as kilograms (asked)
STOCK_MAX = 999_999
# Bought new by nature: condition is not asked, the listing says new.
NEW_ONLY = {"makanan-minuman", "pertanian", "peternakan-perikanan", "kecantikan", "kesehatan"}


PHOTO_REJECTED = {
    "too_big": t("photo.rejected.too_big"),
    "not_image": t("photo.rejected.not_image"),
    "bomb": t("photo.rejected.bomb"),
    "too_large": t("photo.rejected.too_large"),
    "too_small": t("photo.rejected.too_small"),
    "corrupt": t("photo.rejected.corrupt"),
    "download_failed": t("photo.rejected.download_failed"),
}
PHOTO_QUALITY = {
    "blurry": t("photo.quality.blurry"),
    "dark": t("photo.quality.dark"),
    "washed_out": t("photo.quality.washed_out"),
}


def category_label(code: str | None) -> Any:
    return next((c.label for c in categories() if c.code == code), "-")


# --- photos ------------------------------------------------------------------------------


KEEP_OR_RETAKE = (Choice("keep", t("choice.keep_photo")), Choice("retake", t("choice.retake")))


def _photos(ctx: Ctx) -> list[dict[str, Any]]:
    return list(ctx.draft.get("photos") or [])


def _ask_photos(ctx: Ctx) -> Outbound:
    if _photos(ctx):
        return say(
            t("product.ask_more_photos", count=len(_photos(ctx)), max=MAX_PHOTOS),
            choices=(Choice("done", t("choice.done")),),
        )
    return say(t("product.ask_photos", max=MAX_PHOTOS))


def _quality_problem(photo: PhotoRef) -> str | None:
    if photo.dark:  # a dark photo also measures blurry: more light is the tip that helps
        return "dark"
    if photo.blurry:
        return "blurry"
    if photo.washed_out:
        return "washed_out"
    return None


def _says_done(msg: Inbound, ctx: Ctx) -> bool:
    return msg.choice == "done" or said_word(ctx, "done") or yes_no(ctx) is True


def _held_answer(msg: Inbound, ctx: Ctx, photos: list[dict[str, Any]]) -> Reading | None:
    """An answer about a blurry or dark photo held back: keep it or send another; "selesai"
    before deciding asks (it is neither kept nor dropped unasked). None: not about it."""
    held = ctx.draft.get("held_photos") or []
    if not held:
        return None
    finished = words("done")  # "udah" is a softener too: kept here, "kak" is not
    typed = " ".join(
        w for w in normalize(msg.text).split() if w in finished or w not in words("softener")
    )
    if (msg.choice == "done" or typed in finished) and not msg.photos:  # "udah kak", "lanjut"
        if ctx.draft.get(HELD_ASKED) and photos:  # asked already: on without it, and said so
            done = {"photos": photos, "held_photos": [], HELD_ASKED: False}
            return Parsed(done, note=t("product.held_photo_dropped"))
        if ctx.draft.get(HELD_ASKED):  # asked already, and it is the only one: used, said so
            done = {
                "photos": _with_kept([], held)[:MAX_PHOTOS],
                "held_photos": [],
                HELD_ASKED: False,
            }
            return Parsed(done, note=t("product.held_photo_used"))
        return Stay(t("product.photos_held_ask"), keep={HELD_ASKED: True}, choices=KEEP_OR_RETAKE)
    if msg.choice == "keep" or said_word(ctx, "keep") or yes_no(ctx) is True:
        photos = _with_kept(photos, held)[:MAX_PHOTOS]
        if len(photos) >= MAX_PHOTOS:
            return Parsed({"photos": photos, "held_photos": [], HELD_ASKED: False})
        return Stay(
            t("product.photo_kept", count=len(photos)),
            keep={"photos": photos, "held_photos": [], HELD_ASKED: False},
            choices=(Choice("done", t("choice.done")),),
        )
    if msg.choice == "retake" or said_word(ctx, "retake") or yes_no(ctx) is False:
        return Stay(t("product.photo_retake"), keep={"held_photos": [], HELD_ASKED: False})
    return None


def read_photos(msg: Inbound, ctx: Ctx) -> Reading:
    photos = _photos(ctx)
    held = _held_answer(msg, ctx, photos)
    if held is not None:
        return held
    if msg.rejected_photos and not msg.photos:
        return Invalid(
            PHOTO_REJECTED.get(msg.rejected_photos[0].reason, PHOTO_REJECTED["not_image"])
        )
    if msg.photos:
        return _take_photos(msg, photos, ctx)
    if _says_done(msg, ctx):
        if not photos:
            return Invalid(t("product.photos_needed"))
        return Parsed({"photos": photos, "held_photos": []})
    if msg.text and not photos:
        return Invalid(t("product.photos_first"))
    if ctx.draft.get("held_photos") and _names_a_product(msg.text or ""):
        # the product's details with a dark photo still open: kept, and the photo asked about
        keep = {"caption": " ".join((msg.text or "").split()), HELD_ASKED: True}
        return Stay(t("product.photos_held_ask"), keep=keep, choices=KEEP_OR_RETAKE)
    if _names_the_product(msg, ctx):  # "keripik tempe pedas": on to the name, offered as it
        return Parsed({"photos": photos, "held_photos": [], "caption": msg.text})
    return Invalid(t("product.photos_unclear", count=len(photos)))


def _names_the_product(msg: Inbound, ctx: Ctx) -> bool:
    """Text after the photos of a product not named yet that names a product ("keripik tempe
    pedas", "batik tulis"): the owner has moved on to its name. Words that name no product
    ("bentar ya", "fotonya kurang jelas") still get the photo question; a held photo is
    asked about first."""
    text = " ".join((msg.text or "").split())
    if ctx.draft.get("name") or ctx.draft.get("held_photos") or "?" in text:
        return False
    return _names_a_product(text)


def _names_a_product(text: str) -> bool:
    text = " ".join(text.split())
    return "?" not in text and isinstance(read_text(text), FreeText) and bool(rank_categories(text))


HELD_ASKED = "held_asked"  # a held photo was asked about: "selesai" again goes on without it


def _with_kept(photos: list[dict[str, Any]], held: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The photos with the held ones put back where they were sent (the first stays first)."""
    merged = list(photos)
    for photo in sorted(held, key=lambda p: int(p.get("at", len(merged)))):
        place = min(int(photo.get("at", len(merged))), len(merged))
        merged.insert(place, {k: v for k, v in photo.items() if k != "at"})
    return merged


def _take_photos(msg: Inbound, photos: list[dict[str, Any]], ctx: Ctx) -> Reading:
    reading = _photos_taken(msg, photos, ctx)
    caption = " ".join((msg.text or "").split())
    if not caption or not isinstance(read_text(caption), FreeText):
        return reading
    match reading:  # a caption is kept to offer as the name
        case Parsed(value=value, note=note):
            return Parsed({**value, "caption": caption}, note=note)
        case Stay(message=message, keep=keep, choices=choices, photo=photo):
            return Stay(message, {**keep, "caption": caption}, choices, photo)
    return reading


def _photos_taken(msg: Inbound, photos: list[dict[str, Any]], ctx: Ctx) -> Reading:
    known = {p["sha256"] for p in photos}
    added: list[dict[str, Any]] = []
    held: list[dict[str, Any]] = []
    problems: list[str] = []
    duplicate = False
    for photo in msg.photos:
        if photo.sha256 in known:
            duplicate = True
            continue
        known.add(photo.sha256)
        problem = _quality_problem(photo)
        if problem:
            problems.append(problem)
            # where it stood in the album: kept anyway, it goes back to that place
            held.append({**photo.to_json(), "at": len(photos) + len(added) + len(held)})
        else:
            added.append(photo.to_json())
    room = MAX_PHOTOS - len(photos)
    photos = photos + added[:room]
    kept_held = held[: max(0, MAX_PHOTOS - len(photos))]
    over = len(added) - len(added[:room]) + len(held) - len(kept_held)
    keep = {"photos": photos, "held_photos": kept_held}
    rejected = msg.rejected_photos
    if problems and keep["held_photos"]:
        return Stay(
            PHOTO_QUALITY[problems[0]],
            keep=keep,
            choices=KEEP_OR_RETAKE,
        )
    if len(photos) >= MAX_PHOTOS:
        note = t("product.photos_over", count=over, max=MAX_PHOTOS) if over else None
        return Parsed({"photos": photos, "held_photos": []}, note=note)
    if rejected:
        return Stay(PHOTO_REJECTED.get(rejected[0].reason, PHOTO_REJECTED["not_image"]), keep=keep)
    if duplicate and not added:
        return Stay(t("photo.duplicate"), keep=keep)
    return Stay(
        t("product.photos_received", count=len(photos), max=MAX_PHOTOS),
        keep=keep,
        choices=(Choice("done", t("choice.done")),),
    )


# --- name and category ---------------------------------------------------------------------------


def _caption(ctx: Ctx) -> str | None:
    """The words sent with the photos ("nastar keju"), offered as the product's name."""
    caption = _just_the_name(str(ctx.draft.get("caption") or ""))
    return caption if NAME_MIN <= len(caption) <= NAME_MAX else None


def _ask_name(ctx: Ctx) -> Outbound:
    caption = _caption(ctx)
    if caption:
        return say(
            t("product.ask_name_caption", name=caption), choices=(Choice("caption", caption),)
        )
    return say(t("product.ask_name"))


_PRICE_TAIL = re.compile(
    r"[\s,;:-]*(?:(?:harga|hrg|rp\.?)\s*\d|\d[\d.,]*\s*(?:rb|ribu|rebu|k|jt|juta|ewu)\b).*$",
    re.IGNORECASE,
)


def _just_the_name(text: str) -> str:
    """'keripik pisang 25rb aja' -> 'keripik pisang'; 'sambel pecel, harga 15rb' -> 'sambel pecel'.

    The price and the stock are asked next, so they are not kept in the name.
    """
    name = _PRICE_TAIL.sub("", text)
    head, comma, rest = name.partition(",")
    if comma and re.search(r"\d|harga|stok|berat", rest, re.IGNORECASE):
        name = head
    name = name.strip().strip("*\"'").strip()
    return capwords(name) if name.islower() else name  # "sambal bawang" -> "Sambal Bawang"


def _read_name(msg: Inbound, ctx: Ctx) -> Reading:
    if msg.choice == "caption" and _caption(ctx):
        return Parsed(_caption(ctx))
    name = _just_the_name(" ".join(without_lead("name", msg.text or "").split()))
    if an_instruction(name):  # "namanya lanjut": an instruction, never the product's name
        return Invalid(t("product.name_is_word", word=name))
    if len(name) < NAME_MIN:
        return Invalid(t("product.name_too_short"))
    if len(name) > NAME_MAX:
        return Invalid(t("product.name_too_long", count=len(name), max=NAME_MAX))
    if not re.search(r"[^\W\d_]", name):
        return Invalid(t("product.name_invalid"))
    return Parsed(name, early=_price_with_name(msg.text or "", ctx))


def _price_with_name(text: str, ctx: Ctx) -> dict[str, str]:
    """ "Pentol goreng harga 10rb stok 50 berat 200gr": the price (and stock) after the name,
    kept for the price's question when it reads there, and a weight with them for the
    weight's; {} otherwise."""
    tail = _PRICE_TAIL.search(text)
    price = tail.group(0).strip(" ,;:-") if tail else ""
    weight = _WEIGHT_WITH_PRICE.search(price)
    early = {}
    if weight is not None and names_a_mass(weight["weight"]):
        price = f"{price[: weight.start()]} {price[weight.end() :]}".strip(" ,;:-")
        if parse_weight_grams(weight["weight"]) is not None:
            early["weight"] = weight["weight"]
    message = Inbound(user_key="", channel=ctx.env.channel, text=price)
    if not price or isinstance(_read_price(message, Ctx(ctx.draft, ctx.env)), Invalid):
        return {}
    return {"price": price, **early}


# "200gr", "berat 1,5 kg" among the price and the stock sent with the name
_WEIGHT_WITH_PRICE = re.compile(
    r"(?:^|[\s,;:/-]+)(?:(?:berat(?:nya)?|brt)\b[\s:=]*)?"
    r"(?P<weight>\d[\d.,/]*\s*(?:g|gr|grm|gram|kg|kilo|kilogram|ons)\b)",
    re.IGNORECASE,
)


def _with_caption_numbers(reading: Reading, ctx: Ctx) -> Reading:
    """The photos done, with words sent with them that will be offered as the name ("Sambal
    Teri 35rb stok 12 200gr"): the price, stock and weight in them are kept for their
    questions, as when typed at the name's."""
    if not isinstance(reading, Parsed) or not isinstance(reading.value, dict):
        return reading
    caption = reading.value.get("caption") or ctx.draft.get("caption")
    if not caption or ctx.draft.get("name"):
        return reading
    early = _price_with_name(str(caption), ctx)
    return replace(reading, early={**early, **reading.early}) if early else reading


def _read_photos_step(msg: Inbound, ctx: Ctx) -> Reading:
    return _with_caption_numbers(read_photos(msg, ctx), ctx)


def _guesses(ctx: Ctx) -> list[str]:
    """One category when the name says it surely, else up to three to pick from."""
    return suggest_categories(ctx.draft.get("name", ""))[:3]


def _suggested_category(ctx: Ctx) -> str | None:
    """The one category the question suggests: a sure guess, else the shop's own."""
    guesses = _guesses(ctx)
    if len(guesses) == 1:
        return guesses[0]
    return None if guesses else (ctx.env.seller or {}).get("category")


def _ask_category(ctx: Ctx) -> Outbound:
    code = _suggested_category(ctx)
    if code:
        return say(
            t("product.category_suggest", category=category_label(code)),
            choices=(
                Choice(f"suggested:{code}", t("choice.yes")),
                Choice("other", t("choice.other_category")),
            ),
        )
    guesses = _guesses(ctx)
    if guesses:  # a weak guess: the likely ones first, the whole list one tap away
        likely = tuple(c for c in category_choices() if c.id in guesses)
        return say(
            t("product.category_which"),
            choices=(*likely, Choice("other", t("choice.other_category"))),
        )
    return say(t("product.ask_category"), choices=category_choices())


def _read_category(msg: Inbound, ctx: Ctx) -> Reading:
    if msg.choice and msg.choice.startswith("suggested:"):
        return Parsed(msg.choice.split(":", 1)[1])
    said = yes_no(ctx)
    if msg.choice == "other" or said is False:
        return Clarify(t("product.ask_category"), category_choices())
    reading = read_category(msg, ctx)
    if isinstance(reading, Invalid) and (_suggested_category(ctx) or _guesses(ctx)):
        # "pick the number" is about the whole list; the buttons shown are a guess ("Ya",
        # "Kategori lain"), where *1* means yes: the list is shown with the hint
        return Clarify(reading.reason, category_choices())
    return reading


# --- numbers ------------------------------------------------------------------------------------

_PLAIN_NUMBER = re.compile(r"^\s*(rp\.?\s*)?\d{1,3}([.,]?\d{3})*\s*(,-|,00)?\s*$", re.I)


def _ask_price(ctx: Ctx) -> Outbound:
    return say(t("product.ask_price"))


def _read_price(msg: Inbound, ctx: Ctx) -> Reading:
    """The price, as {"price": ...}; with the stock when it came along ("350rb stok 5")."""
    text = without_lead("price", msg.text or "")  # "kan udah tadi 350rb"
    if ctx.guess is not None and _small_plain_number(text):
        # "10" at "Harga Rp20.000 ya?" is an answer to another question, or a slip: asked
        return Invalid(t("product.price_confirm_small", typed=text.strip()), at_confirm=True)
    changed = _price_change(text, ctx)
    if changed is not None:
        return changed
    both = _price_and_stock(text) or _stock_instead(text, ctx)
    if both is not None:
        return both
    match _price_reading(text):
        case Parsed(value=price, confirm=confirm):
            return _with_stock_given(price, confirm, ctx)
        case reading:
            return reading


def _small_plain_number(text: str) -> bool:
    """A bare number under a thousand ("10", "150"), no "Rp": never a price typed in full."""
    price = parse_price(text) if _PLAIN_NUMBER.match(text) else None
    return price is not None and price < 1000 and not re.search(r"rp", text, re.I)


def _with_stock_given(price: int, confirm: Text | None, ctx: Ctx) -> Parsed:
    """A new price; the stock given with the one it replaces ("350rb stok 5", then "eh salah
    35rb") stays, and both are asked again."""
    before = ctx.guess if isinstance(ctx.guess, dict) else {}
    if not before.get(STOCK_WITH_PRICE):
        return Parsed({"price": price, STOCK_WITH_PRICE: False}, confirm=confirm)
    stock = before["stock"]
    asked = t("product.price_stock_confirm", price=Money(price), stock=stock)
    return Parsed({"price": price, "stock": stock, STOCK_WITH_PRICE: True}, confirm=asked)


# "350rb stok 5", "25rb, stoknya 10 pcs": the price, then the stock
_STOCK_AFTER = re.compile(
    r"^(?P<price>.+?)[\s,;/-]+(?:stok|stoknya|stock|persediaan|ready|sisa)\b[\s:=]*(?P<stock>.+)$",
    re.IGNORECASE,
)
STOCK_WITH_PRICE = "stock_with_price"  # the stock came with the price: not asked again


def _price_and_stock(text: str) -> Reading | None:
    found = _STOCK_AFTER.match(text.strip())
    if found is None:
        return None
    price = _price_reading(found["price"])
    stock = parse_quantity(found["stock"])
    if not isinstance(price, Parsed) or stock is None or stock > STOCK_MAX:
        return None
    value = {"price": price.value, "stock": stock, STOCK_WITH_PRICE: True}
    shown = stock_shown(stock, found["stock"]) or stock  # "stok 2 lusin": 24 pcs (2 lusin)
    asked = t("product.price_stock_confirm", price=Money(price.value), stock=shown)
    return Parsed(value, confirm=asked)


def _stock_instead(text: str, ctx: Ctx) -> Reading | None:
    """ "Ya, tapi stoknya 6" to "Harga Rp350.000, stok 5 ya?": that price, this stock."""
    guess = ctx.guess if isinstance(ctx.guess, dict) else {}
    if guess.get("price") is None or not _STOCK_WORD.match(text.strip()):
        return None
    return _price_and_stock(f"{guess['price']} {text}")


_STOCK_WORD = re.compile(r"(?:stok|stoknya|stock|persediaan|sisa)\b", re.IGNORECASE)


# The field's own word before a price: "harga 350" is written like "350".
_PRICE_WORD = re.compile(r"^\s*(?:harga(?:nya)?|hrg)\b[\s:=]*", re.IGNORECASE)


def _price_reading(text: str) -> Reading:
    text = _PRICE_WORD.sub("", text)  # "harga 350" is asked about as Rp350.000, as "350" is
    price = parse_price(text)
    if price is None:
        if re.search(r"\d.*[-–~].*\d|sampai|hingga", text):
            return Invalid(t("product.price_range"))
        return Invalid(t("product.price_unreadable"))
    plain = _PLAIN_NUMBER.match(text) is not None
    if plain and price < 1000 and not re.search(r"rp", text, re.I):
        # "15" or "150" at the price is how people write thousands: asked, never assumed
        guess = t("product.price_thousands_confirm", price=Money(price * 1000), typed=price)
        return Parsed(price * 1000, confirm=guess)
    if price < PRICE_MIN:
        return Invalid(t("product.price_too_low", min=Money(PRICE_MIN)))
    if price > PRICE_MAX:
        return Invalid(t("product.price_too_high", max=Money(PRICE_MAX)))
    if plain:
        return Parsed(price)
    return Parsed(price, confirm=t("product.price_confirm", price=Money(price)))


def _change(text: str) -> tuple[int, str] | None:
    """A change from what it is now: "tambah 10 lagi" -> (1, "10 lagi"), "turun 2rb" ->
    (-1, "2rb"); None without a change word, or for a new value ("naik jadi 30rb")."""
    typed = text.split()
    for at, word in enumerate(typed):
        direction = lexicon().answer("change", normalize(word))
        rest = typed[at + 1 :]
        if direction is None:
            continue
        after = normalize(" ".join(rest[:1]))
        about = lexicon().answer("change", f"{normalize(word)} {after}") == "about"
        if about or not rest or sets_a_value(rest):
            return None  # "kurang lebih 10", "naik jadi 30rb": what it is, not a change
        return (1 if direction == "up" else -1), new_value(rest)  # "naik 3rb aja": 3rb
    return None


_CHANGED_BY = ("price", "stock")  # the fields a change by so much is read for


def verb_first(text: str) -> str | None:
    """A change said verb first, the way its field comes first: "tambah stok 10" -> "stok
    tambah 10", "turunin harga jadi 20rb" -> "harga jadi 20rb" (the new value itself); None
    when it does not start with a change word and the price or the stock."""
    typed = text.split()
    if len(typed) < 3 or lexicon().answer("change", normalize(typed[0])) not in ("up", "down"):
        return None
    field = normalize(typed[1])
    if FIX_WORDS.get(field, FIX_WORDS.get(field.removesuffix("nya"))) not in _CHANGED_BY:
        return None
    rest = typed[2:]
    return " ".join([typed[1], *rest] if sets_a_value(rest) else [typed[1], typed[0], *rest])


def _price_change(text: str, ctx: Ctx) -> Reading | None:
    """ "Harga naik 2rb" from Rp25.000: Rp27.000, asked."""
    current, change = ctx.draft.get("price"), _change(text)
    if change is None or not isinstance(current, int):
        return None
    amount = parse_price(change[1])
    if amount is None:
        return Invalid(t("product.price_unreadable"))
    if _PLAIN_NUMBER.match(change[1]) and amount < 1000:
        amount *= 1000  # "naik 2": two thousand, and the new price is asked anyway
    price = current + change[0] * amount
    if price < PRICE_MIN:
        return Invalid(t("product.price_too_low", min=Money(PRICE_MIN)))
    if price > PRICE_MAX:
        return Invalid(t("product.price_too_high", max=Money(PRICE_MAX)))
    asked = t("product.price_confirm", price=Money(price))
    return Parsed({"price": price, STOCK_WITH_PRICE: False}, confirm=asked)


def _stock_change(text: str, ctx: Ctx) -> Reading | None:
    """ "Stok tambah 10" from 30: 40, "kurangi 2" from 5: 3, asked. Below 0 is refused with
    how far it can go down ("kurangi 25" from 20), and an amount of money ("tambah 100 ribu")
    is no number of items."""
    current, change = ctx.draft.get("stock"), _change(text)
    if change is None or not isinstance(current, int):
        return None
    if _MONEY.search(change[1]):
        return Invalid(t("product.stock_change_money", typed=change[1]))
    amount = parse_quantity(change[1])
    if amount is None:
        return Invalid(t("product.stock_unreadable"))
    stock = current + change[0] * amount
    if stock < 0:
        return Invalid(t("product.stock_below_zero", stock=current))
    if stock > STOCK_MAX:
        return Invalid(t("product.stock_too_high"))
    return Parsed(stock, confirm=t("product.stock_change_confirm", stock=stock, before=current))


# Money, never a number of items: "100 ribu", "25rb", "Rp5.000", "2 juta".
_MONEY = re.compile(r"\brp|\d\s*(?:rb|ribu|rebu|k|jt|juta)\b|\b(?:ribu|rebu|juta)\b", re.IGNORECASE)
# Written as money, at a question of a count or a weight: "Rp 25.000", "15rb", "25k". (A
# number in words, "dua ribu", may be a count: its question asks back a number that big.)
_WRITTEN_AS_MONEY = re.compile(r"\brp|\d\s*(?:rb|ribu|rebu|k|jt|juta)\b", re.IGNORECASE)


def _after_price(ctx: Ctx) -> str:
    return "min_order" if ctx.draft.get(STOCK_WITH_PRICE) else "stock"


def _ask_stock(ctx: Ctx) -> Outbound:
    return say(t("product.ask_stock"))


def _read_stock(msg: Inbound, ctx: Ctx) -> Reading:
    text = msg.text or ""
    if text.strip() == "0":
        return Parsed(0)
    changed = _stock_change(text, ctx)
    if changed is not None:
        return changed
    made_to_order = _made_to_order(text)
    if made_to_order is not None:
        return made_to_order
    if lexicon().answer("stock", normalize(text)) == "none":  # "habis": asked, never assumed
        return Parsed(0, confirm=t("product.stock_zero_confirm"))
    if _WRITTEN_AS_MONEY.search(text):  # "Rp 25.000", "15rb": the price, never so many items
        return Invalid(t("product.stock_is_price"))
    if names_a_mass(text):  # "250 gr" at the stock: the weight, sent early
        return Invalid(t("product.stock_is_weight"))
    stock = parse_quantity(text)
    if stock is None:
        return Invalid(t("product.stock_unreadable"))
    if stock > STOCK_MAX:
        return Invalid(t("product.stock_too_high"))
    if stock >= STOCK_ASKED and count_unit(text) is None:
        # "25.000" is written like a price, and a stock of thousands is rare: asked (the
        # price's number typed again must not become the stock unseen); "1000 pcs" is a count
        return Parsed(stock, confirm=t("product.stock_big_confirm", stock=stock))
    shown = stock_shown(stock, text)
    return (
        Parsed(stock, note=t("product.stock_counted_note", stock=shown)) if shown else Parsed(stock)
    )


# Said around a count, not part of it: "ada 2 lusin kak", "stoknya selusin".
_AROUND_A_COUNT = frozenset({"ada", "stok", "stoknya", "stock", "sisa", "ready", "kurang", "lebih"})


def stock_shown(count: int, typed: str) -> Text | None:
    """ "24 pcs (2 lusin)": the count with the words it was read from, when those were more
    than the count itself (a dozen, a score, a word); None for "24" or "24 pcs"."""
    if re.sub(r"\D", "", typed) == str(count):
        return None
    said = normalize(typed).split()
    around = words("softener") | words("person_word") | _AROUND_A_COUNT
    while said and said[0] in around:
        said = said[1:]
    while said and said[-1] in around:
        said = said[:-1]
    return t("product.stock_counted", count=count, typed=shortened(" ".join(said), 30))


STOCK_ASKED = 1000  # a stock from here on, typed as a bare number, is echoed and asked

# "PO 3 hari", "pre order 2 minggu": how long making it takes, never how many
_LEAD_TIME = re.compile(r"\d+\s*(?:hari|hr|minggu|mgg|pekan|jam|bulan|bln|days?|weeks?)\b")


def _made_to_order(text: str) -> Reading | None:
    """ "PO", "sistem PO", "pre order 3 hari": made to order. Buyers can still order it, so
    the stock is how many can be made: one named with it is kept (asked, "PO, sehari bisa
    15"), else that is asked. None when the text does not say so."""
    phrase = normalize(text)
    said = [p for p in _made_to_order_words() if re.search(rf"\b{re.escape(p)}\b", phrase)]
    if not said:
        return None
    for words_said in said:
        phrase = re.sub(rf"\b{re.escape(words_said)}\b", " ", phrase)
    rest = _LEAD_TIME.sub(" ", phrase)
    stock = parse_quantity(rest) if re.search(r"\d", rest) else None
    if stock is None or stock > STOCK_MAX:
        return Stay(t("product.stock_made_to_order"))
    return Parsed(stock, confirm=t("product.stock_made_to_order_confirm", stock=stock))


def _made_to_order_words() -> list[str]:
    """The lexicon's words for made to order, longest first ("sistem po" before "po")."""
    phrases = lexicon().answers.get("stock", {}).get("made_to_order", frozenset())
    return sorted(phrases, key=len, reverse=True)


def _ask_min_order(ctx: Ctx) -> Outbound:
    if _min_order_above_stock(ctx):  # the stock was just lowered under it: said why
        stock, min_order = ctx.draft["stock"], ctx.draft["min_order"]
        above = t("product.min_order_above_new_stock", stock=stock, min_order=min_order)
        return say(above, t("product.ask_min_order"), choices=(Choice("one", "1"),))
    return say(t("product.ask_min_order"), choices=(Choice("one", "1"),))


def _min_order_above_stock(ctx: Ctx) -> bool:
    """More must be bought at once than there is (stock 0, sold out, is no limit: as when a
    product is added)."""
    stock, min_order = ctx.draft.get("stock"), ctx.draft.get("min_order")
    return isinstance(stock, int) and isinstance(min_order, int) and 0 < stock < min_order


def _min_order_again(ctx: Ctx) -> str | None:
    """After a new stock (or a price with its stock) under the minimum order: ask that again."""
    return "min_order" if _min_order_above_stock(ctx) else None


def _read_min_order(msg: Inbound, ctx: Ctx) -> Reading:
    if msg.choice == "one":
        return Parsed(1)
    if re.search(r"\brp|\d\s*(rb|ribu|rebu|k|jt)\b|belanja", msg.text or "", re.IGNORECASE):
        return Invalid(t("product.min_order_is_price"))  # "Rp15.000/pcs" is no count
    if names_a_mass(msg.text or ""):  # "2 ons": the weight, kept for its question next
        early = {**(ctx.draft.get(EARLY) or {}), "weight": msg.text or ""}
        return Invalid(t("product.min_order_is_weight"), keep={EARLY: early})
    quantity = parse_quantity(msg.text or "")
    if quantity is None:
        return Invalid(t("product.min_order_unreadable"))
    stock = ctx.draft.get("stock") or 0
    if stock and quantity > stock:
        return Invalid(t("product.min_order_above_stock", stock=stock))
    return Parsed(quantity)


def _ask_weight(ctx: Ctx) -> Outbound:
    return say(t("product.ask_weight"))


def _read_weight(msg: Inbound, ctx: Ctx) -> Reading:
    if _WRITTEN_AS_MONEY.search(msg.text or ""):  # "15rb", "Rp 25.000": a price, never 15 gr
        return Invalid(t("product.weight_is_price"))
    grams = parse_weight_grams(msg.text or "")
    if grams is None and _BARE_KILOS.match(msg.text or ""):  # "1,5", "setengah": kilos, asked
        grams = parse_weight_grams(f"{msg.text} kg")
        if grams is not None:
            return Parsed(grams, confirm=t("product.weight_confirm", weight=Grams(grams)))
    if grams is None:
        unit = count_unit(msg.text or "")
        if unit is not None:  # "1 lusin" is how many, not how heavy
            return Invalid(t("product.weight_is_count", unit=unit))
        return Invalid(t("product.weight_unreadable"))
    if grams > WEIGHT_MAX:
        return Invalid(t("product.weight_too_high"))
    if not _MASS_UNIT.search(msg.text or ""):  # "250", "seratus lima puluh": grams, betul?
        if grams >= 1000 and grams == ctx.draft.get("price"):  # "25.000" again: the price
            return Invalid(t("product.weight_is_price"))
        if grams < KILOS_BELOW:  # a bare "2" is 2 kg far more often than 2 gr: asked as kilos
            grams *= 1000
        return Parsed(grams, confirm=t("product.weight_confirm", weight=Grams(grams)))
    return Parsed(grams)


# A part of a kilo without its unit: "1,5", "0.5", "setengah" (never "1.500": grams)
_BARE_KILOS = re.compile(r"^\s*(\d[.,]\d{1,2}|0[.,]\d{3}|setengah|separo|separuh)\s*$", re.I)
_MASS_UNIT = re.compile(
    r"(\d|\b)(g|gr|grm|gram|kg|kilo|kilogram|ons|on|ton)\b|\bsekilo|\bseons", re.I
)


def _ask_condition(ctx: Ctx) -> Outbound:
    return say(
        t("product.ask_condition"),
        choices=(Choice("new", t("choice.new")), Choice("used", t("choice.used"))),
    )


def _read_condition(msg: Inbound, ctx: Ctx) -> Reading:
    if msg.choice in ("new", "used"):
        return Parsed(msg.choice)
    said = lexicon().answer("condition", normalize(msg.text))
    if said is None:  # "masih baru kok", "bekas tapi mulus": one of the words, once
        found = {lexicon().answer("condition", w) for w in normalize(msg.text).split()}
        found.discard(None)
        said = found.pop() if len(found) == 1 else None
    if said is not None:
        return Parsed(said)
    return Invalid(t("product.condition_unclear"))


def _after_weight(ctx: Ctx) -> str:
    return "description" if ctx.draft.get("category") in NEW_ONLY else "condition"


# --- description ---------------------------------------------------------------------------------


def draft_description(ctx: Ctx) -> str:
    """A starting description from what is known; the owner may keep, edit or replace it."""
    d = ctx.draft
    condition = (
        t("product.condition.new") if d.get("condition") != "used" else t("product.condition.used")
    )
    text = ctx.env.render(
        t(
            "product.description_template",
            name=d.get("name", ""),
            category=category_label(d.get("category")),
            weight=Grams(int(d.get("weight_grams") or 0)),
            condition=condition,
            shop=(ctx.env.seller or {}).get("shop_name", ""),
        )
    )
    return text[:DESCRIPTION_MAX]


def _ask_description(ctx: Ctx) -> Outbound:
    if ctx.draft.get("description"):
        return say(
            t("product.ask_description_current", current=ctx.draft["description"]),
            choices=(Choice("keep_current", t("choice.keep_current")),),
        )
    return say(
        t("product.ask_description", example=draft_description(ctx)),
        choices=(Choice("use_draft", t("choice.use_draft")),),
    )


def _offered_description(ctx: Ctx) -> dict[str, Any]:
    """What "ya" or "pakai" keeps: the current description, or the one we wrote."""
    current = ctx.draft.get("description")
    if current:
        return {"description": current}
    return {"description": draft_description(ctx), "description_auto": True}


def _read_description(msg: Inbound, ctx: Ctx) -> Reading:
    text = (msg.text or "").strip()
    if msg.choice in ("keep_current", "use_draft") or said_word(ctx, "keep"):
        return Parsed(_offered_description(ctx))
    if len(text) < 60 and _starts_agreeing(text):  # "iya pake yang itu aja kak"
        return Parsed(_offered_description(ctx))
    if len(text) < DESCRIPTION_MIN:
        return Invalid(t("product.description_too_short", min=DESCRIPTION_MIN))
    if len(text) > DESCRIPTION_MAX:
        return Invalid(t("product.description_too_long", count=len(text), max=DESCRIPTION_MAX))
    return Parsed({"description": text, "description_auto": False})


def reopened(data: dict[str, Any], env: Env) -> dict[str, Any]:
    """A stored product's draft: its description counts as ours if it is what we wrote."""
    draft = dict(data)
    ours = draft.get("description") and draft["description"] == draft_description(Ctx(draft, env))
    draft["description_auto"] = bool(ours)
    draft[LOADED] = {key: data.get(key) for key in PRODUCT_FIELDS}
    return draft


def _starts_agreeing(text: str) -> bool:
    """A short reply that begins with yes or "pakai": about the offered text, not one."""
    first = normalize(text).split()[:2]
    agreeing = words("yes") | words("keep")
    return bool(first) and (first[0] in agreeing or " ".join(first) in agreeing)


def _derived(ctx: Ctx) -> dict[str, Any]:
    """The description we wrote follows the fields it names; the owner's own stays."""
    derived: dict[str, Any] = {}
    if ctx.draft.get("category") in NEW_ONLY:
        derived["condition"] = "new"
    if ctx.draft.get("description_auto"):
        derived["description"] = draft_description(Ctx({**ctx.draft, **derived}, ctx.env))
    return derived


# --- summary ------------------------------------------------------------------------------------


def product_lines(d: dict[str, Any]) -> tuple[Any, ...]:
    condition = (
        t("product.condition.used") if d.get("condition") == "used" else t("product.condition.new")
    )
    return (
        t("product.summary.name", value=d.get("name") or "-"),
        t("product.summary.category", value=category_label(d.get("category"))),
        t("product.summary.price", value=Money(int(d.get("price") or 0))),
        t("product.summary.stock", value=d.get("stock", 0), min_order=d.get("min_order") or 1),
        t("product.summary.weight", value=Grams(int(d.get("weight_grams") or 0))),
        t("product.summary.condition", value=condition),
        t("product.summary.photos", count=len(d.get("photos") or [])),
        t("product.summary.description", value=d.get("description") or "-"),
    )


def _summary(ctx: Ctx) -> Outbound:
    draft = dict(ctx.draft)
    photos = draft.get("photos") or []
    return say(
        t("product.summary.title"),
        *product_lines(draft),
        t("product.summary.question"),
        photo=photos[0]["sha256"] if photos else None,
    )


LOADED = "loaded"  # a stored product's fields as they were when it was opened to change
PRODUCT_FIELDS = (
    "photos",
    "name",
    "category",
    "price",
    "stock",
    "min_order",
    "weight_grams",
    "condition",
    "description",
)


def _as_saved(values: Mapping[str, Any]) -> dict[str, Any]:
    """A product's fields as `_finish` saves them."""
    data = {key: values.get(key) for key in PRODUCT_FIELDS}
    data["min_order"] = data["min_order"] or 1
    if data["stock"] and data["min_order"] > data["stock"]:  # never more than there is
        data["min_order"] = data["stock"]
    return data


def _finish(ctx: Ctx) -> Outcome:
    data = _as_saved(ctx.draft)
    product_id = ctx.draft.get("product_id")
    if product_id and not any(p.get("id") == product_id for p in ctx.env.products):
        # deleted since it was opened (by the owner, or their facilitator): not listed again
        deleted = t("product.deleted_meanwhile", name=data["name"] or "-")
        return Outcome(replies=(say(deleted),), start="menu")
    if listed_product(ctx):  # a change to a listed product: done, back to the menu
        changed = _changed(data, ctx.draft.get(LOADED))
        stored = _as_stored(ctx, product_id)
        if all(stored[key] == value for key, value in changed.items()):  # "simpan", no change
            return Outcome(replies=(say(t("product.unchanged", name=data["name"])),), start="menu")
        updated = say(t("product.updated", name=data["name"]))
        return Outcome(
            effects=(SaveProduct(changed, product_id=product_id),),
            replies=(updated, *_changed_meanwhile(changed, ctx.draft.get(LOADED), stored)),
            start="menu",
        )
    return Outcome(
        effects=(SaveProduct(data, product_id=product_id),),
        replies=(say(_saved(ctx, data["name"])),),
        start="product_more",
    )


def _changed(data: dict[str, Any], loaded: Any) -> dict[str, Any]:
    """Only what this person changed since they opened the product: someone else (the owner,
    their facilitator) may have saved another of its fields meanwhile, which stays."""
    if not isinstance(loaded, dict):  # opened before products remembered it: all of it
        return data
    before = _as_saved(loaded)
    return {key: value for key, value in data.items() if value != before[key]}


def _changed_meanwhile(
    changed: dict[str, Any], loaded: Any, stored: dict[str, Any]
) -> list[Outbound]:
    """A field this person changed was saved by someone else too since they opened it: theirs
    is kept (the later), and they are told which, to check."""
    if not isinstance(loaded, dict):
        return []
    before = _as_saved(loaded)
    both = [key for key in changed if stored[key] != before[key] and stored[key] != changed[key]]
    if not both:
        return []
    field = _FIELD_LABELS.get(both[0], t("field.product_name"))
    return [say(t("product.changed_meanwhile", field=field))]


def _as_stored(ctx: Ctx, product_id: Any) -> dict[str, Any]:
    """The product's fields as saved now, as `_finish` would save them."""
    stored = next((p for p in ctx.env.products if p.get("id") == product_id), {})
    return _as_saved(stored.get("data") or {})


def _saved(ctx: Ctx, name: Any) -> Text:
    """What happens next, told to whoever is typing: a facilitator's shop waits for its owner."""
    helped = ctx.env.acting_for
    if helped is None:
        return t("product.saved", name=name)
    if helped.get("status") == "awaiting_consent":
        return t("product.saved_awaiting_owner", name=name)
    return t("product.saved_for_owner", name=name)


# --- reordering photos from the summary ----------------------------------------------------------


def _ask_photo_edit(ctx: Ctx) -> Outbound:
    count = len(_photos(ctx))  # examples only with photos that are there
    asked = t("product.photo_edit", count=count) if count > 1 else t("product.photo_edit_one")
    return say(asked, choices=(Choice("done", t("choice.done")),))


def _photo_edit_unclear(count: int) -> Text:
    if count > 1:
        return t("product.photo_edit_unclear", count=count)
    return t("product.photo_edit_one_unclear")


def _read_photo_edit(msg: Inbound, ctx: Ctx) -> Reading:
    photos = _photos(ctx)
    # a blurry one sent here is asked about as on the way in, never dropped at "selesai"
    reading = _held_answer(msg, ctx, photos)
    if reading is None and msg.photos:
        reading = _take_photos(msg, photos, ctx)
    if isinstance(reading, Parsed):  # five photos: still here, to reorder or remove
        return Stay(t("product.photos_full", max=MAX_PHOTOS), keep=reading.value)
    if reading is not None:
        return reading
    if msg.rejected_photos and not msg.photos:  # said why, as on the way in
        return Invalid(
            PHOTO_REJECTED.get(msg.rejected_photos[0].reason, PHOTO_REJECTED["not_image"])
        )
    words = " ".join((msg.text or "").lower().split())
    if _says_done(msg, ctx):
        if not photos:
            return Invalid(t("product.photos_needed"))
        return Parsed({"photos": photos, "held_photos": [], PHOTO_NUMBERS: None})
    command = photo_command(words)
    if not command or not 1 <= command[1] <= len(photos):
        return Invalid(_photo_edit_unclear(len(photos)))
    number = command[1]
    numbered = _numbered(ctx, photos)
    chosen = numbered[number - 1]["sha256"]
    others = [p for p in photos if p["sha256"] != chosen]
    if command[0] == "delete":
        if len(photos) == 1:
            return Invalid(t("product.photos_keep_one"))
        order = [p["sha256"] for p in numbered if p["sha256"] != chosen]
        removed = t("product.photo_removed", number=number, count=len(others))
        return Stay(removed, keep={"photos": others, PHOTO_NUMBERS: order})
    cover = [numbered[number - 1], *others]  # the cover goes first; the numbers stay
    order = [p["sha256"] for p in numbered]
    cover_set = t("product.photo_cover_set", number=number)
    return Stay(cover_set, keep={"photos": cover, PHOTO_NUMBERS: order}, photo=chosen)


_PHOTO_DELETE = {"hapus", "hapuskan", "dihapus", "buang", "dibuang", "delete"}
_PHOTO_COVER = {"utama", "cover", "depan", "sampul"}
_ORDINALS = {"pertama": 1, "kesatu": 1, "kedua": 2, "ketiga": 3, "keempat": 4, "kelima": 5}
# Words around the command that change nothing: "foto ketiga jadi foto utama", "yang ketiga
# jadi utama", "hapus foto nomor 2"
_PHOTO_FILLER = {
    *("foto", "fotonya", "gambar", "gambarnya", "jadi", "jd", "jadikan", "dijadikan", "jadiin"),
    *("nomor", "nomer", "no", "sebagai", "ke", "aja", "saja", "yang", "yg", "itu", "ini", "kak"),
}


def photo_command(typed: str) -> tuple[str, int] | None:
    """ "hapus 2", "utama 3", "foto ketiga jadi foto utama", "hapus yang kedua": ("delete" or
    "cover", the photo's number); None for anything else."""
    said = re.sub(r"\bke-?(\d)\b", r"\1", normalize(typed)).split()  # "ke-3", "ke 3"
    said = [str(_ORDINALS.get(w, w)) for w in said]
    said = [w for w in re.sub(r"\b([a-z]+)(\d)\b", r"\1 \2", " ".join(said)).split()]  # "foto3"
    actions = [w for w in said if w in _PHOTO_DELETE | _PHOTO_COVER]
    numbers = [w for w in said if w.isdigit()]
    rest = [w for w in said if w not in _PHOTO_DELETE | _PHOTO_COVER and not w.isdigit()]
    if len(actions) != 1 or len(numbers) != 1 or not set(rest) <= _PHOTO_FILLER:
        return None
    return ("delete" if actions[0] in _PHOTO_DELETE else "cover"), int(numbers[0])


# The photos' numbers as the owner knows them while changing the photos: "utama 2" makes
# photo 2 the cover without renumbering, so a "hapus 1" after it still means photo 1.
PHOTO_NUMBERS = "photo_numbers"


def _numbered(ctx: Ctx, photos: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The photos in the owner's numbering: as first shown, new ones after them."""
    known = {p["sha256"]: p for p in photos}
    order = [s for s in ctx.draft.get(PHOTO_NUMBERS) or [] if s in known]
    return [known[s] for s in order] + [p for p in photos if p["sha256"] not in order]


STEPS = {
    s.id: s
    for s in (
        Step(
            "photos",
            _ask_photos,
            _read_photos_step,
            slot="*",
            next="name",
            help=t("product.help.photos"),
            takes_photos=True,
        ),
        Step(
            "name",
            _ask_name,
            _read_name,
            slot="name",
            next="category",
            help=t("product.help.name"),
            free_text=True,
            offer=_caption,
        ),
        Step(
            "category",
            _ask_category,
            _read_category,
            slot="category",
            next="price",
            help=t("product.help.category"),
            offer=_suggested_category,
        ),
        Step(
            "price",
            _ask_price,
            _read_price,
            slot="*",
            next=_after_price,
            help=t("product.help.price"),
            then_ask=_min_order_again,
        ),
        Step(
            "stock",
            _ask_stock,
            _read_stock,
            slot="stock",
            next="min_order",
            help=t("product.help.stock"),
            then_ask=_min_order_again,
        ),
        Step(
            "min_order",
            _ask_min_order,
            _read_min_order,
            slot="min_order",
            next="weight",
            help=t("product.help.min_order"),
            optional=True,
        ),
        Step(
            "weight",
            _ask_weight,
            _read_weight,
            slot="weight_grams",
            next=_after_weight,
            help=t("product.help.weight"),
        ),
        Step(
            "condition",
            _ask_condition,
            _read_condition,
            slot="condition",
            next="description",
            help=t("product.help.condition"),
        ),
        Step(
            "description",
            _ask_description,
            _read_description,
            slot="*",
            next=None,
            help=t("product.help.description"),
            offer=_offered_description,
            free_text=True,
            takes_words=("keep",),
            verbatim=True,
        ),
        Step(
            "photo_edit",
            _ask_photo_edit,
            _read_photo_edit,
            slot="*",
            next=None,
            help=t("product.help.photo_edit"),
            takes_photos=True,
        ),
    )
}

FIELDS = (
    Field("photos", t("field.photos"), ("photo_edit",)),
    Field("name", t("field.product_name"), ("name",)),
    Field("category", t("field.category"), ("category",)),
    Field("price", t("field.price"), ("price",)),
    Field("stock", t("field.stock"), ("stock",)),
    Field("min_order", t("field.min_order"), ("min_order",)),
    Field("weight", t("field.weight"), ("weight",)),
    Field("condition", t("field.condition"), ("condition",)),
    Field("description", t("field.description"), ("description",)),
)

_FIELD_LABELS = {
    {"weight": "weight_grams"}.get(field.id, field.id): field.label for field in FIELDS
}

# What an owner types after "ubah" to fix a field the marketplace refused -> summary field id.
FIX_WORDS = {
    "nama": "name",
    "deskripsi": "description",
    "harga": "price",
    "foto": "photos",
    "berat": "weight",
    "kategori": "category",
    "stok": "stock",
    "minimal": "min_order",
    "kondisi": "condition",
}


def _read_change(text: str, field_named: FieldReader, ctx: Ctx) -> tuple[str, str] | None:
    """A change said at the summary: "tambah foto" opens the photos (to add one), "utama 3"
    changes them; "tambah stok 10" is "stok tambah 10"."""
    phrase = normalize(text)
    if "photos" in (
        lexicon().answer("product_action", phrase),
        lexicon().answer("product_action", without_softeners(phrase)),
    ):
        return "photos", ""
    if photo_command(text):  # "utama 3", "hapus 1": the photo editor's own words
        return "photos", text
    named = field_named(verb_first(text) or text)
    rest = without_lead("name", text)  # "namanya ganti Kripik Singkong": the product's name
    if named is None and rest != text:
        return "name", new_value(rest.split())
    return named


def _restart_keeps(ctx: Ctx) -> dict[str, Any]:
    """Starting a stored draft again replaces it (its id kept); a listed product's is never
    replaced by a new one."""
    product_id = ctx.draft.get("product_id")
    return {"product_id": product_id} if product_id and not listed_product(ctx) else {}


def listed_product(ctx: Ctx) -> bool:
    """The draft changes a product already saved (not a draft): cancelling keeps it as it was."""
    product_id = ctx.draft.get("product_id")
    return any(p.get("id") == product_id and p.get("status") != "draft" for p in ctx.env.products)


PRODUCT = Flow(
    id="product",
    steps=STEPS,
    first="photos",
    finish=_finish,
    summary=_summary,
    fields=FIELDS,
    resume_question=t("product.resume_question"),
    cancelled=t("product.cancelled"),
    cancelled_edit=t("product.edit_cancelled"),
    editing=listed_product,
    resume_edit_question=lambda ctx: t(
        "product.resume_edit_question", name=ctx.draft.get("name") or "-"
    ),
    confirm_cancel=True,
    derive=_derived,
    read_change=_read_change,
    restart_keeps=_restart_keeps,
)


# The product's questions after the photos, in order, and the draft key each one fills.
ANSWER_KEYS = {
    "name": "name",
    "category": "category",
    "price": "price",
    "stock": "stock",
    "min_order": "min_order",
    "weight": "weight_grams",
    "condition": "condition",
    "description": "description",
}


def answered(draft: dict[str, Any], step: str) -> bool:
    return draft.get(ANSWER_KEYS.get(step, step)) not in (None, "")


def steps_before(draft: dict[str, Any], stop: str, env: Env) -> tuple[str, ...]:
    """The questions a product continued at `stop` went through (its history, so "kembali"
    and "ubah harga" reach them as if never left)."""
    path: list[str] = []
    step: str | None = PRODUCT.first
    while step and step in STEPS and step != stop and step not in path:
        path.append(step)
        nxt = STEPS[step].next
        step = nxt(Ctx(draft, env)) if callable(nxt) else nxt
    return tuple(path)


def first_missing_step(draft: dict[str, Any]) -> str:
    """Where to continue an unfinished product."""
    if not draft.get("photos"):
        return "photos"
    return next((step for step in ANSWER_KEYS if not answered(draft, step)), "summary")


# --- photos sent before a product was begun -----------------------------------------------------


def photos_sent(msg: Inbound) -> dict[str, Any]:
    """Photos sent where no product was being made (the menu): kept to begin one with."""
    return {
        "sent": {
            "photos": [p.to_json() for p in msg.photos],
            "rejected": [r.reason for r in msg.rejected_photos],
            "caption": msg.text,
        }
    }


def new_product(draft: Mapping[str, Any], env: Env) -> Outcome:
    """A new product; photos sent with the request are read at its photo question as if sent
    there (a blurry one asked about, a caption offered as the name), never taken unseen."""
    sent = draft.get("sent")
    if not sent:
        return Outcome(start="product")
    message = Inbound(
        user_key="",
        channel=env.channel,
        text=sent.get("caption"),
        photos=tuple(PhotoRef.from_json(p) for p in sent.get("photos") or ()),
        rejected_photos=tuple(RejectedPhoto(r) for r in sent.get("rejected") or ()),
    )
    return Outcome(start="product", step="photos", answer=message)


# --- after saving -------------------------------------------------------------------------------


def _ask_more(ctx: Ctx) -> Outbound:
    return say(t("product.ask_more"), choices=YES_CHOICES)


def _read_more(msg: Inbound, ctx: Ctx) -> Reading:
    if msg.photos or msg.rejected_photos:
        return Parsed({"more": True, **photos_sent(msg)})
    said = yes_no(ctx)
    if said is True:
        return Parsed({"more": True})
    if said is False or said_word(ctx, "done") or said_word(ctx, "later"):
        return Parsed({"more": False})
    picked = lexicon().answer("menu", normalize(msg.text))
    if picked == "products":  # "produk saya": the list
        return Parsed({"more": False, "products": True})
    if picked == "product":  # "tambah produk": yes, another one
        return Parsed({"more": True})
    return Invalid(t("product.ask_more_unclear"))


def _finish_more(ctx: Ctx) -> Outcome:
    if ctx.draft.get("more"):
        return new_product(ctx.draft, ctx.env)
    if ctx.draft.get("products"):
        return Outcome(start="product_list")
    return Outcome(replies=(say(t("product.no_more")),), start="menu")  # the menu says the rest


PRODUCT_MORE = Flow(
    id="product_more",
    steps={"ask": Step("ask", _ask_more, _read_more, slot="*", next=FINISH, takes_photos=True)},
    first="ask",
    finish=_finish_more,
    cancelled=t("product.done_for_now"),
)
