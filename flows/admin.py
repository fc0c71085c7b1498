"""/siaran: an admin writes a broadcast, sees who gets it and how long it takes, then sends."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from difflib import SequenceMatcher
from typing import Any

from flows.categories import categories
from flows.effects import CreateBroadcast
from flows.engine import (
    SUMMARY,
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
)
from flows.lexicon import lexicon, normalize, words
from flows.messages import Choice, Inbound, Outbound, Text, When, say, t
from flows.parsing import match_regency
from flows.regions import EAST_JAVA, regencies, regency_match
from flows.registration import category_choices, regency_label
from flows.send_time import (
    LATEST,
    WIB,
    at_night,
    day_without_time,
    evening_instead,
    parse_send_time,
)
from flows.steps import FieldReader

FLOW_ID = "siaran"
TEXT_MIN, TEXT_MAX = 5, 1000

SEGMENTS = (
    Choice("everyone", t("siaran.segment.everyone")),
    Choice("no_product", t("siaran.segment.no_product")),
    Choice("stalled", t("siaran.segment.stalled")),
    Choice("regency", t("siaran.segment.regency")),
    Choice("category", t("siaran.segment.category")),
    Choice("facilitator", t("siaran.segment.facilitator")),
)
# Where owners get stuck, by the conversation step they stopped at.
STALLED_STEPS = (
    Choice("step:consent", t("field.consent")),
    Choice("step:owner_name", t("field.owner_name")),
    Choice("step:shop_name", t("field.shop_name")),
    Choice("step:category", t("field.category")),
    Choice("step:regency", t("field.regency")),
    Choice("step:address", t("field.address")),
    Choice("step:photos", t("field.photos")),
    Choice("step:price", t("field.price")),
    Choice("step:description", t("field.description")),
)


def _segment_label(draft: dict[str, Any], ctx: Ctx) -> Text | str:
    segment, value = draft.get("segment"), draft.get("segment_value")
    if segment == "regency" and value in regencies():
        return t("siaran.to.regency", value=regency_label(value))
    if segment == "category":
        label = next((c.label for c in categories() if c.code == value), value or "-")
        return t("siaran.to.category", value=label)
    if segment == "stalled":
        label = next((c.label for c in STALLED_STEPS if c.id == f"step:{value}"), value or "-")
        return t("siaran.to.stalled", value=label)
    if segment == "facilitator":
        found = next((f for f in ctx.env.directory.facilitators() if f.get("code") == value), None)
        return t(
            "siaran.to.facilitator", value=_facilitator_label(found) if found else value or "-"
        )
    return next(c.label for c in SEGMENTS if c.id == segment)


# --- who: a segment, and its value when it needs one ------------------------------------------


def _ask_segment(ctx: Ctx) -> Outbound:
    return say(t("siaran.ask_segment"), choices=SEGMENTS)


def _ask_value(segment: str) -> Stay:
    keep = {"awaiting": segment}
    if segment == "stalled":
        return Stay(t("siaran.ask_stalled"), keep=keep, choices=STALLED_STEPS)
    if segment == "category":
        return Stay(t("siaran.ask_category"), keep=keep, choices=category_choices())
    if segment == "regency":
        return Stay(t("siaran.ask_regency"), keep=keep)
    return Stay(t("siaran.ask_facilitator"), keep=keep)


def _read_segment(msg: Inbound, ctx: Ctx) -> Reading:
    segments = {c.id for c in SEGMENTS}
    if msg.choice in segments:
        if msg.choice in ("everyone", "no_product"):
            return Parsed({"segment": msg.choice, "segment_value": None, "awaiting": None})
        return _ask_value(msg.choice)  # type: ignore[arg-type]
    awaiting = ctx.draft.get("awaiting")
    if awaiting is None and _says_binaan(msg.text or ""):  # "binaan bu rina": who, at once
        awaiting = "facilitator"
    if awaiting is None and regency_match(msg.text or "", EAST_JAVA).sure:
        awaiting = "regency"  # "kabupaten malang", "kab. malang": that regency's owners, at once
    if awaiting is None:
        return Invalid(t("siaran.segment_unclear"))
    value = _read_value(awaiting, msg, ctx)
    if isinstance(value, Clarify):  # "malang": which one, the regency's answer awaited
        return Stay(value.question, keep={"awaiting": awaiting}, choices=value.options)
    if isinstance(value, str):
        return Parsed({"segment": awaiting, "segment_value": value, "awaiting": None})
    return value


# --- a facilitator, by code or by name ------------------------------------------------------


def _name_words(text: str) -> list[str]:
    """The words of a name, without "bu", "pak" or "binaan": "binaan bu rina" -> ["rina"]."""
    dropped = words("person_word") | words("facilitator_segment")
    return [word for word in normalize(text).split() if word not in dropped]


def _says_binaan(text: str) -> bool:
    """ "Binaan bu rina", "binaan pendamping eko": the segment and a name in one message."""
    said = normalize(text).split()
    return bool(said) and said[0] in words("facilitator_segment") and bool(_name_words(text))


def _same_word(typed: str, word: str) -> bool:
    """ "rin" for "rina", "rinna" for "rina": the start of the word, or the word mistyped."""
    if typed == word or (len(typed) >= 3 and word.startswith(typed)):
        return True
    return len(typed) >= 4 and SequenceMatcher(None, typed, word).ratio() >= 0.8


def _facilitators_named(text: str, ctx: Ctx) -> list[dict[str, Any]]:
    typed = _name_words(text)
    if not typed:
        return []
    found = []
    for facilitator in ctx.env.directory.facilitators():
        name = _name_words(str(facilitator.get("name") or ""))
        if all(any(_same_word(word, part) for part in name) for word in typed):
            found.append(dict(facilitator))
    return found


def _facilitator_label(facilitator: Mapping[str, Any]) -> str:
    return f"{facilitator.get('name') or '-'} ({facilitator.get('code')})"


def _read_facilitator(msg: Inbound, ctx: Ctx) -> str | Reading:
    """A facilitator's code ("PDP-3515-001"), or their name, however typed ("bu rina"): the
    one it fits, or which one when it fits several."""
    facilitators = {str(f.get("code")): f for f in ctx.env.directory.facilitators()}
    picked = facilitators.get(str(msg.choice or ""))
    code = " ".join((msg.text or "").split()).upper()
    if picked is None and code and ctx.env.directory.facilitator_exists(code):
        picked = facilitators.get(code, {"code": code})
    if picked is not None:
        return str(picked["code"])
    named = _facilitators_named(msg.text or "", ctx)
    exact = [f for f in named if _name_words(str(f.get("name"))) == _name_words(msg.text or "")]
    named = exact if len(exact) == 1 else named  # "bu rina": Bu Rina, before Rina Susanti
    if len(named) == 1:
        return str(named[0]["code"])
    if named:
        options = tuple(Choice(str(f["code"]), _facilitator_label(f)) for f in named[:8])
        keep = {"awaiting": "facilitator"}
        return Stay(t("siaran.facilitator_which"), keep=keep, choices=options)
    typed = " ".join((msg.text or "").split())[:40] or "-"
    return Invalid(t("siaran.facilitator_unknown", code=typed))


def _read_value(segment: str, msg: Inbound, ctx: Ctx) -> str | Reading:
    if segment == "stalled":
        if msg.choice in {c.id for c in STALLED_STEPS}:
            return str(msg.choice).removeprefix("step:")
        return Stay(t("siaran.stalled_unclear"), choices=STALLED_STEPS)
    if segment == "category":
        if msg.choice in {c.code for c in categories()}:
            return str(msg.choice)
        return Stay(t("siaran.category_unclear"), choices=category_choices())
    if segment == "regency":
        if msg.choice in regencies():
            return str(msg.choice)
        codes = match_regency(msg.text or "", EAST_JAVA)
        if len(codes) == 1:
            return codes[0]
        if codes:
            options = tuple(Choice(c, regency_label(c, True)) for c in codes[:8])
            return Clarify(t("siaran.regency_which"), options)
        return Invalid(t("reg.regency_unknown", place=" ".join((msg.text or "").split())[:40]))
    return _read_facilitator(msg, ctx)


# --- what and when --------------------------------------------------------------------------


def _ask_text(ctx: Ctx) -> Outbound:
    return say(t("siaran.ask_text"))


# "Halo Kak {nama}": a placeholder a broadcast does not fill (every owner gets the same text).
_PLACEHOLDER = re.compile(r"\{[^{}\n]{1,30}\}")
_PLACEHOLDER_SEEN = "placeholder_seen"


def _read_text(msg: Inbound, ctx: Ctx) -> Reading:
    text = (msg.text or "").strip()
    if len(text) < TEXT_MIN:
        return Invalid(t("siaran.text_too_short"))
    if len(text) > TEXT_MAX:
        return Invalid(t("siaran.text_too_long", count=len(text), limit=TEXT_MAX))
    found = _PLACEHOLDER.search(text)
    if found and ctx.draft.get(_PLACEHOLDER_SEEN) != text:  # sent again as it is: meant so
        refused = t("siaran.text_placeholder", found=found[0])
        return Invalid(refused, keep={_PLACEHOLDER_SEEN: text})
    return Parsed(text)


def _ask_when(ctx: Ctx) -> Outbound:
    return say(t("siaran.ask_when"), choices=(Choice("now", t("choice.send_now")),))


def _read_when(msg: Inbound, ctx: Ctx) -> Reading:
    words = " ".join((msg.text or "").lower().split())
    if msg.choice == "now" or normalize(words) in lexicon().words.get("now", ()):
        return Parsed(None)
    if msg.choice and msg.choice.startswith(_AT):  # "jam 7": which one was picked
        return Parsed(msg.choice.removeprefix(_AT))
    at = parse_send_time(words, ctx.env.now)
    note = None
    if at is None and day_without_time(words):  # "rabu": that day in the morning, said so
        at = parse_send_time(f"{words} pagi", ctx.env.now)
        note = t("siaran.when_default", at=When(at.isoformat())) if at else None
    if at is None:
        return Invalid(t("siaran.when_unclear"))
    evening = evening_instead(words, ctx.env.now)
    if evening is not None:  # "jam 7" at 11:08: tomorrow morning, or tonight?
        return _which_half(at, evening, ctx)
    if at < ctx.env.now - timedelta(minutes=1):
        return Invalid(t("siaran.when_past"))
    if at > ctx.env.now + LATEST:
        return Invalid(t("siaran.when_too_late"))
    return Parsed(at.isoformat(), note=note)


_AT = "at:"  # the id of a time offered to pick


def _which_half(morning: datetime, evening: datetime, ctx: Ctx) -> Clarify:
    """ "Jam 7 yang mana?": tomorrow's 07:00 or tonight's 19:00, soonest first."""
    render = ctx.env.render  # the buttons are kept in the state: plain text
    options = tuple(
        Choice(f"{_AT}{at.isoformat()}", render(t("siaran.when_option", at=When(at.isoformat()))))
        for at in sorted((morning, evening))
    )
    hour = morning.astimezone(WIB).hour
    later = evening.astimezone(WIB).strftime("%H.%M")
    return Clarify(t("siaran.when_which_half", hour=hour, evening=later), options)


def _read_change(text: str, field_named: FieldReader, ctx: Ctx) -> tuple[str, str] | None:
    """A time typed at the preview ("nanti sore", "sekarang", "besok jam 8") changes when it
    is sent; anything else names its field first ("ubah pesan")."""
    words = " ".join(text.lower().split())
    now_word = normalize(words) in lexicon().words.get("now", ())
    if now_word or parse_send_time(words, ctx.env.now) or day_without_time(words):
        return "when", text
    return field_named(text)


# --- preview and send -------------------------------------------------------------------------


def _eta(seconds: float) -> Text:
    if seconds < 90:
        return t("siaran.eta_seconds", seconds=max(1, math.ceil(seconds)))
    return t("siaran.eta_minutes", minutes=math.ceil(seconds / 60))


def _summary(ctx: Ctx) -> Outbound:
    draft = dict(ctx.draft)
    count, seconds = ctx.env.directory.audience(draft["segment"], draft.get("segment_value"))
    when = draft.get("when")
    nobody = [t("siaran.preview_nobody")] if count == 0 else [t("siaran.preview_question")]
    return say(
        t("siaran.preview_title"),
        t("siaran.preview_to", segment=_segment_label(draft, ctx)),
        t("siaran.preview_count", count=count),
        t("siaran.preview_eta", eta=_eta(seconds)),
        t("siaran.preview_when_at", at=When(when)) if when else t("siaran.preview_when_now"),
        *([t("siaran.preview_night")] if when and at_night(datetime.fromisoformat(when)) else []),
        t("siaran.preview_text", text=draft["text"]),
        *nobody,
    )


def _finish(ctx: Ctx) -> Outcome:
    draft = dict(ctx.draft)
    count, _ = ctx.env.directory.audience(draft["segment"], draft.get("segment_value"))
    if count == 0:  # nobody would get it: never sent, other recipients asked for
        return Outcome(
            replies=(say(t("siaran.nobody")), _ask_segment(ctx)),
            start=FLOW_ID,
            draft={k: v for k, v in draft.items() if k != "awaiting"},
            step="segment",
            then=SUMMARY,
            asked=("segment", "text", "when", SUMMARY),
        )
    effect = CreateBroadcast(
        segment=draft["segment"],
        value=draft.get("segment_value"),
        text=draft["text"],
        send_at=draft.get("when"),
    )
    when = draft.get("when")
    reply = t("siaran.scheduled", at=When(when)) if when else t("siaran.sending")
    return Outcome(effects=(effect,), replies=(say(reply),))


SIARAN = Flow(
    id=FLOW_ID,
    steps={
        s.id: s
        for s in (
            Step(
                "segment",
                _ask_segment,
                _read_segment,
                slot="*",
                next="text",
                help=t("siaran.help.segment"),
            ),
            Step(
                "text",
                _ask_text,
                _read_text,
                slot="text",
                next="when",
                help=t("siaran.help.text"),
                verbatim=True,
            ),
            Step("when", _ask_when, _read_when, slot="when", next=None, help=t("siaran.help.when")),
        )
    },
    first="segment",
    finish=_finish,
    summary=_summary,
    read_change=_read_change,
    fields=(
        Field("segment", t("field.segment"), ("segment",)),
        Field("text", t("field.text"), ("text",)),
        Field("when", t("field.when"), ("when",)),
    ),
    resume_question=t("siaran.resume_question"),
    cancelled=t("siaran.cancelled"),
)
