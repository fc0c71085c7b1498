"""The owner's rights over their data (UU PDP) and their language."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flows.effects import EraseMyData, SetLocale
from flows.engine import FINISH, Ctx, Env, Flow, Invalid, Outcome, Parsed, Reading, Step, yes_no
from flows.lexicon import lexicon, normalize
from flows.messages import Choice, Inbound, Outbound, When, say, t
from flows.registration import summary_lines

LOCALES = (("id", "Bahasa Indonesia"), ("en", "English"))


def my_data(env: Env, draft: Mapping[str, Any]) -> Outbound:
    """Everything stored about the owner, in plain words (/data_saya)."""
    seller = env.seller
    if seller:
        lines: list[Any] = [t("account.my_data_title"), *summary_lines(dict(seller))]
        if seller.get("consent_at"):
            lines.append(t("account.consent_given", at=When(seller["consent_at"])))
        lines.append(t("account.products_count", count=len(env.products)))
        lines.append(t("account.how_to_erase"))
        return say(*lines)
    if draft.get("consent_version"):
        return say(
            t("account.my_data_draft"), *summary_lines(dict(draft)), t("account.how_to_erase")
        )
    return say(t("account.nothing_stored"))


def _ask_erase(ctx: Ctx) -> Outbound:
    if not ctx.env.registered:
        return say(
            t("account.erase_confirm_draft"),
            choices=(Choice("yes", t("choice.yes_erase")), Choice("no", t("choice.no"))),
        )
    return say(
        t("account.erase_confirm", shop=(ctx.env.seller or {}).get("shop_name", "")),
        choices=(Choice("yes", t("choice.yes_erase")), Choice("no", t("choice.no"))),
    )


def _read_erase(msg: Inbound, ctx: Ctx) -> Reading:
    said = yes_no(ctx)
    if said is True or lexicon().answer("erase", normalize(msg.text)) == "yes":
        return Parsed(True)
    if said is False:
        return Parsed(False)
    return Invalid(t("account.erase_unclear"))


def _finish_erase(ctx: Ctx) -> Outcome:
    if ctx.draft.get("confirmed"):
        return Outcome(effects=(EraseMyData(),), replies=(say(t("account.erased")),))
    return Outcome(replies=(say(t("account.erase_kept")),))


ERASE = Flow(
    id="erase",
    steps={
        "confirm": Step(
            "confirm",
            _ask_erase,
            _read_erase,
            slot="confirmed",
            next=FINISH,
            help=t("account.erase_help"),
        )
    },
    first="confirm",
    finish=_finish_erase,
    cancelled=t("account.erase_kept"),
)


def _ask_language(ctx: Ctx) -> Outbound:
    return say(t("account.ask_language"), choices=tuple(Choice(c, label) for c, label in LOCALES))


def _read_language(msg: Inbound, ctx: Ctx) -> Reading:
    codes = dict(LOCALES)
    if msg.choice in codes:
        return Parsed(msg.choice)
    named = lexicon().answer("language", normalize(msg.text))
    return Parsed(named) if named else Invalid(t("account.language_unclear"))


def _finish_language(ctx: Ctx) -> Outcome:
    return Outcome(
        effects=(SetLocale(ctx.draft["locale"]),), replies=(say(t("account.language_set")),)
    )


LANGUAGE = Flow(
    id="language",
    steps={"choose": Step("choose", _ask_language, _read_language, slot="locale", next=FINISH)},
    first="choose",
    finish=_finish_language,
    cancelled=t("account.language_kept"),
)
