"""Shop registration: consent, owner, phone, shop, category, place, address, NIB."""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import replace
from string import capwords
from typing import Any

from flows.categories import categories, confident_category, suggest_categories
from flows.effects import SaveSeller
from flows.engine import (
    FINISH,
    SUMMARY,
    WHICH_FIELD,
    Clarify,
    Ctx,
    Field,
    Flow,
    Invalid,
    Outcome,
    Parsed,
    Reading,
    Stay,
    Step,
    new_value,
    points_at_the_offer,
    yes_no,
)
from flows.interpret import Yes, read_text
from flows.lexicon import (
    after_agreeing,
    an_instruction,
    lexicon,
    normalize,
    without_lead,
    words,
)
from flows.messages import Choice, Inbound, Outbound, Text, say, shortened, t
from flows.parsing import is_mobile, parse_phone, parse_yes_no
from flows.regions import (
    EAST_JAVA,
    RegencyMatch,
    district,
    districts_by_regency,
    match_district,
    provinces,
    regencies,
    regency_match,
)

CONSENT_VERSION = "2026-11-v1"
FLOW_ID = "registration"
# "Mboten" to the terms: remembered with nothing open, so a "setuju" next is taken as the yes
DECLINED = "_consent_declined"


def display_phone(e164: str) -> str:
    """'+6281234567890' -> '0812-3456-7890', the way owners write it."""
    if not e164.startswith("+62"):
        return e164
    local = "0" + e164[3:]
    if local.startswith("08"):
        return "-".join(filter(None, (local[:4], local[4:8], local[8:])))
    return local


def regency_label(code: str, with_province: bool = False) -> str:
    reg = regencies()[code]
    if with_province and reg.province_code != EAST_JAVA:
        return f"{reg.full_name} ({provinces()[reg.province_code]})"
    return reg.full_name


def _clean(text: str | None) -> str:
    return " ".join((text or "").split())


# --- consent ------------------------------------------------------------------------------


def _ask_consent(ctx: Ctx) -> Outbound:
    return say(
        t("reg.consent"),
        choices=(Choice("yes", t("choice.agree")), Choice("no", t("choice.disagree"))),
    )


def _read_consent(msg: Inbound, ctx: Ctx) -> Reading:
    said = yes_no(ctx)
    if said is True:
        agreed = {"consent_version": CONSENT_VERSION, "consent_at": ctx.env.now.isoformat()}
        more = _said_with_consent(msg, ctx) if ctx.said == Yes(pure=False) else {}
        return Parsed({**agreed, SAID_WITH_CONSENT: more} if more else agreed)
    if said is False:
        return Parsed({"consent_declined": True})
    return Invalid(t("reg.consent_unclear"))


# What was said with the yes to the terms ("setuju. nama saya Sri Wahyuni, toko saya Keripik
# Tempe Sri di Sidoarjo"): draft key -> value, each offered at its own question.
SAID_WITH_CONSENT = "said_with_consent"
# Where a clause of such a message ends; and a place said at the end of one ("... di Sidoarjo").
_CLAUSES = re.compile(r"[,.;\n]+|\s+(?:dan|terus|trus|lalu)\s+", re.IGNORECASE)
_PLACE_AT_THE_END = re.compile(r"(?:^|\s+)(?:di|dari|daerah)\s+([^\W\d_][^\d,]*)$", re.IGNORECASE)


def _said_with_consent(msg: Inbound, ctx: Ctx) -> dict[str, str]:
    """The owner's name, the shop's name and the regency said with the yes, each introduced
    ("nama saya ...", "toko saya ...", "di ...") and read as its own question reads it; a
    facilitator's words are not the owner's."""
    if about_the_owner(ctx):
        return {}
    found: dict[str, str] = {}
    for clause in (c.strip(" -:") for c in _CLAUSES.split(_after_the_yes(msg.text or ""))):
        found.update(_read_clause(clause, msg, ctx) if clause else {})
    return {key: value for key, value in found.items() if value}


def _after_the_yes(text: str) -> str:
    """ "setuju kak. nama saya Sri" -> "nama saya Sri": the yes and the soft words with it,
    never the "nama saya" after it."""
    said, cut = text.split(), 0
    for n, word in enumerate(said):
        if normalize(word) not in words("yes") | words("softener"):
            break
        if normalize(word) in words("yes") or word[-1] in ",.;:!":
            cut = n + 1
        if word[-1] in ",.;:!":
            break
    return " ".join(said[cut:])


def _read_clause(clause: str, msg: Inbound, ctx: Ctx) -> dict[str, str]:
    """One clause said with the yes: "toko saya Keripik Tempe Sri di Sidoarjo" is the shop's
    name and the regency; "nama saya Sri Wahyuni" the owner's name; else nothing."""
    found: dict[str, str] = {}
    shop = _after_the_lead("shop_name", clause)
    place = _PLACE_AT_THE_END.search(shop)
    code = _regency_said(place[1]) if place else None
    if place and (code or regency_match(place[1], EAST_JAVA).codes):
        found.update({"regency_code": code} if code else {})
        shop, clause = shop[: place.start()].strip(), clause[: len(clause) - len(place[0])]
    if shop != clause and shop:
        found.update(_read_early(_read_shop_name, "shop_name", shop, msg, ctx))
    elif without_lead("owner_name", clause) != clause:
        found.update(_read_early(_read_owner_name, "owner_name", clause, msg, ctx))
    return found


def _regency_said(place: str) -> str | None:
    found = regency_match(place, EAST_JAVA)
    return found.codes[0] if len(found.codes) == 1 and found.sure else None


def _read_early(
    read: Callable[[Inbound, Ctx], Reading], key: str, text: str, msg: Inbound, ctx: Ctx
) -> dict[str, str]:
    """{key: value} when the question's reader takes the text as it is (no "betul?")."""
    reading = read(replace(msg, text=text, choice=None), Ctx(ctx.draft, ctx.env, read_text(text)))
    ok = isinstance(reading, Parsed) and reading.confirm is None and isinstance(reading.value, str)
    return {key: reading.value} if ok else {}  # type: ignore[union-attr]


def _said_before(ctx: Ctx, key: str) -> str | None:
    """What was said with the yes to the terms for this question, while it is unanswered."""
    said = ctx.draft.get(SAID_WITH_CONSENT)
    if not isinstance(said, dict) or ctx.draft.get(key) or not said.get(key):
        return None
    return str(said[key])


# --- owner and phone ------------------------------------------------------------------------------


def about_the_owner(ctx: Ctx) -> bool:
    """Asked of a facilitator registering an owner (/daftarkan), or changing the data of the
    shop they help: the questions are about the owner, not about whoever types."""
    return bool(ctx.draft.get("assisted") or ctx.env.acting_for)


def _owners(ctx: Ctx, own: Text, owners: Text) -> Text:
    """The message to the owner themselves, or the one about the owner (`about_the_owner`)."""
    return owners if about_the_owner(ctx) else own


# The owner's name a facilitator typed with the owner's number ("0812... pak budi").
NAMED_WITH_PHONE = "named_with_phone"


def _offered_name(ctx: Ctx) -> str | None:
    """The channel's profile name (without emoji), offered when it looks like a person's; for
    a facilitator, the name typed with the owner's number (their own is not the owner's)."""
    if about_the_owner(ctx):
        return str(ctx.draft.get(NAMED_WITH_PHONE) or "") or None
    profile = _clean(re.sub(r"[^\w\s.'-]", " ", ctx.env.profile_name or ""))
    if not profile or not _valid_person_name(profile) or _NOT_A_PERSON.search(profile):
        return None
    return profile.title() if profile.islower() or profile.isupper() else profile


def _ask_owner_name(ctx: Ctx) -> Outbound:
    offered = _offered_name(ctx)
    if offered:
        known = _owners(
            ctx,
            t("reg.ask_owner_name_known", name=offered),
            t("fac.ask_owner_name_known", name=offered),
        )
        return say(known, choices=(Choice("profile", offered),))
    return say(_owners(ctx, t("reg.ask_owner_name"), t("fac.ask_owner_name")))


def name_beside_phone(text: str) -> str | None:
    """The person named with a phone number ("0812-3456-7890 pak budi" -> "Budi"), or None
    when what is beside the number is no person's name ("0812... ya", "0812... wa")."""
    rest = _PHONE_IN_TEXT.sub(" ", text)
    name = _person_name(rest.strip(" ,.;:-()"))
    plain = normalize(name)
    if not plain or an_instruction(name) or len(name.split()) > 4 or _names_goods(name):
        return None
    if {lexicon().answer("owner_name", w) for w in plain.split()} & {"number", "not_a_name"}:
        return None
    if not _valid_person_name(name) or not re.fullmatch(r"[^\W\d_][\w .'-]*", name):
        return None
    return capwords(name.lower()) if name.islower() or name.isupper() else name


def _ask_owner_name_or_said(ctx: Ctx) -> Outbound:
    """ "Nama Kakak *Sri Wahyuni*, ya?" when it was said with the yes to the terms."""
    said = _said_before(ctx, "owner_name")
    if said is None:
        return _ask_owner_name(ctx)
    return say(t("reg.ask_owner_name_said", name=said), choices=(Choice("said", said),))


def _owner_name_offered(ctx: Ctx) -> str | None:
    return _said_before(ctx, "owner_name") or _offered_name(ctx)


def _valid_person_name(name: str) -> bool:
    return (
        2 <= len(name) <= 100
        and bool(re.search(r"[^\W\d_]", name))
        and not re.search(r"\d{3,}", name)
    )


def _is_title(text: str) -> bool:
    """'S.Pd', 'SE', 'S.Kom., M.M.': degrees written after a name."""
    tokens = [tok for tok in re.split(r"[\s,]+", text.strip()) if tok]
    return 0 < len(tokens) <= 3 and all(
        re.fullmatch(r"[A-Za-z.]{1,8}", tok) and ("." in tok or tok.isupper()) for tok in tokens
    )


_HONORIFICS = re.compile(r"^(?:pak|bu|bapak|ibu|mas|mbak|mba|kak|cak|ning)\.?\s+(?=\S)", re.I)
_NOT_A_PERSON = re.compile(
    r"\b(toko|warung|shop|store|olshop|ud|cv|pt|jual|jualan|official)\b", re.I
)


# Said after a name, never part of one (unlike "mas" or "ning", which can be).
_TRAILING = frozenset(
    {
        *("kak", "kk", "ka", "ya", "yah", "yaa", "dong", "deh", "sih", "aja", "nih"),
        *("gan", "sis", "min", "admin", "makasih", "thanks", "thx", "tq"),
    }
)


def _person_name(text: str) -> str:
    """The name in what was typed: no "nama saya", no "Pak", nothing after a comma clause.

    'nama saya Bu Siti Rahayu, jualan tas rajut' -> 'Siti Rahayu'; 'Sri Wahyuni, S.Pd' stays.
    """
    text = after_agreeing(text)  # "wah iyo, yowis Sri wae": Sri
    name = _clean(_without_nickname(_BRACKETED.sub(" ", without_lead("owner_name", text))))
    head, comma, rest = name.partition(",")
    if comma and not _is_title(rest):  # "Slamet, penjahit"; "Sri Wahyuni, S.Pd" stays
        name = head.strip()
    name = re.sub(r"[^\w\s.,'\-]", " ", name)  # emoji and symbols are not part of a name
    said = name.split()
    agreeing = words("yes") | words("softener")
    while len(said) > 2 and said[0].lower() in agreeing:  # "iya bu sri wahyuni"
        said = said[1:]
    while len(said) > 1 and said[-1].lower().strip(".") in _TRAILING:  # "Siti Aminah kak"
        said = said[:-1]
    return _HONORIFICS.sub("", " ".join(said))


# Said in brackets after a name: "sri (panggil aja mbak sri)" is Sri.
_BRACKETED = re.compile(r"\([^)]*\)?")
# What follows a name, never part of it: "sri tp biasa dipanggil yuyun" is Sri.
_BUT = re.compile(r"\s*,?\s*\b(?:tp|tpi|tapi|tetapi)\b.*$", re.I)
# "biasa dipanggil", "panggilannya", "panggil aja": the name before it, else the one after.
_CALLED = re.compile(
    r"\b(?:(?:biasa|sering)\s+)?(?:di)?panggil(?:annya|an)?\b(?:\s+(?:aja|saja))?", re.I
)


def _without_nickname(text: str) -> str:
    """ "sri tp biasa dipanggil yuyun" -> "sri"; "panggil aja yuyun" -> "yuyun"."""
    text = _BUT.sub("", text)
    called = _CALLED.search(text)
    if called is None:
        return text
    return text[: called.start()].strip(" ,") or text[called.end() :].strip(" ,")


def _names_goods(name: str) -> bool:
    """ "Keripik tempe bu sri": what is sold, a shop's or a product's name, not a person's
    (one word alone may be a person's: "Padi")."""
    return len(name.split()) >= 2 and bool(suggest_categories(name))


# What was refused as the owner's name ("keripik tempe bu sri"), kept in the draft.
REFUSED_NAME = "refused_owner_name"


def _goods_again(name: str, ctx: Ctx) -> bool:
    """ "Keripik" right after "keripik tempe bu sri" was refused: the product word of it, not a
    name. ("Sri" from it is a name; so is "Padi" or "Melati" said first.)"""
    said = normalize(name)
    refused = str(ctx.draft.get(REFUSED_NAME) or "").split()
    return len(said.split()) == 1 and said in refused and bool(suggest_categories(said))


def _an_answer_word(name: str) -> bool:
    """What is left of a message once the name is cut out of it may be an answer word: "GK"
    from "GK, 0". That is an instruction, never a name."""
    return an_instruction(name)


# A phone number: eight digits or more, maybe written with dashes or spaces ("0812-9999-0000").
_PHONE_IN_TEXT = re.compile(r"\d(?:[\s-]?\d){7,}")


def _has_phone_number(msg: Inbound) -> bool:
    """A name typed with a phone number in it ("pake 081355551212 aja"): never stored as one."""
    return not msg.choice and _PHONE_IN_TEXT.search(msg.text or "") is not None


def _not_a_name(name: str, ctx: Ctx) -> Text | None:
    """Why words that are never in a person's name are refused ("mau jualan", "pake nomor
    lain"), or None."""
    said = {lexicon().answer("owner_name", word) for word in normalize(name).split()}
    if "number" in said:
        return _owners(
            ctx, t("reg.owner_name_phone"), t("fac.owner_name_phone")
        )  # the number is asked next
    return (
        _owners(ctx, t("reg.owner_name_not_a_name"), t("fac.owner_name_not_a_name"))
        if "not_a_name" in said
        else None
    )


def _names_no_one(text: str) -> bool:
    """ "kan udah tadi", "kan sudah saya bilang", "saya sendiri": a complaint or a sentence of
    function words, never a person's or a shop's name ("Sri Sendari" is one)."""
    said = normalize(text).split()
    nothing = lexicon().answers.get("naming", {}).get("nothing", frozenset())
    around = words("softener") | words("person_word") | words("filler")
    around |= words("yes") | words("no")
    return bool(said) and all(w in nothing or w in around for w in said)


def _wants_another_number(text: str) -> bool:
    """ "Nomor hp nya salah", "pake nomor lain": another number is coming, none is typed."""
    phrase = normalize(text)
    said = {phrase, *phrase.split()}
    return not re.search(r"\d", text) and any(lexicon().answer("phone", w) for w in said)


def _read_owner_name(msg: Inbound, ctx: Ctx) -> Reading:
    said_before = _said_before(ctx, "owner_name")
    if msg.choice == "said" and said_before:
        return Parsed(said_before)
    if _has_phone_number(msg):
        return Invalid(_owners(ctx, t("reg.owner_name_phone"), t("fac.owner_name_phone")))
    typed = _person_name(msg.text or "")
    name = (_offered_name(ctx) or "") if msg.choice == "profile" else typed
    if not name:
        return Invalid(_owners(ctx, t("reg.owner_name_missing"), t("fac.owner_name_missing")))
    if _an_answer_word(name):
        return Invalid(t("reg.owner_name_invalid"))
    if msg.choice != "profile" and _names_no_one(msg.text or ""):  # "kan udah tadi"
        return Invalid(_owners(ctx, t("reg.owner_name_not_a_name"), t("fac.owner_name_not_a_name")))
    refused = {REFUSED_NAME: normalize(name)}  # its product words are no name alone either
    if len(name.split()) > 5 or _names_goods(name):
        return Invalid(t("reg.owner_name_sentence"), keep=refused)
    not_a_name = _not_a_name(name, ctx)
    if not_a_name is not None:
        return Invalid(not_a_name, keep=refused)
    if _goods_again(name, ctx):
        return Invalid(t("reg.owner_name_is_goods", word=name))
    if len(name) > 100:
        return Invalid(t("reg.owner_name_too_long"))
    if not _valid_person_name(name):
        return Invalid(t("reg.owner_name_invalid"))
    if name.islower() or name.isupper():
        name = capwords(name.lower())
    return Parsed(name)


def _ask_phone_confirm(ctx: Ctx) -> Outbound:
    phone = ctx.env.known_phone or ""
    return say(
        t("reg.ask_phone_confirm", phone=display_phone(phone)),
        choices=(Choice("yes", t("choice.yes")), Choice("other", t("choice.other_number"))),
    )


def _read_phone_confirm(msg: Inbound, ctx: Ctx) -> Reading:
    typed = parse_phone(msg.contact_phone or msg.text or "")
    if typed and not is_mobile(typed):
        return Invalid(t("reg.phone_not_mobile"))
    if typed and _another_shops(typed, ctx):
        return Invalid(t("reg.phone_taken"))
    if typed:  # "bukan, pake nomer istri 0857 1234 9876": the number says it all
        verified = typed == ctx.env.known_phone
        return Parsed({"phone": typed, "phone_verified": verified, "phone_other": False})
    said = yes_no(ctx)
    if said is True and _another_shops(ctx.env.known_phone, ctx):  # typed on another shop
        return Parsed({"phone": None, "phone_other": True}, note=t("reg.phone_taken_own"))
    if said is True:
        return Parsed({"phone": ctx.env.known_phone, "phone_verified": True, "phone_other": False})
    if msg.choice == "other" or said is False or _wants_another_number(msg.text or ""):
        return Parsed({"phone": None, "phone_other": True})
    return Invalid(t("reg.phone_confirm_unclear", phone=display_phone(ctx.env.known_phone or "")))


def _another_shops(phone: Any, ctx: Ctx) -> bool:
    """A number another shop is registered under (or whose owner chats from it), never named.
    The number this chat comes from only when another live shop is registered under it (the
    database holds one live shop per number: saving would fail at every try); never a
    facilitator's correction of the shop they help: that has its own rules
    (`owner_phone_problem`)."""
    if not phone or ctx.env.acting_for:
        return False
    existing = ctx.env.directory.seller_with_phone(str(phone))
    if existing is None or existing.get("id") == (ctx.env.seller or {}).get("id"):
        return False
    if phone == ctx.env.known_phone:  # vouched for, yet typed on another live shop before:
        return existing.get("phone") == phone  # one live shop per number (migration 0017)
    return True


def _ask_phone(ctx: Ctx) -> Outbound:
    if about_the_owner(ctx):  # the contact button would share the facilitator's own
        return say(t("fac.ask_owner_phone"))
    return say(t("reg.ask_phone"), request_contact=ctx.env.channel == "telegram")


# "Yg ini aja deh", "nomor yang tadi": the number this chat comes from, after all. A word
# that points is needed: "no hp saya" or "no" alone is no answer.
_POINTING = frozenset({"ini", "tadi", "itu", "sama"})
_NUMBER_WORDS = frozenset({"nomor", "nomer", "no", "hp", "wa"})


def _this_number(text: str) -> bool:
    said = set(normalize(text).split())
    pointing = _POINTING | words("offer_reference")
    return bool(said & pointing) and said <= pointing | _NUMBER_WORDS | words("softener")


def _read_phone(msg: Inbound, ctx: Ctx) -> Reading:
    # Only the channel vouches for a number: a shared card may be someone else's.
    phone = parse_phone(msg.contact_phone or "") or parse_phone(msg.text or "")
    if phone and not is_mobile(phone):
        return Invalid(_owners(ctx, t("reg.phone_not_mobile"), t("fac.owner_phone_not_mobile")))
    if phone and _another_shops(phone, ctx):
        return Invalid(t("reg.phone_taken"))
    if phone:
        return Parsed({"phone": phone, "phone_verified": phone == ctx.env.known_phone})
    if ctx.env.known_phone and not about_the_owner(ctx) and _this_number(msg.text or ""):
        return Parsed({"phone": ctx.env.known_phone, "phone_verified": True, "phone_other": False})
    if _wants_another_number(msg.text or ""):
        return Invalid(_owners(ctx, t("reg.phone_send_other"), t("fac.owner_phone_invalid")))
    return Invalid(_owners(ctx, t("reg.phone_invalid"), t("fac.owner_phone_invalid")))


# --- shop ------------------------------------------------------------------------------------


KEY_LENGTH = 60  # seller.shop_name_key's column


def shop_name_key(name: str) -> str:
    """Uniqueness key: only letters and digits count, so case, spacing, punctuation, symbols
    and emoji do not make a name different ('SUMBER REJEKI.', 'sumber-rejeki' and
    'Sumber Rejeki 🙏' are all 'sumberrejeki').

    Stored in `seller.shop_name_key`; migration 0016 brought the keys stored before (case and
    spaces only) in line, with its own copy of this rule.
    """
    folded = unicodedata.normalize("NFKC", name).casefold()  # NFKC may lengthen it ("㍿")
    return "".join(ch for ch in folded if unicodedata.category(ch)[0] in "LN")[:KEY_LENGTH]


def _suggest_shop_name(name: str, ctx: Ctx) -> str | None:
    """The name with the shop's place ("Keripik Tempe Bu Sri Sidoarjo"), else with the owner's
    first name, else numbered; the first that is free."""
    owner_first = _clean(ctx.draft.get("owner_name")).split(" ")[0]
    seller = ctx.env.seller or {}
    regency = regencies().get(ctx.draft.get("regency_code") or seller.get("regency_code") or "")
    said = {w.casefold() for w in name.split()}
    extras = [regency.name if regency else "", owner_first]
    tries = [f"{name} {extra}" for extra in extras if extra and extra.casefold() not in said]
    tries += [f"{name} {n}" for n in range(2, 10)]
    seller_id = seller.get("id")
    for candidate in tries:
        if len(candidate) <= 60 and not ctx.env.directory.shop_name_taken(
            candidate, except_seller=seller_id
        ):
            return candidate
    return None


def _ask_shop_name(ctx: Ctx) -> Outbound:
    said = _shop_name_said(ctx)
    if said is not None:  # with the yes to the terms: "toko saya Keripik Tempe Sri"
        return say(t("reg.ask_shop_name_said", name=said), choices=(Choice(f"shop:{said}", said),))
    return say(t("fac.ask_shop_name") if ctx.draft.get("assisted") else t("reg.ask_shop_name"))


def _shop_name_said(ctx: Ctx) -> str | None:
    """The shop's name said with the yes to the terms, while no other shop has taken it."""
    said = _said_before(ctx, "shop_name")
    seller_id = (ctx.env.seller or {}).get("id")
    if said is None or ctx.env.directory.shop_name_taken(said, except_seller=seller_id):
        return None
    return said


def _after_the_lead(question: str, text: str) -> str:
    """Without what people write before the answer, agreeing words first included: "iya kak
    namanya warung siti", "tapi namanya Sumber Jaya" -> "warung siti", "Sumber Jaya". Those
    words are only dropped before a lead ("Oke Jaya" alone is a name)."""
    said = text.split()
    agreeing = words("yes") | words("softener") | {"tapi", "tp", "cuma"}
    for start in range(min(len(said), 6)):  # a few words of agreeing, not a page of them
        rest = " ".join(said[start:])
        answer = without_lead(question, rest)
        if answer != rest:
            return answer
        if normalize(said[start]) not in agreeing:
            break
    return text


# Emoji and the pieces they are made of (skin tones, joiners, variation selectors, keycaps).
_EMOJI_PARTS = frozenset("\u200d\u20e3\ufe0e\ufe0f")
# Said after a name, never part of it: "Sumber Rejeki!", "Toko Makmur Jaya."
_TRAILING_MARKS = ".!?,;:~-…"


def _without_decoration(name: str) -> str:
    """'Sumber Rejeki 🙏' -> 'Sumber Rejeki', 'SUMBER REJEKI.' -> 'SUMBER REJEKI': no emoji
    or symbols anywhere, no punctuation at the end ('UD. Sinar' keeps its dot)."""
    kept = "".join(
        ch for ch in name if ch not in _EMOJI_PARTS and unicodedata.category(ch) not in ("So", "Sk")
    )
    return " ".join(kept.split()).rstrip(_TRAILING_MARKS + " ")


def _shop_name(text: str) -> str:
    """'toko berkah, jual sembako di sidoarjo' -> 'Toko Berkah'; capitals as typed if any."""
    name = _clean(_after_the_lead("shop_name", after_agreeing(text))).strip("*\"'")
    name = _without_decoration(name).strip("*\"'")  # "*Sumber Rejeki*!" -> "Sumber Rejeki"
    head, comma, rest = name.partition(",")
    if comma and len(rest.split()) >= 2:
        name = head.strip()
    return capwords(name) if name.islower() and name.replace(" ", "").isalpha() else name


# Letters next to each other on a keyboard: "asdf", "zxcv"; the top row only from six
# letters on ("qwerty"), so "Liberty" and "Property" stay names.
_KEY_RUNS = tuple(
    row[i : i + size]
    for row, size in (("qwertyuiop", 6), ("asdfghjkl", 4), ("zxcvbnm", 4))
    for i in range(len(row) - size + 1)
)
_VOWELS = set("aiueoy")


def _typed_at_random(name: str) -> bool:
    """True for keyboard mashing or laughter, never a shop: 'asdfgh', 'wkwkwk', 'hahaha'.

    Only Latin letters are judged ('بركة' has no Latin vowels and is a name), and words typed
    in capitals are left alone: 'KSPPS' and 'CV' are how a business is written.
    """
    for word in re.findall(r"[A-Za-z]+", name):
        low = word.casefold()
        if len(low) < 4 or word.isupper():
            continue
        mashed = any(run in low or run[::-1] in low for run in _KEY_RUNS)
        no_vowel = not _VOWELS & set(low)  # "wkwk", "hmmm"
        repeated = re.fullmatch(r"(.{1,2})\1{2,}", low) is not None  # "hahaha", "aaaa"
        if mashed or no_vowel or repeated:
            return True
    return False


# A street, an alley or a housing estate with its number, or an RT/RW: an address.
_ADDRESS_START = re.compile(r"^(?:jl|jln|jalan|gg|gang|perum|perumahan)\b.*\d", re.I)
_RT_RW_NUMBER = re.compile(r"\b(?:rt|rw)\.?\s*\d", re.I)


def _an_address(text: str) -> bool:
    """ "jl melati 5 lowokwaru", "gg. mawar 3", "rt 02 rw 05": the address, sent early."""
    text = " ".join(text.split())
    return bool(_ADDRESS_START.search(text) or _RT_RW_NUMBER.search(text))


def _no_name_yet(text: str) -> bool:
    """ "Belum ada namanya mas", "gak ada nama tokonya": there is no name, said in words."""
    said = normalize(text).split()
    start = next((n for n in range(len(said), 0, -1) if " ".join(said[:n]) in words("skip")), 0)
    around = words("softener") | words("person_word") | words("filler")
    around |= {w for lead in lexicon().leads.get("shop_name", ()) for w in lead.split()}
    return start > 0 and all(w in around for w in said[start:])


def _read_shop_name(msg: Inbound, ctx: Ctx) -> Reading:
    if msg.choice and msg.choice.startswith("shop:"):
        return Parsed(msg.choice[5:])
    if _has_phone_number(msg):
        return Invalid(t("reg.shop_name_phone"))
    typed = msg.text or ""
    name = _shop_name(typed)
    if len(name) < 3:
        return Invalid(t("reg.shop_name_too_short"))
    if len(name) > 60:
        return Invalid(t("reg.shop_name_too_long", count=len(name)))
    if _an_answer_word(name):  # "nama tokonya Lanjut": an instruction, said so
        return Invalid(t("reg.shop_name_is_word", word=name))
    if _names_no_one(typed):  # "kan sudah saya bilang": no shop is called that
        return Invalid(t("reg.shop_name_not_a_name"))
    if _no_name_yet(msg.text or ""):  # "belum ada namanya mas": helped to find one
        return Invalid(t("reg.shop_name_none"))
    if not re.search(r"[^\W\d_]", name):
        return Invalid(t("reg.shop_name_invalid"))
    unusual = ctx.draft.get("unusual_shop_name") == name.casefold()
    if _an_address(name) and not unusual:  # its question comes later; a real "Gang 5" is kept
        keep = {"unusual_shop_name": name.casefold(), EARLY_ADDRESS: " ".join(typed.split())}
        return Invalid(t("reg.shop_name_address"), keep=keep)
    if _typed_at_random(msg.text or "") and not unusual:
        # "asdfgh" is refused; a real shop called "Hahaha Snack" is taken when sent again
        return Invalid(t("reg.shop_name_gibberish"), keep={"unusual_shop_name": name.casefold()})
    seller_id = (ctx.env.seller or {}).get("id")
    if ctx.env.directory.shop_name_taken(name, except_seller=seller_id):
        suggestion = _suggest_shop_name(name, ctx)
        if suggestion:  # "ya" takes it; another name typed is read as the answer
            return Parsed(
                suggestion,
                confirm=t("reg.shop_name_taken", name=name, suggestion=suggestion),
                offered=True,
            )
        return Invalid(t("reg.shop_name_taken_plain", name=name))
    return Parsed(name)


# --- category --------------------------------------------------------------------------------


def category_choices() -> tuple[Choice, ...]:
    return tuple(Choice(c.code, c.label) for c in categories())


def _ask_category(ctx: Ctx) -> Outbound:
    guess = _category_of_shop(ctx)
    if guess is not None:  # "Bakso Pak Budi": food, surely; offered first, the rest below it
        label = next(c.label for c in categories() if c.code == guess)
        others = tuple(c for c in category_choices() if c.id != guess)
        yes = Choice(guess, t("reg.category_guess_yes", category=label))
        asked = "fac.ask_category_guess" if ctx.draft.get("assisted") else "reg.ask_category_guess"
        return say(t(asked, category=label), choices=(yes, *others))
    question = t("fac.ask_category") if ctx.draft.get("assisted") else t("reg.ask_category")
    return say(question, choices=category_choices())


def _category_of_shop(ctx: Ctx) -> str | None:
    """The category the shop's name surely says ("Keripik Tempe Bu Sri"), while none is set."""
    if ctx.draft.get("category"):
        return None
    return confident_category(str(ctx.draft.get("shop_name") or ""))


def read_category(msg: Inbound, ctx: Ctx) -> Reading:
    codes = {c.code for c in categories()}
    if msg.choice in codes:
        return Parsed(msg.choice)
    guess = _category_of_shop(ctx)
    if guess is not None and parse_yes_no(msg.text or "") is True:  # "ya", "nggih" to the guess
        return Parsed(guess)
    suggested = suggest_categories(msg.text or "")
    if len(suggested) == 1:
        label = next(c.label for c in categories() if c.code == suggested[0])
        return Parsed(suggested[0], confirm=t("reg.category_confirm", category=label), offered=True)
    if suggested:
        options = tuple(c for c in category_choices() if c.id in suggested[:3])
        return Clarify(t("reg.category_which"), options)
    return Invalid(t("reg.category_unclear"))


def _also_word(text: str) -> str:
    """The word in the text that says something is added ("juga"), or ""."""
    return next((w for w in normalize(text).split() if w in words("also")), "")


def _read_shop_category(msg: Inbound, ctx: Ctx) -> Reading:
    """The shop's category; "kerajinan juga" where it has another already: a shop has one,
    so which one is asked (never replaced unasked)."""
    reading = read_category(msg, ctx)
    current = ctx.draft.get("category")
    if not (isinstance(reading, Parsed) and current and _also_word(msg.text or "")):
        return reading
    if reading.value == current:
        return reading
    options = tuple(
        c for code in (current, reading.value) for c in category_choices() if c.id == code
    )
    asked = t("reg.category_one_only", current=options[0].label, new=options[-1].label)
    return Clarify(asked, options)


# --- place ----------------------------------------------------------------------------------


def _ask_regency(ctx: Ctx) -> Outbound:
    said = _said_before(ctx, "regency_code")
    if said in regencies():  # with the yes to the terms: "... di Sidoarjo"
        label = regency_label(str(said))
        return say(t("reg.ask_regency_said", place=label), choices=(Choice(str(said), label),))
    return say(t("reg.ask_regency"))


def _regency_offered(ctx: Ctx) -> dict[str, Any] | None:
    said = _said_before(ctx, "regency_code")
    return _regency_value(said) if said in regencies() else None


def _read_regency(msg: Inbound, ctx: Ctx) -> Reading:
    if msg.choice and msg.choice in regencies():
        return Parsed(_regency_value(msg.choice))
    text = msg.text or ""
    place = _DISTRICT_MARK.split(text, maxsplit=1)[0] or text  # the part before "kec ..."
    found = regency_match(place, EAST_JAVA)
    if not (len(found.codes) == 1 and found.sure):  # "desa sukorejo kec bangil kab pasuruan"
        found = _named_regency(text) or found
    in_east_java = bool(found.codes)
    if not in_east_java:
        found = regency_match(place)  # an owner elsewhere in Indonesia
    if len(found.codes) == 1:
        code = found.codes[0]
        if found.sure and in_east_java:
            return Parsed({**_regency_value(code), "district_code": _district_in(text, code)})
        # a typo, or a place outside East Java: "makanan" is not Way Kanan without asking
        label = regency_label(code, with_province=True)
        return Parsed(_regency_value(code), confirm=t("reg.regency_confirm", place=label))
    if found.codes:
        several_provinces = len({regencies()[c].province_code for c in found.codes}) > 1
        options = tuple(Choice(c, regency_label(c, several_provinces)) for c in found.codes[:8])
        return Clarify(t("reg.regency_which", place=_asked_place(found.codes, text)), options)
    in_one = _district_deciding(text, ctx.options)
    if in_one is not None:  # "lowokwaru" to "Malang yang mana?": Kota Malang, and Lowokwaru
        return Parsed({**_regency_value(in_one[:4]), "district_code": in_one})
    return Invalid(t("reg.regency_unknown", place=_clean(msg.text)[:40]))


def _district_deciding(text: str, offered: tuple[str, ...]) -> str | None:
    """The district named, when it lies in only one of the regencies offered: its code."""
    found = [match_district(text, code) for code in offered if code in regencies()]
    named = [codes for codes in found if codes]
    return named[0][0] if len(named) == 1 and len(named[0]) == 1 else None


def _asked_place(codes: tuple[str, ...], typed: str) -> str:
    """The place a "yang mana?" names: the name the regencies share ("Malang" for Kabupaten
    and Kota Malang), never the whole message ("Di Malang Kak yang mana, Kak?")."""
    names = {regencies()[c].name for c in codes}
    if len(names) == 1:
        return names.pop()
    return capwords(without_lead("address", _clean(typed)))


# "kab pasuruan", "kota malang" anywhere in an address: the regency, wherever it is written
_REGENCY_NAMED = re.compile(
    r"\b(?:kab(?:upaten)?|kota|kodya)\b\.?\s*[^\W\d_]+"
    r"(?:\s+(?!(?:kec|kecamatan|desa|ds|jl|jln|jalan|rt|rw|no|kab|kabupaten|kota)\b)[^\W\d_]+)?",
    re.IGNORECASE,
)


def _named_regency(text: str) -> RegencyMatch | None:
    """The last "kab X" / "kota X" in the text that surely names one East Java regency (the
    last: "jl kota batu 1 kab malang" is in Kabupaten Malang)."""
    named = _last_regency_named(text)
    return regency_match(named[1][0], EAST_JAVA) if named else None


def _last_regency_named(text: str) -> tuple[str, re.Match[str]] | None:
    """That regency's code, and where the text names it."""
    for named in reversed(list(_REGENCY_NAMED.finditer(text))):
        found = regency_match(named[0], EAST_JAVA)
        if len(found.codes) == 1 and found.sure:
            return found.codes[0], named
    return None


_DISTRICT_WORD = re.compile(r"\bkec(?:amatan)?\b\.?", re.IGNORECASE)
_DISTRICT_MARK = re.compile(r",|" + _DISTRICT_WORD.pattern, re.IGNORECASE)


def _named_district(text: str) -> str:
    """What follows the last "kec" up to a comma: "jl raya 12 kec lowokwaru kota malang" ->
    "lowokwaru kota malang". (A `.*kec` pattern found the same in time growing with the
    square of the text: 0.1 s of CPU for a 5,000-character message.)"""
    marks = list(_DISTRICT_WORD.finditer(text))
    return text[marks[-1].end() :].split(",", 1)[0].strip() if marks else ""


def _district_in(text: str, regency_code: str) -> str | None:
    """The district named after the regency: 'banyuwangi, kec genteng' -> Genteng's code."""
    parts = _DISTRICT_MARK.split(text, maxsplit=1)
    if len(parts) < 2:
        return None
    codes = match_district(parts[1], regency_code)
    return codes[0] if len(codes) == 1 else None


def _regency_value(code: str) -> dict[str, Any]:
    return {
        "regency_code": code,
        "province_code": regencies()[code].province_code,
        "district_code": None,
    }


@functools.cache
def _regency_names() -> frozenset[str]:
    return frozenset(r.name.casefold() for r in regencies().values())


def _district_example(regency_code: str) -> str:
    """A district of this regency whose name is not also a regency's ("Jombang" is both)."""
    names = _regency_names()
    found = districts_by_regency().get(regency_code, [])
    return next((d.name for d in found if d.name.casefold() not in names), "-")


def _ask_district(ctx: Ctx) -> Outbound:
    code = ctx.draft["regency_code"]
    return say(t("reg.ask_district", regency=regency_label(code), example=_district_example(code)))


def _district_help(ctx: Ctx) -> Text:
    return t("reg.help.district", example=_district_example(ctx.draft["regency_code"]))


def _read_district(msg: Inbound, ctx: Ctx) -> Reading:
    regency_code = ctx.draft["regency_code"]
    if msg.choice and msg.choice.startswith(regency_code):
        return Parsed(msg.choice)
    text = msg.text or ""
    switched = _kind_switched(text, regency_code)
    if switched is not None:  # "eh bukan kota, kabupaten": Kabupaten Malang, its district asked
        return _district_in_another(switched)
    codes = match_district(text, regency_code)
    named = _named_district(text)
    if not codes:  # "jl raya sumberpucung no 12 ... kec sumberpucung": the part named, less
        codes = _district_first(named, regency_code)  # and less of it: "lowokwaru kota malang"
    if not codes:  # "waru, deket bundaran": the district first, a landmark after it
        codes = _district_first(text.split(",", 1)[0], regency_code)
    if len(codes) == 1:
        return Parsed(codes[0])
    if codes:
        options = tuple(Choice(c, (district(c) or district(codes[0])).name) for c in codes)  # type: ignore[union-attr]
        return Clarify(t("engine.pick_one"), options)
    moved = _regency_with_its_kind(text)
    if moved is not None and moved != regency_code:  # "kota batu": the regency, put right
        return _district_in_another(moved)
    return Invalid(
        t(
            "reg.district_unknown",
            place=shortened(_clean(msg.text), 40),
            regency=regency_label(regency_code),
            example=_district_example(regency_code),
        )
    )


def _district_in_another(regency_code: str) -> Stay:
    """The regency changed at its district's question: the district asked there."""
    asked = t(
        "reg.ask_district",
        regency=regency_label(regency_code),
        example=_district_example(regency_code),
    )
    return Stay(asked, keep=_regency_value(regency_code))


def _regency_with_its_kind(text: str) -> str | None:
    """ "kota malang", "kab. malang": one East Java regency named with its kind first."""
    said = normalize(text).split()
    if not said or said[0] not in _KINDS:
        return None
    found = regency_match(text, EAST_JAVA)
    return found.codes[0] if len(found.codes) == 1 and found.sure else None


# The kind of a regency as owners write it.
_KINDS = {
    "kab": "kabupaten",
    "kabupaten": "kabupaten",
    "kabupatennya": "kabupaten",
    "kota": "kota",
    "kotanya": "kota",
    "kodya": "kota",
    "kotamadya": "kota",
}
# Said around the kind meant: "eh bukan kota, kabupaten", "yang kabupaten maksudnya".
_AROUND_A_KIND = frozenset({"yang", "yg", "maksudnya", "maksud", "saya", "tapi", "tp"})


def _kind_switched(text: str, regency_code: Any) -> str | None:
    """ "eh bukan kota, kabupaten", "yang kabupaten", "kabupaten malang" said of Kota Malang:
    the regency of the same name and the other kind (Kabupaten Malang); None when the text
    says no such thing (another place named, or the kind it is already)."""
    current = regencies().get(str(regency_code or ""))
    said = normalize(text).split()
    target = _kind_meant(said, current.kind) if current else None
    if current is None or target is None:
        return None
    around = words("no") | words("softener") | words("correction") | words("should")
    rest = [w for w in said if w not in _KINDS and w not in around | _AROUND_A_KIND]
    if rest and rest != normalize(current.name).split():
        return None  # "kota batu" names another place: read as that
    alike = (r for r in regencies().values() if r.province_code == current.province_code)
    same_name = (r.code for r in alike if r.name.casefold() == current.name.casefold())
    return next((code for code in same_name if regencies()[code].kind == target), None)


def _kind_meant(said: list[str], kind_now: str) -> str | None:
    """The kind a regency's is said to be instead of `kind_now`: "kabupaten" in "bukan kota,
    kabupaten", or the other one in "bukan kota" alone; None when no other is meant."""
    no = words("no")
    denied = {_KINDS[w] for n, w in enumerate(said) if w in _KINDS and n and said[n - 1] in no}
    meant = [_KINDS[w] for n, w in enumerate(said) if w in _KINDS and not (n and said[n - 1] in no)]
    if meant:
        return meant[-1] if meant[-1] != kind_now else None
    return ("kota" if kind_now == "kabupaten" else "kabupaten") if kind_now in denied else None


def _district_first(text: str, regency_code: str) -> list[str]:
    """The districts named by the longest start of the text that names any."""
    said = text.split()
    for end in range(len(said), 0, -1):
        codes = match_district(" ".join(said[:end]), regency_code)
        if codes:
            return codes
    return []


# An address sent at the shop name's question ("Jl. Diponegoro 12"): offered at its own.
EARLY_ADDRESS = "early_address"


def _early_address(ctx: Ctx) -> str | None:
    """The address sent early, unless it was taken as the shop's name after all."""
    early = ctx.draft.get(EARLY_ADDRESS)
    if not isinstance(early, str) or early.casefold() == str(ctx.draft.get("shop_name")).casefold():
        return None
    return early


def _ask_address(ctx: Ctx) -> Outbound:
    pinned = ctx.draft.get("latitude") is not None  # the pin came: the button has done its job
    on_phone = ctx.env.channel in ("telegram", "whatsapp")
    early = _early_address(ctx)
    if early:
        question = t("reg.ask_address_early", address=early)
        choices = (Choice("early", early),)
        return say(question, choices=choices, request_location=on_phone and not pinned)
    return say(t("reg.ask_address"), request_location=on_phone and not pinned)


def _read_address(msg: Inbound, ctx: Ctx) -> Reading:
    early = _early_address(ctx)
    if early and (msg.choice == "early" or points_at_the_offer(msg.text or "")):
        msg = replace(msg, text=early, choice=None)  # "yg tadi kak": the address sent early
    keep: dict[str, Any] = {}
    if msg.location:
        keep = {"latitude": msg.location.latitude, "longitude": msg.location.longitude}
        if not msg.text:
            return Invalid(t("reg.address_location_thanks"), keep=keep)
    # "alamate pindah nang jl kartini 7": the new address after what is said before it
    address = _clean(without_lead("move", without_lead("address", msg.text or "")))
    address = _NIB_CLAUSE.sub("", address).strip()  # "…, nib blm ada": the next answer
    if len(address) < 5:
        return Invalid(t("reg.address_too_short"), keep=keep)
    if len(address) > 300:
        return Invalid(t("reg.address_too_long"), keep=keep)
    if address.islower():  # "jl. veteran no. 5 rt 2" -> "Jl. Veteran No. 5 RT 2"
        address = _RT_RW.sub(lambda m: m[0].upper(), capwords(address))
    if not _ADDRESS_MARK.search(address):  # "kan udah kirim lokasi td" is no address
        return Parsed(address, confirm=t("reg.address_confirm", address=address))
    elsewhere = _regency_elsewhere(address, ctx)
    if elsewhere is not None:  # "jl. kartini 7 kota batu" for a shop in Sidoarjo: asked
        current = regency_label(ctx.draft.get("regency_code") or "")
        confirm = t("reg.address_elsewhere", regency=elsewhere, current=current)
        return Parsed(address, confirm=confirm)
    return Parsed(address)


def _regency_elsewhere(address: str, ctx: Ctx) -> str | None:
    """The regency an address names at its end when it is not the shop's ("jl. kartini 7
    kota batu" for a shop in Sidoarjo): stored unseen, the street would sit in the wrong
    regency. None when it names none, or the shop's own (or "malang" of a Malang)."""
    named = _last_regency_named(address) or _place_at_the_end(address)
    current = str(ctx.draft.get("regency_code") or "")
    if named is None or not current or current in named[0].split():
        return None
    codes = named[0].split()
    return regency_label(codes[0]) if len(codes) == 1 else named[1][0].strip().title()


_RT_RW = re.compile(r"\b(rt|rw)\b", re.IGNORECASE)
# The NIB said after the address in one message ("…rw 5, nib blm ada"): not part of it.
_NIB_CLAUSE = re.compile(r"[,;.]?\s*\bnib\b.*$", re.IGNORECASE)
# A street, a number, a neighbourhood or a village: what an address has somewhere.
_ADDRESS_MARK = re.compile(
    r"\d|\b(jl|jln|jalan|gg|gang|rt|rw|dusun|dsn|desa|ds|kel|kelurahan|kec|perum|perumahan|"
    r"blok|kampung|kp|komplek|komp|ruko|pasar|dukuh|lingkungan|lk|krajan|no)\b",
    re.IGNORECASE,
)


def _ask_nib(ctx: Ctx) -> Outbound:
    question = t("fac.ask_nib") if ctx.draft.get("assisted") else t("reg.ask_nib")
    return say(question, choices=(Choice("__skip__", t("choice.no_nib")),))


def _read_nib(msg: Inbound, ctx: Ctx) -> Reading:
    if yes_no(ctx) is False:
        return Parsed(None)
    digits = re.sub(r"[\s.\-]", "", msg.text or "")
    if not digits.isdigit():  # "nib saya 9120 1234 5678 9": the digits in it
        digits = "".join(re.findall(r"\d", msg.text or "")) or digits
    if digits.isdigit() and len(digits) == 13:
        return Parsed(digits)
    if digits.isdigit():
        return Invalid(t("reg.nib_wrong_length", count=len(digits)))
    return Invalid(t("reg.nib_invalid"))


# --- summary and finish -------------------------------------------------------------------------


def summary_lines(data: dict[str, Any] | Any) -> tuple[Any, ...]:
    """The lines that describe a shop, for the summary and for /data_saya."""
    category = next((c.label for c in categories() if c.code == data.get("category")), "-")
    district_code = data.get("district_code")
    found = district(district_code) if district_code else None
    return (
        t("reg.summary.owner_name", value=data.get("owner_name") or "-"),
        t("reg.summary.phone", value=display_phone(data.get("phone") or "") or "-"),
        t("reg.summary.shop_name", value=data.get("shop_name") or "-"),
        t("reg.summary.category", value=category),
        t(
            "reg.summary.regency",
            value=regency_label(data["regency_code"]) if data.get("regency_code") else "-",
        ),
        t("reg.summary.district", value=found.name if found else "-"),
        t("reg.summary.address", value=data.get("address") or "-"),
        t("reg.summary.nib", value=data.get("nib") or "-"),
    )


def _summary(ctx: Ctx) -> Outbound:
    return say(t("reg.summary.title"), *summary_lines(dict(ctx.draft)), t("reg.summary.question"))


SELLER_FIELDS = (
    "owner_name",
    "phone",
    "phone_verified",
    "shop_name",
    "category",
    "province_code",
    "regency_code",
    "district_code",
    "address",
    "nib",
    "consent_version",
    "consent_at",
    "latitude",
    "longitude",
)


_SAVED = (*SELLER_FIELDS, "referral_code")
LOADED = "loaded"  # a registered shop's data as it was when "Ubah data toko" opened it


def shop_draft(seller: Mapping[str, Any] | None) -> dict[str, Any]:
    """The registered shop's data to change ("Ubah data toko"), remembering it as it was."""
    draft = dict(seller or {})
    draft[LOADED] = {key: draft.get(key) for key in _SAVED}
    return draft


def _changed(data: dict[str, Any], loaded: Any) -> dict[str, Any]:
    """Only what this person changed since they opened it: the owner, or their facilitator,
    may have saved another of its fields meanwhile, which stays."""
    if not isinstance(loaded, dict):  # opened before drafts remembered it: all of it
        return data
    return {key: value for key, value in data.items() if value != loaded.get(key)}


def _finish(ctx: Ctx) -> Outcome:
    draft = dict(ctx.draft)
    if draft.get("consent_declined"):  # remembered, so a "setuju" next is the yes after all
        return Outcome(replies=(say(t("reg.consent_declined")),), keep={DECLINED: True})
    seller_id = (ctx.env.seller or {}).get("id")
    if ctx.env.directory.shop_name_taken(draft["shop_name"], except_seller=seller_id):
        return Outcome(
            replies=(say(t("reg.shop_name_taken_plain", name=draft["shop_name"])),),
            start=FLOW_ID,
            draft=draft,
            step="shop_name",
            then=SUMMARY,  # the rest was answered already
        )
    if _another_shops(draft.get("phone"), ctx):  # taken since it was answered
        return Outcome(
            replies=(say(t("reg.phone_taken")),),
            start=FLOW_ID,
            draft=draft,
            step="phone",
            then=SUMMARY,
        )
    data = {key: draft.get(key) for key in _SAVED}
    if ctx.env.registered:
        changed = _changed(data, draft.get(LOADED))
        stored = ctx.env.seller or {}
        if not changed or all(data[key] == stored.get(key) for key in SELLER_FIELDS):
            unchanged = t("reg.unchanged", shop=draft["shop_name"])  # "simpan", no change
            return Outcome(replies=(say(unchanged),), start="menu")
        # a facilitator's menu for the shop names it as just saved, not as this turn knew it
        renamed = {"shop": draft["shop_name"]} if ctx.env.acting_for else None
        return Outcome(
            effects=(SaveSeller(changed),),
            replies=(say(t("reg.updated")),),
            start="menu",
            draft=renamed,
        )
    return Outcome(
        effects=(SaveSeller(data),),
        replies=(say(t("reg.registered", shop=draft["shop_name"])),),
        start="product",
    )


# The order of the questions, and the draft key each one fills.
ORDER = ("owner_name", "phone", "shop_name", "category", "regency", "district", "address", "nib")
_FILLS = {
    "owner_name": "owner_name",
    "phone": "phone",
    "shop_name": "shop_name",
    "category": "category",
    "regency": "regency_code",
    "district": "district_code",
    "address": "address",
    "nib": "nib",
}


def _after(step_id: str) -> Callable[[Ctx], str]:
    """The next question, skipping what imported data already answered."""

    def next_step(ctx: Ctx) -> str:
        for candidate in ORDER[ORDER.index(step_id) + 1 :]:
            known = ctx.draft.get(_FILLS[candidate]) not in (None, "")
            if ctx.draft.get("from_import") and known:
                continue
            if candidate == "phone" and ctx.draft.get("assisted"):
                continue  # the facilitator gave the owner's number first
            if candidate == "district" and ctx.draft.get("district_code"):
                continue  # named with the regency: "banyuwangi, kec genteng"
            if candidate == "phone" and ctx.env.known_phone:
                return "phone_confirm"
            return candidate
        return SUMMARY

    return next_step


def _after_consent(ctx: Ctx) -> str:
    if ctx.draft.get("consent_declined"):
        return FINISH
    return "imported" if ctx.env.imported else "owner_name"


def _after_imported(ctx: Ctx) -> str:
    if not ctx.draft.get("from_import"):
        return "owner_name"
    if not ctx.draft.get("owner_name"):
        return "owner_name"
    return _after("owner_name")(ctx)


def _after_phone_confirm(ctx: Ctx) -> str:
    return "phone" if ctx.draft.get("phone_other") else _after("phone")(ctx)


def imported_record(ctx: Ctx) -> dict[str, Any]:
    """The imported data on offer: the owner's own number's, or the one a facilitator typed."""
    return dict(ctx.draft.get("imported_record") or ctx.env.imported or {})


def _ask_imported(ctx: Ctx) -> Outbound:
    record = imported_record(ctx)
    known = {**record, "shop_name": record.get("business_name"), "phone": None}
    lines = [line for line in summary_lines(known) if line.msgid not in ("reg.summary.phone",)]
    return say(
        t("fac.imported_found") if ctx.draft.get("assisted") else t("reg.imported_found"),
        *lines,
        t("reg.imported_question"),
        choices=(Choice("yes", t("choice.use_imported")), Choice("no", t("choice.no"))),
    )


def _read_imported(msg: Inbound, ctx: Ctx) -> Reading:
    said = yes_no(ctx)
    if said is False:
        return Parsed({"from_import": False})
    if said is not True:
        return Invalid(t("reg.imported_unclear"))
    record = imported_record(ctx)
    seller_id = (ctx.env.seller or {}).get("id")
    shop = record.get("business_name") or ""
    free = 3 <= len(shop) <= 60 and not ctx.env.directory.shop_name_taken(
        shop, except_seller=seller_id
    )
    return Parsed(
        {
            "from_import": True,
            "owner_name": record.get("owner_name"),
            "shop_name": shop if free else None,
            "category": record.get("category"),
            "province_code": record.get("province_code"),
            "regency_code": record.get("regency_code"),
            "district_code": record.get("district_code"),
            "address": record.get("address"),
            "nib": record.get("nib"),
        }
    )


STEPS = {
    s.id: s
    for s in (
        Step(
            "imported",
            _ask_imported,
            _read_imported,
            slot="*",
            next=_after_imported,
            help=t("reg.help.imported"),
        ),
        Step(
            "consent",
            _ask_consent,
            _read_consent,
            slot="*",
            next=_after_consent,
            help=t("reg.help.consent"),
        ),
        Step(
            "owner_name",
            _ask_owner_name_or_said,
            _read_owner_name,
            slot="owner_name",
            next=_after("owner_name"),
            help=t("reg.help.owner_name"),
            free_text=True,
            offer=_owner_name_offered,
        ),
        Step(
            "phone_confirm",
            _ask_phone_confirm,
            _read_phone_confirm,
            slot="*",
            next=_after_phone_confirm,
            help=t("reg.help.phone"),
        ),
        Step(
            "phone",
            _ask_phone,
            _read_phone,
            slot="*",
            next=_after("phone"),
            help=t("reg.help.phone"),
        ),
        Step(
            "shop_name",
            _ask_shop_name,
            _read_shop_name,
            slot="shop_name",
            next=_after("shop_name"),
            help=t("reg.help.shop_name"),
            free_text=True,
            offer=_shop_name_said,
        ),
        Step(
            "category",
            _ask_category,
            _read_shop_category,
            slot="category",
            next=_after("category"),
            help=t("reg.help.category"),
        ),
        Step(
            "regency",
            _ask_regency,
            _read_regency,
            slot="*",
            next=_after("regency"),
            help=t("reg.help.regency"),
            offer=_regency_offered,
        ),
        Step(
            "district",
            _ask_district,
            _read_district,
            slot="district_code",
            next=_after("district"),
            help=_district_help,
            optional=True,
        ),
        Step(
            "address",
            _ask_address,
            _read_address,
            slot="address",
            next=_after("address"),
            help=t("reg.help.address"),
            free_text=True,
            takes_location=True,
            offer=_early_address,
        ),
        Step(
            "nib",
            _ask_nib,
            _read_nib,
            slot="nib",
            next=None,
            help=t("reg.help.nib"),
            optional=True,
        ),
    )
}

FIELDS = (
    Field("owner_name", t("field.owner_name"), ("owner_name",)),
    Field("phone", t("field.phone"), ("phone",), asked_at=("phone_confirm",)),
    Field("shop_name", t("field.shop_name"), ("shop_name",)),
    Field("category", t("field.category"), ("category",)),
    # a new regency asks the street again: the old one was in the old place
    Field("regency", t("field.regency"), ("regency", "district", "address")),
    Field("district", t("field.district"), ("district",)),
    Field("address", t("field.address"), ("address",)),
    Field("nib", t("field.nib"), ("nib",)),
)

# --- a change said as a sentence at the summary ------------------------------------------------

_PLACE_FIELDS = ("regency", "district", "address")


def _read_change(
    text: str, field_named: Callable[[str], tuple[str, str] | None], ctx: Ctx
) -> tuple[str, str] | list[tuple[str, str]] | None:
    """ "tokonya pindah ke kota batu": the regency, not the shop's name; "tokonya sekarang jual
    kerajinan juga": the category; "no hp 0813...", "nama saya ganti Sri": those fields; a
    street in another regency ("pindah ke jl. sudirman 5 kota batu"): the regency too; "eh
    bukan kabupaten, kota" or "kota malang" of Kabupaten Malang: Kota Malang."""
    switched = _kind_switched(text, ctx.draft.get("regency_code"))
    if switched is not None:
        return "regency", regency_label(switched)
    if _regency_with_its_kind(text) is not None:  # "kota malang": its kind said, no "which?"
        return "regency", text
    named = field_named(text)
    value = named[1] if named else text
    moved = without_lead("move", value)
    if moved != value:
        return _in_another_regency(_moved_to(new_value(moved.split()), named, field_named), ctx)
    sold = without_lead("category", value)
    if sold != value and suggest_categories(sold):
        also = _also_word(value[: len(value) - len(sold)])  # "juga jual kerajinan": kept
        return "category", " ".join(filter(None, (new_value(sold.split()), also)))
    if named is not None:
        return _in_another_regency(named, ctx)
    phone = _PHONE_IN_TEXT.search(text)
    if phone:
        return "phone", phone[0]
    return _owner_named(text)


def _moved_to(
    place: str, named: tuple[str, str] | None, field_named: Callable[[str], tuple[str, str] | None]
) -> tuple[str, str]:
    """Where the shop moved: the place field named, a regency, a street; else asked."""
    if named is not None and named[0] in _PLACE_FIELDS:  # "alamat pindah ke jl. sedati 9"
        return named[0], place
    inside = field_named(place)  # "pindah alamat jl. kartini 7"
    if inside is not None and inside[0] in _PLACE_FIELDS:
        return inside
    found = regency_match(place, EAST_JAVA)
    if len(found.codes) == 1 and found.sure:
        return "regency", place
    if _ADDRESS_MARK.search(place):
        return "address", place
    return WHICH_FIELD, ""


# After "nama", what makes it another name than the owner's: "nama toko ...".
_NOT_THE_OWNERS = frozenset({"toko", "tokonya", "usaha", "usahanya", "produk", "produknya"})


def _in_another_regency(
    change: tuple[str, str], ctx: Ctx
) -> tuple[str, str] | list[tuple[str, str]]:
    """A new address that names another regency ("jl. panglima sudirman 5 kota batu"): the
    shop moves there (its district asked again), the street is the address."""
    field_id, address = change
    if field_id != "address":
        return change
    named = _last_regency_named(address) or _place_at_the_end(address)
    if named is None or ctx.draft.get("regency_code") in named[0].split():
        return change
    _, where = named
    street = f"{address[: where.start()]} {address[where.end() :]}".strip(" ,.;-")
    if not _ADDRESS_MARK.search(street):
        return change
    district_named = _named_district(street)  # "jl. raya 5, kec junrejo": not asked again
    regency = f"{where[0]}, kec {district_named}" if district_named else where[0]
    return [("regency", regency), ("address", " ".join(street.split()))]


# What follows the last number or comma of an address: where a town may be named bare.
_AFTER_THE_NUMBER = re.compile(r"[\d,][^\d,]*$")
_WORD = re.compile(r"[^\W\d_]+")


def _place_at_the_end(address: str) -> tuple[str, re.Match[str]] | None:
    """A regency named bare at the end of an address ("jl. kartini 7 batu"): its codes
    (space-separated: "3507 3573" for "malang", asked which) and where it is written."""
    tail = _AFTER_THE_NUMBER.search(address)
    said = list(_WORD.finditer(address, tail.start())) if tail else []
    for count in (2, 1):  # "jl. raya 5 tulung agung", then "jl. raya 5 batu"
        if len(said) < count:
            continue
        begin, end = said[-count].start(), said[-1].end()
        found = regency_match(address[begin:end], EAST_JAVA)
        if found.codes and found.sure and len(found.codes) <= 2:  # a kabupaten and its kota
            where = re.compile(re.escape(address[begin:end])).match(address, begin)
            return (" ".join(found.codes), where) if where else None
    return None


def _owner_named(text: str) -> tuple[str, str] | None:
    """ "nama saya ganti Sri Wahyuni", "nama Sri Wahyuni" (the summary's "Nama:" line): the
    owner's name (a bare "saya ..." says too little)."""
    said = text.split()
    if len(said) > 1 and normalize(said[0]) == "nama" and normalize(said[1]) not in _NOT_THE_OWNERS:
        text = " ".join(said[1:])  # "nama sy Sri Wahyuni": "sy" is a lead too
        rest = without_lead("owner_name", text)
        return "owner_name", new_value(rest.split())
    rest = without_lead("owner_name", text)
    lead = normalize(text[: len(text) - len(rest)])
    if rest == text or lead in words("person_word"):
        return None
    return "owner_name", new_value(rest.split())


REGISTRATION = Flow(
    id=FLOW_ID,
    steps=STEPS,
    first="consent",
    finish=_finish,
    summary=_summary,
    fields=FIELDS,
    resume_question=t("reg.resume_question"),
    cancelled=t("reg.cancelled"),
    cancelled_edit=t("reg.edit_cancelled"),  # "pendaftaran dibatalkan" scared registered owners
    resume_edit_question=lambda ctx: t("reg.resume_edit_question"),
    confirm_cancel=True,
    read_change=_read_change,
)
