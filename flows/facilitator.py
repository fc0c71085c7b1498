"""Facilitators (pendamping): registering an owner in person, their owners, helping a shop.

A facilitator registers the owner's shop from their own phone. It stays unpublished until the
owner agrees on their own phone (SETUJU) or tells the facilitator the one-time code we sent
them. While "helping" a shop, products the facilitator adds belong to that shop.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from flows.effects import ActFor, GiveConsent, RegisterForOwner
from flows.engine import (
    FINISH,
    SUMMARY,
    Ctx,
    Env,
    Field,
    Flow,
    Invalid,
    Outcome,
    Parsed,
    Reading,
    Step,
)
from flows.lexicon import normalize, words
from flows.menu import read_pick
from flows.messages import Choice, Inbound, Outbound, Text, say, t
from flows.parsing import is_mobile, parse_phone
from flows.product import new_product
from flows.registration import FIELDS as SHOP_FIELDS
from flows.registration import (
    NAMED_WITH_PHONE,
    SELLER_FIELDS,
    display_phone,
    name_beside_phone,
    shop_draft,
    summary_lines,
)
from flows.registration import STEPS as SHOP_STEPS

ASSISTED_ID, HELPING_ID, OWNERS_ID, CONSENT_CODE_ID = (
    "assisted",
    "helping",
    "binaan",
    "consent_code",
)
CODE_LENGTH = 6
# A facilitator's invite code (`pelapak facilitator add` prints it): letters and digits that
# are hard to mix up when read aloud (no 0/O, 1/I/L), with at least one of each.
INVITE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
INVITE_LENGTH = 8
_INVITE = re.compile(
    rf"(?=[^0-9]*[0-9])(?=[^A-Z]*[A-Z])[{INVITE_ALPHABET}]{{{INVITE_LENGTH}}}", re.IGNORECASE
)
_SHOWN_OWNERS = 10
_SHOWN_LEADS = 5


def helped_shop(ctx: Ctx) -> str:
    return str(ctx.draft.get("shop") or (ctx.env.acting_for or {}).get("shop_name") or "-")


# --- /daftarkan: registering an owner -------------------------------------------------------


def _ask_owner_phone(ctx: Ctx) -> Outbound:
    return say(t("fac.ask_owner_phone"))


def owner_phone_problem(phone: str, env: Env, shop_id: int | None = None) -> Text | None:
    """Why this number cannot be an owner's the facilitator registers (or corrects, for the
    shop `shop_id`), or None: a landline, the facilitator's own, another shop's."""
    if not is_mobile(phone):
        return t("fac.owner_phone_not_mobile")
    if phone == env.known_phone:
        return t("fac.owner_phone_is_yours")
    existing = env.directory.seller_with_phone(phone)
    if existing is not None and (shop_id is None or existing.get("id") != shop_id):
        return phone_taken(existing, env)
    return None


def phone_taken(existing: Mapping[str, Any], env: Env) -> Text:
    """The number is another shop's: named only when it is one of this facilitator's own
    owners; whose shop any other number is, is nobody else's business."""
    own = existing.get("facilitator_code") == (env.facilitator or {}).get("code")
    if own and existing.get("facilitator_code"):
        return t("fac.owner_phone_taken", shop=existing.get("shop_name") or "-")
    return t("fac.owner_phone_registered")


def _read_owner_phone(msg: Inbound, ctx: Ctx) -> Reading:
    phone = parse_phone(msg.contact_phone or msg.text or "")
    if not phone:
        return Invalid(t("fac.owner_phone_invalid"))
    problem = owner_phone_problem(phone, ctx.env)
    if problem is not None:
        return Invalid(problem)
    record = ctx.env.directory.imported_with_phone(phone)
    return Parsed(
        {
            "assisted": True,  # the owner's own questions read differently from here on
            "phone": phone,
            "phone_verified": False,
            "imported_record": dict(record) if record else None,
            "from_import": False,
            # "0812... pak budi": offered at the owner's name question, never taken unasked
            NAMED_WITH_PHONE: name_beside_phone(msg.text or "") if msg.text else None,
        }
    )


def _after_owner_phone(ctx: Ctx) -> str:
    return "imported" if ctx.draft.get("imported_record") else "owner_name"


def _assisted_summary(ctx: Ctx) -> Outbound:
    return say(t("fac.summary_title"), *summary_lines(dict(ctx.draft)), t("fac.summary_question"))


# What the facilitator fills in; consent (and a verified number) only the owner can give.
_REGISTERED_FIELDS = tuple(
    key for key in SELLER_FIELDS if key not in ("phone_verified", "consent_version", "consent_at")
)


def _finish_assisted(ctx: Ctx) -> Outcome:
    draft = dict(ctx.draft)
    directory = ctx.env.directory
    if directory.shop_name_taken(draft["shop_name"]):
        return Outcome(
            replies=(say(t("reg.shop_name_taken_plain", name=draft["shop_name"])),),
            start=ASSISTED_ID,
            draft=draft,
            step="shop_name",
        )
    existing = directory.seller_with_phone(draft["phone"])
    if existing is not None:
        return Outcome(replies=(say(phone_taken(existing, ctx.env)),))
    data = {key: draft.get(key) for key in _REGISTERED_FIELDS}
    return Outcome(
        effects=(RegisterForOwner(data),),
        replies=(
            say(
                t(
                    "fac.registered",
                    shop=draft["shop_name"],
                    phone=display_phone(draft["phone"]),
                )
            ),
        ),
        start=HELPING_ID,
        draft={"shop": draft["shop_name"]},
    )


ASSISTED = Flow(
    id=ASSISTED_ID,
    steps={
        "owner_phone": Step(
            "owner_phone",
            _ask_owner_phone,
            _read_owner_phone,
            slot="*",
            next=_after_owner_phone,
            help=t("fac.help.owner_phone"),
        ),
        **{k: s for k, s in SHOP_STEPS.items() if k not in ("consent", "phone_confirm", "phone")},
    },
    first="owner_phone",
    finish=_finish_assisted,
    summary=_assisted_summary,
    fields=tuple(
        Field(f.id, f.label, ("owner_phone",)) if f.id == "phone" else f for f in SHOP_FIELDS
    ),
    resume_question=t("fac.resume_question"),
    cancelled=t("fac.cancelled"),
    confirm_cancel=True,
)


# --- helping one shop -----------------------------------------------------------------------


def _helping_choices(ctx: Ctx) -> tuple[Choice, ...]:
    """The helped shop's menu; no owner's code once the owner said yes (a shop saved this very
    turn is not known here yet: it waits for them)."""
    waiting = (ctx.env.acting_for or {}).get("status") != "active"
    return (
        Choice("product", t("menu.add_product")),
        Choice("products", t("menu.my_products")),
        Choice("edit_shop", t("menu.edit_shop")),
        *((Choice("consent_code", t("fac.menu.consent_code")),) if waiting else ()),
        Choice("done", t("fac.menu.done")),
    )


def _ask_helping(ctx: Ctx) -> Outbound:
    return say(t("fac.helping_question", shop=helped_shop(ctx)), choices=_helping_choices(ctx))


def _read_helping(msg: Inbound, ctx: Ctx) -> Reading:
    shop = ctx.env.acting_for or {}
    awaiting = shop.get("status") == "awaiting_consent"
    code = read_code(msg.text) or code_in_sentence(msg.text, named=True) if awaiting else None
    if code is not None:  # the owner read it out and they typed just that
        return Parsed({"picked": "consent_code", "code": code})
    return read_pick(msg, _helping_choices(ctx), t("fac.helping_unclear"))


def _finish_helping(ctx: Ctx) -> Outcome:
    shop = ctx.env.acting_for
    if shop is None:  # they stopped helping, or the shop is gone
        return Outcome(replies=(say(t("fac.not_helping")),))
    picked = ctx.draft.get("picked")
    if picked == "done":
        return Outcome(
            effects=(ActFor(None),),
            replies=(say(t("fac.done_helping", shop=shop.get("shop_name") or "-")),),
        )
    if picked == "consent_code":
        if shop.get("status") != "awaiting_consent":
            return Outcome(
                replies=(say(t("fac.already_agreed", shop=shop.get("shop_name") or "-")),),
                start=HELPING_ID,
            )
        if ctx.draft.get("code"):
            return _finish_code(ctx)
        return Outcome(start=CONSENT_CODE_ID)
    if picked == "edit_shop":
        return Outcome(start="registration", draft=shop_draft(ctx.env.seller), step=SUMMARY)
    if picked == "products":
        return Outcome(start="product_list")
    return new_product(ctx.draft, ctx.env)


HELPING = Flow(
    id=HELPING_ID,
    steps={
        "choose": Step(
            "choose",
            _ask_helping,
            _read_helping,
            slot="*",
            next=FINISH,
            help=t("fac.help.helping"),
            takes_photos=True,
        )
    },
    first="choose",
    finish=_finish_helping,
    cancelled=t("menu.closed"),
)


# --- the owner's one-time code --------------------------------------------------------------


def read_code(text: str | None) -> str | None:
    """The code typed alone ("482913", "482 913")."""
    digits = re.sub(r"[\s.\-]", "", text or "")
    return digits if digits.isdigit() and len(digits) == CODE_LENGTH else None


# Words a name may start with that already address the person ("Bu Rina"): no "Kak" before.
_TITLES = frozenset(
    {
        *("bu", "ibu", "buk", "bunda", "pak", "bapak", "mas", "mbak", "mba", "mbakyu", "kak"),
        *("kakak", "bang", "abang", "cak", "ning", "dik", "dek", "bude", "pakde", "om", "tante"),
    }
)


def first_name(name: str | None) -> str:
    """The word to follow "Kak" in a greeting: "Pak Joko Santoso" -> "Joko"; "" when there
    is none."""
    return next((w for w in (name or "").split() if normalize(w) not in _TITLES), "")


def addressed(name: str) -> Text | str:
    """How to greet someone by name: "Kak Dewi Lestari", but "Bu Rina" as it is."""
    first = normalize(name).split()[:1]
    return name if first and first[0] in _TITLES else t("address.kak", name=name)


def invite_code(text: str) -> str | None:
    """The invite code a message is, whole ("ENB25EXG", "enb25exg"), in capitals; else None."""
    typed = text.strip()
    return typed.upper() if _INVITE.fullmatch(typed) else None


# A token that is meant as an invite code: letters and digits mixed, a letter short or long.
_NEAR_INVITE = re.compile(
    rf"(?=[^0-9]*[0-9])(?=[^a-z]*[a-z])[a-z0-9]{{{INVITE_LENGTH - 1},{INVITE_LENGTH + 1}}}",
    re.IGNORECASE,
)
_AROUND_INVITE = 6  # words, the code included: "ini kode undangan saya dari admin ENB25EXG"


def invite_attempt(text: str) -> str | None:
    """The invite code a message is meant to be, in capitals: typed alone or in a few words
    that say what it is ("kode saya ENB25EXG", "pendamping enb25exg"), whether or not it has
    the right shape ("ENB25EX" a letter short); else None."""
    tokens = [token.strip(".,:;!?*\"'()") for token in text.split()]
    if not 0 < len(tokens) <= _AROUND_INVITE:
        return None
    codes = [token for token in tokens if _NEAR_INVITE.fullmatch(token) and _typed_from(token)]
    if len(codes) != 1:
        return None
    rest = normalize(" ".join(token for token in tokens if token != codes[0])).split()
    return codes[0].upper() if set(rest) <= words("invite") else None


def _typed_from(token: str) -> bool:
    """Copied from an invite code, slips included: at most one character the codes never
    have ("ENB25EX0"), where a word is many ("toko123")."""
    return sum(ch not in INVITE_ALPHABET for ch in token.upper()) <= 1


# Digits written in groups ("482 913", "482-913") are one number.
_BETWEEN_DIGITS = re.compile(r"(?<=\d)[\s.\-]+(?=\d)")
_SHORT = 8  # words, the code included: "ini kak kodenya dari bu siti 482913"


def code_in_sentence(text: str | None, named: bool = False) -> str | None:
    """The code in a short sentence ("kodenya 482913", "ini kodenya: 482 913"): its one
    number of six digits. With `named`, only when the sentence says it is a code ("kode",
    "otp"): where a code is not the question, "harga 150000" is a price."""
    said = _BETWEEN_DIGITS.sub("", text or "")
    numbers = re.findall(r"\d+", said)
    if len(numbers) != 1 or len(numbers[0]) != CODE_LENGTH or len(said.split()) > _SHORT:
        return None
    if named and not set(normalize(said).split()) & words("code"):
        return None
    return numbers[0]


def _ask_code(ctx: Ctx) -> Outbound:
    return say(t("fac.ask_consent_code", shop=helped_shop(ctx)))


def _read_code(msg: Inbound, ctx: Ctx) -> Reading:
    code = read_code(msg.text) or code_in_sentence(msg.text)
    return Parsed(code) if code else Invalid(t("fac.consent_code_invalid"))


def _finish_code(ctx: Ctx) -> Outcome:
    shop = ctx.env.acting_for
    if shop is None:
        return Outcome(replies=(say(t("fac.not_helping")),))
    return Outcome(
        effects=(GiveConsent(int(shop["id"]), code=ctx.draft["code"]),), start=HELPING_ID
    )


CONSENT_CODE = Flow(
    id=CONSENT_CODE_ID,
    steps={
        "code": Step(
            "code", _ask_code, _read_code, slot="code", next=FINISH, help=t("fac.help.code")
        )
    },
    first="code",
    finish=_finish_code,
    cancelled=t("menu.closed"),
)


# --- /binaan: the facilitator's owners ------------------------------------------------------


def _progress(owner: dict[str, Any]) -> Any:
    if owner.get("status") == "awaiting_consent":
        return t("fac.progress.awaiting", products=owner.get("products", 0))
    if not owner.get("products"):
        return t("fac.progress.no_product")
    return t("fac.progress.products", count=owner["products"], live=owner.get("live", 0))


def _owners(ctx: Ctx) -> list[dict[str, Any]]:
    facilitator = ctx.env.facilitator or {}
    found = ctx.env.directory.facilitator_owners(int(facilitator.get("id") or 0))
    return [dict(owner) for owner in found]


def _ask_owners(ctx: Ctx) -> Outbound:
    facilitator = ctx.env.facilitator or {}
    owners = _owners(ctx)
    lines: list[Any] = []
    if owners:
        lines.append(t("fac.owners_title", count=len(owners)))
        for n, owner in enumerate(owners[:_SHOWN_OWNERS], start=1):
            lines.append(
                t(
                    "fac.owner_line",
                    n=n,
                    shop=owner.get("shop_name") or "-",
                    owner=owner.get("owner_name") or "-",
                )
            )
            lines.append(_progress(owner))
        if len(owners) > _SHOWN_OWNERS:
            lines.append(t("fac.owners_more", count=len(owners) - _SHOWN_OWNERS))
    else:
        lines.append(t("fac.owners_none"))
    leads_count, leads = ctx.env.directory.facilitator_leads(
        int(facilitator.get("id") or 0), _SHOWN_LEADS
    )
    if leads_count:
        lines.append(t("fac.leads_title", count=leads_count))
        for lead in leads:
            lines.append(
                t(
                    "fac.lead_line",
                    business=lead.get("business_name") or "-",
                    owner=lead.get("owner_name") or "-",
                    phone=display_phone(lead.get("phone") or "") or "-",
                )
            )
    lines.append(t("fac.owners_question") if owners else t("fac.owners_question_none"))
    choices = [
        Choice(f"s:{owner['id']}", str(owner.get("shop_name") or "-"))
        for owner in owners[:_SHOWN_OWNERS]
    ]
    choices.append(Choice("new", t("fac.menu.register_owner")))
    return say(*lines, choices=choices)


def _read_owners(msg: Inbound, ctx: Ctx) -> Reading:
    if msg.choice == "new":
        return Parsed({"picked": "new"})
    seller_id = _shop_choice(msg.choice)
    if seller_id is not None:
        owner = next((o for o in _owners(ctx) if o["id"] == seller_id), None)
        if owner is not None:
            return Parsed({"picked": seller_id, "shop": owner.get("shop_name")})
    return Invalid(t("fac.owners_unclear"))


def _shop_choice(choice: str | None) -> int | None:
    """The shop id in the button data `s:<id>`; None for anything else (`s:abc`, `s:`)."""
    if not choice or not choice.startswith("s:"):
        return None
    digits = choice[2:]
    return int(digits) if digits.isascii() and digits.isdigit() and len(digits) <= 18 else None


def _finish_owners(ctx: Ctx) -> Outcome:
    picked = ctx.draft.get("picked")
    if picked == "new":
        return Outcome(start=ASSISTED_ID)
    return Outcome(
        effects=(ActFor(int(picked)),),  # type: ignore[arg-type]
        start=HELPING_ID,
        draft={"shop": ctx.draft.get("shop")},
    )


OWNERS = Flow(
    id=OWNERS_ID,
    steps={
        "pick": Step(
            "pick", _ask_owners, _read_owners, slot="*", next=FINISH, help=t("fac.help.owners")
        )
    },
    first="pick",
    finish=_finish_owners,
    cancelled=t("menu.closed"),
)


# --- commands -------------------------------------------------------------------------------


def facilitator_only(env: Env) -> Outbound | None:
    """The refusal a non-facilitator gets, or None when they are one."""
    return None if env.facilitator else say(t("role.facilitator_only"))
