"""Declared conversations: steps, a summary, and the pure machinery that runs them.

A flow never does I/O. `advance_flow` takes the saved `State`, one `Inbound` and the
`Env` the host prepared, and returns the new state, the replies and the effects that the
host carries out in one transaction.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Protocol

from rapidfuzz import fuzz

from flows.effects import Effect
from flows.messages import (
    Choice,
    Inbound,
    Outbound,
    Text,
    label_from_json,
    label_to_json,
    say,
    t,
)
from flows.parsing import parse_yes_no

# --- what the host provides ------------------------------------------------------------


class Directory(Protocol):
    """Read-only questions a flow may ask of the stored data."""

    def shop_name_taken(self, name: str, *, except_seller: int | None = None) -> bool: ...

    def seller_with_phone(self, phone: str) -> Mapping[str, Any] | None:
        """A registered or awaiting-consent shop with this number, if any."""
        ...

    def imported_with_phone(self, phone: str) -> Mapping[str, Any] | None:
        """Government MSME data for this number, if any."""
        ...

    def facilitator_owners(self, facilitator_id: int) -> Sequence[Mapping[str, Any]]:
        """The shops a facilitator registered, with their progress."""
        ...

    def facilitator_leads(
        self, facilitator_id: int, limit: int
    ) -> tuple[int, Sequence[Mapping[str, Any]]]:
        """Imported businesses assigned to a facilitator and not registered yet."""
        ...

    def facilitator_exists(self, code: str) -> bool: ...

    def audience(self, segment: str, value: str | None) -> tuple[int, float]:
        """How many a broadcast would reach (opted-out left out) and seconds to send."""
        ...


@dataclass(frozen=True)
class Env:
    """Everything a flow may know about the world for one message."""

    now: datetime
    channel: str
    directory: Directory
    known_phone: str | None = None
    profile_name: str | None = None
    seller: Mapping[str, Any] | None = None
    products: tuple[Mapping[str, Any], ...] = ()
    pause: timedelta = timedelta(hours=6)
    locale: str = "id"
    render: Callable[[Text | str], str] = str  # the host's translator, for drafts it writes
    opted_out: bool = False  # no reminders or broadcasts; conversations still work
    imported: Mapping[str, Any] | None = None  # government MSME data matching their number
    is_admin: bool = False
    facilitator: Mapping[str, Any] | None = None  # {id, code, name, regency_code} when one
    acting_for: Mapping[str, Any] | None = None  # the owner's shop a facilitator works on
    consent_request: Mapping[str, Any] | None = None  # a facilitator's registration for them

    @property
    def registered(self) -> bool:
        return self.seller is not None


# --- how a step reads an answer ------------------------------------------------------------


@dataclass(frozen=True)
class Parsed:
    """The answer was read; `confirm` asks "betul?" first when reading involved guessing."""

    value: Any
    confirm: Text | None = None


@dataclass(frozen=True)
class Invalid:
    """The answer could not be used; `reason` says what to send instead."""

    reason: Text
    keep: Mapping[str, Any] = field(default_factory=dict)  # draft updates worth keeping


@dataclass(frozen=True)
class Stay:
    """Stay on this step: say `message`, keep `keep` in the draft (e.g. a photo received)."""

    message: Text
    keep: Mapping[str, Any] = field(default_factory=dict)
    choices: tuple[Choice, ...] = ()
    photo: str | None = None


@dataclass(frozen=True)
class Clarify:
    """The answer fits several things; ask which one, with these options."""

    question: Text
    options: tuple[Choice, ...]


Reading = Parsed | Invalid | Clarify | Stay


@dataclass(frozen=True)
class Ctx:
    draft: Mapping[str, Any]
    env: Env


@dataclass(frozen=True)
class Step:
    id: str
    ask: Callable[[Ctx], Outbound]
    read: Callable[[Inbound, Ctx], Reading]
    slot: str | None = None
    next: str | Callable[[Ctx], str] | None = None  # None: go to the summary
    help: Text | None = None
    skippable: bool = False  # "lewati" stores None
    takes_photos: bool = False


@dataclass(frozen=True)
class Field:
    """A line of the summary the owner can change, and the steps that ask it again."""

    id: str
    label: Text
    steps: tuple[str, ...]


@dataclass(frozen=True)
class Outcome:
    replies: tuple[Outbound, ...] = ()
    effects: tuple[Effect, ...] = ()
    start: str | None = None  # flow to begin next
    draft: Mapping[str, Any] | None = None  # its starting draft
    step: str | None = None  # where to begin it (its first step when None)


@dataclass(frozen=True)
class Flow:
    id: str
    steps: Mapping[str, Step]
    first: str
    finish: Callable[[Ctx], Outcome]
    summary: Callable[[Ctx], Outbound] | None = None
    fields: tuple[Field, ...] = ()
    resume_question: Text = field(default_factory=lambda: t("engine.resume_question"))
    cancelled: Text = field(default_factory=lambda: t("engine.cancelled"))


SUMMARY = "summary"
FINISH = "__finish__"  # a step's `next` that ends the flow without a summary


@dataclass
class State:
    """Where one person is: persisted after every message."""

    flow: str | None = None
    step: str | None = None
    draft: dict[str, Any] = field(default_factory=dict)
    history: list[str] = field(default_factory=list)
    pending: dict[str, Any] | None = None
    edit_queue: list[str] = field(default_factory=list)
    updated_at: datetime | None = None

    def meta(self) -> dict[str, Any]:
        return {"history": self.history, "pending": self.pending, "edit_queue": self.edit_queue}

    @classmethod
    def load(
        cls,
        flow: str | None,
        step: str | None,
        draft: dict[str, Any] | None,
        meta: dict[str, Any] | None,
        updated_at: datetime | None,
    ) -> State:
        meta = meta or {}
        return cls(
            flow=flow,
            step=step,
            draft=dict(draft or {}),
            history=list(meta.get("history", [])),
            pending=meta.get("pending"),
            edit_queue=list(meta.get("edit_queue", [])),
            updated_at=updated_at,
        )


@dataclass
class Result:
    state: State
    replies: list[Outbound] = field(default_factory=list)
    effects: list[Effect] = field(default_factory=list)


# --- words that work at every step -----------------------------------------------------------

CANCEL, BACK, HELP, MENU, EDIT, SKIP = "cancel", "back", "help", "menu", "edit", "skip"
_GLOBAL_WORDS = {
    CANCEL: {"batal", "cancel", "gak jadi", "ga jadi", "tidak jadi", "nggak jadi", "batalkan"},
    BACK: {"kembali", "back", "balik", "mundur", "sebelumnya"},
    HELP: {"bantuan", "help", "tolong", "bingung", "?"},
    MENU: {"menu", "menu utama"},
    EDIT: {"ubah", "edit", "ganti", "koreksi"},
    SKIP: {"lewati", "skip", "lewat", "tidak ada", "gak ada", "ga ada", "nggak ada", "belum ada"},
}


def normalize_command(text: str | None) -> str:
    """'/Batal!' -> 'batal'; keeps inner spaces."""
    if not text:
        return ""
    cleaned = re.sub(r"[^\w\s?]", " ", text.strip().lower().lstrip("/"))
    cleaned = cleaned.split("@")[0]  # "/batal@PelapakBot"
    return " ".join(cleaned.split())


def global_word(inbound: Inbound) -> tuple[str | None, str]:
    """Which global word the message is, and what follows it ('ubah harga' -> edit, 'harga')."""
    if inbound.choice and inbound.choice.startswith("__"):
        return inbound.choice.strip("_"), ""
    words = normalize_command(inbound.text)
    for kind, options in _GLOBAL_WORDS.items():
        if words in options:
            return kind, ""
    head, _, rest = words.partition(" ")
    if head in _GLOBAL_WORDS[EDIT] and rest:
        return EDIT, rest
    return None, ""


def yes_no(msg: Inbound) -> bool | None:
    """The person's yes or no, by button ('yes' / 'no') or in their own words."""
    if msg.choice in ("yes", "no"):
        return msg.choice == "yes"
    return None if msg.choice else parse_yes_no(msg.text or "")


# --- choices ----------------------------------------------------------------------------------


def resolve_choice(inbound: Inbound, choices: tuple[Choice, ...], labels: list[str]) -> Inbound:
    """Turn a typed number, label or close match into the chosen option's id."""
    if inbound.choice or not inbound.text or not choices:
        return inbound
    text = normalize_command(inbound.text)
    if text.isdigit() and 1 <= int(text) <= len(choices):
        return replace(inbound, choice=choices[int(text) - 1].id)
    normalized = [normalize_command(label) for label in labels]
    for choice, label in zip(choices, normalized, strict=True):
        if text == label or text == choice.id:
            return replace(inbound, choice=choice.id)
    containing = [c for c, label in zip(choices, normalized, strict=True) if text in label.split()]
    if len(containing) == 1 and len(text) >= 3:
        return replace(inbound, choice=containing[0].id)
    scored = sorted(
        ((fuzz.ratio(text, label), c) for c, label in zip(choices, normalized, strict=True)),
        key=lambda sc: -sc[0],
    )
    if scored and scored[0][0] >= 85 and (len(scored) == 1 or scored[1][0] < scored[0][0]):
        return replace(inbound, choice=scored[0][1].id)
    return inbound


# --- running a flow ----------------------------------------------------------------------------

YES_CHOICES = (Choice("yes", t("choice.yes")), Choice("no", t("choice.no")))
RESUME_CHOICES = (Choice("yes", t("choice.continue")), Choice("no", t("choice.restart")))
SUMMARY_CHOICES = (
    Choice("save", t("choice.save")),
    Choice("__edit__", t("choice.edit")),
    Choice("__cancel__", t("choice.cancel")),
)


UNSUPPORTED = {
    "voice": t("input.unsupported.voice"),
    "audio": t("input.unsupported.voice"),
    "sticker": t("input.unsupported.sticker"),
    "video": t("input.unsupported.video"),
    "document": t("input.unsupported.document"),
    "other": t("input.unsupported.other"),
}


def _with_step_hint(out: Outbound, step: Step) -> Outbound:
    if step.skippable:
        return replace(out, lines=(*out.lines, t("engine.skip_hint")))
    return out


def ask(flow: Flow, state: State, env: Env) -> Outbound:
    """The question for the current step (or the summary)."""
    ctx = Ctx(state.draft, env)
    if state.step == SUMMARY and flow.summary:
        summary = flow.summary(ctx)
        return replace(summary, choices=SUMMARY_CHOICES)
    step = flow.steps[state.step or flow.first]
    return _with_step_hint(step.ask(ctx), step)


def current_choices(flow: Flow, state: State, env: Env) -> tuple[Choice, ...]:
    pending = state.pending or {}
    if pending.get("kind") == "clarify":
        return tuple(Choice(o["id"], label_from_json(o["label"])) for o in pending["options"])
    if pending.get("kind") == "resume":
        return RESUME_CHOICES
    if pending.get("kind") == "confirm":
        return YES_CHOICES
    if pending.get("kind") == "edit":
        return tuple(Choice(f.id, f.label) for f in flow.fields)
    return ask(flow, state, env).choices


def begin(flow: Flow, env: Env, draft: Mapping[str, Any] | None = None) -> Result:
    """Start a flow at its first step."""
    state = State(flow=flow.id, step=flow.first, draft=dict(draft or {}), updated_at=env.now)
    return Result(state, [ask(flow, state, env)])


def _goto(flow: Flow, state: State, step_id: str, env: Env, record: bool = True) -> None:
    if record and state.step and state.step != step_id:
        state.history.append(state.step)
    state.step = step_id
    state.pending = None


def _next_step(flow: Flow, state: State, step: Step, env: Env) -> str:
    if state.edit_queue:
        return state.edit_queue.pop(0)
    if state.step != SUMMARY and state.history.count(SUMMARY):
        return SUMMARY  # edits made after the summary go straight back to it
    nxt = step.next
    if callable(nxt):
        nxt = nxt(Ctx(state.draft, env))
    return nxt or SUMMARY


def _store(flow: Flow, state: State, step: Step, value: Any, env: Env, result: Result) -> None:
    if step.slot:
        if isinstance(value, dict) and step.slot == "*":
            state.draft.update(value)
        else:
            state.draft[step.slot] = value
    nxt = _next_step(flow, state, step, env)
    if nxt == FINISH or (nxt == SUMMARY and flow.summary is None):
        _finish(flow, state, env, result)
        return
    _goto(flow, state, nxt, env)
    result.replies.append(ask(flow, state, env))


def _finish(flow: Flow, state: State, env: Env, result: Result) -> None:
    outcome = flow.finish(Ctx(state.draft, env))
    result.replies.extend(outcome.replies)
    result.effects.extend(outcome.effects)
    result.state = State(updated_at=env.now)
    if outcome.start:
        result.state.flow = outcome.start
        result.state.draft = dict(outcome.draft or {})
        result.state.step = outcome.step  # None: the router opens it at its first step


def _choice_labels(choices: tuple[Choice, ...], render: Callable[[Text | str], str]) -> list[str]:
    return [render(c.label) for c in choices]


def advance_flow(flow: Flow, state: State, inbound: Inbound, env: Env) -> Result:
    """Take one message inside a flow."""
    result = Result(state)
    choices = current_choices(flow, state, env)
    inbound = resolve_choice(inbound, choices, _choice_labels(choices, env.render))
    word, rest = global_word(inbound)
    pending = state.pending or {}

    if word == CANCEL:
        result.state = State(updated_at=env.now)
        result.replies.append(say(flow.cancelled))
        return result
    if word == HELP:
        step = flow.steps.get(state.step or "")
        help_text = step.help if step and step.help else t("engine.help_general")
        result.replies += [say(help_text), _reask(flow, state, env)]
        return result
    if word == BACK:
        return _back(flow, state, env, result)
    if word == EDIT and flow.fields and (state.step == SUMMARY or state.history.count(SUMMARY)):
        return _edit(flow, state, env, result, rest)

    kind = pending.get("kind")
    if kind == "resume":
        if inbound.choice == "yes" or parse_yes_no(inbound.text or "") is True:
            state.pending = None
            result.replies.append(ask(flow, state, env))
            return result
        if inbound.choice == "no" or parse_yes_no(inbound.text or "") is False:
            restarted = begin(flow, env)
            restarted.replies.insert(0, say(t("engine.restarting")))
            return restarted
        state.pending = None  # they simply answered the question: carry on
    if kind == "edit":
        chosen = next((f for f in flow.fields if f.id == inbound.choice), None)
        if chosen is None:
            result.replies.append(_edit_menu(flow, state, t("engine.edit_which_again")))
            return result
        state.edit_queue = list(chosen.steps[1:])
        _goto(flow, state, chosen.steps[0], env)
        result.replies.append(ask(flow, state, env))
        return result

    if state.step == SUMMARY:
        if inbound.choice == "save" or parse_yes_no(inbound.text or "") is True:
            _finish(flow, state, env, result)
            return result
        result.replies.append(say(t("engine.summary_unclear")))
        result.replies.append(ask(flow, state, env))
        return result

    step = flow.steps[state.step or flow.first]
    if kind == "confirm":
        yes = inbound.choice == "yes" or parse_yes_no(inbound.text or "") is True
        no = inbound.choice == "no" or parse_yes_no(inbound.text or "") is False
        if yes:
            value = pending["value"]
            state.pending = None
            _store(flow, state, step, value, env, result)
            return result
        state.pending = None
        if no:
            result.replies.append(say(t("engine.confirm_no"), *ask(flow, state, env).lines))
            return result
        # anything else is a fresh answer to the same question

    if word == SKIP and step.skippable:
        _store(flow, state, step, None, env, result)
        return result
    if inbound.unsupported:
        result.replies += [
            say(UNSUPPORTED.get(inbound.unsupported, UNSUPPORTED["other"])),
            _reask(flow, state, env),
        ]
        return result
    if (inbound.photos or inbound.rejected_photos) and not step.takes_photos:
        result.replies += [say(t("input.photo_not_now")), _reask(flow, state, env)]
        return result
    if inbound.location and not inbound.text and step.id != "address":
        result.replies += [say(t("input.location_not_now")), _reask(flow, state, env)]
        return result

    reading = step.read(inbound, Ctx(state.draft, env))
    if isinstance(reading, Invalid):
        state.draft.update(reading.keep)
        reask = ask(flow, state, env)
        result.replies.append(replace(reask, lines=(reading.reason,)))
        return result
    if isinstance(reading, Stay):
        state.draft.update(reading.keep)
        # remember the offered buttons so a typed "pakai" or "1" picks them
        state.pending = _options(reading.choices) if reading.choices else None
        result.replies.append(say(reading.message, choices=reading.choices, photo=reading.photo))
        return result
    if isinstance(reading, Clarify):
        state.pending = _options(reading.options)
        result.replies.append(say(reading.question, choices=reading.options))
        return result
    if reading.confirm is not None:
        state.pending = {"kind": "confirm", "value": reading.value}
        result.replies.append(say(reading.confirm, choices=YES_CHOICES))
        return result
    state.pending = None
    _store(flow, state, step, reading.value, env, result)
    return result


def _options(choices: tuple[Choice, ...]) -> dict[str, Any]:
    return {
        "kind": "clarify",
        "options": [{"id": c.id, "label": label_to_json(c.label)} for c in choices],
    }


def _reask(flow: Flow, state: State, env: Env) -> Outbound:
    pending = state.pending or {}
    if pending.get("kind") == "clarify":
        options = tuple(Choice(o["id"], label_from_json(o["label"])) for o in pending["options"])
        return say(t("engine.pick_one"), choices=options)
    if pending.get("kind") == "edit":
        return _edit_menu(flow, state, t("engine.edit_which"))
    return ask(flow, state, env)


def _back(flow: Flow, state: State, env: Env, result: Result) -> Result:
    if state.pending and state.pending.get("kind") in ("clarify", "confirm", "edit"):
        state.pending = None
        result.replies.append(ask(flow, state, env))
        return result
    if state.edit_queue or (state.history and SUMMARY in state.history):
        state.edit_queue = []
        _goto(flow, state, SUMMARY, env, record=False)
        result.replies.append(ask(flow, state, env))
        return result
    if not state.history:
        result.replies += [say(t("engine.back_at_start")), ask(flow, state, env)]
        return result
    state.step = state.history.pop()
    state.pending = None
    result.replies.append(ask(flow, state, env))
    return result


def _edit_menu(flow: Flow, state: State, question: Text) -> Outbound:
    state.pending = {"kind": "edit"}
    return say(question, choices=tuple(Choice(f.id, f.label) for f in flow.fields))


def _edit(flow: Flow, state: State, env: Env, result: Result, rest: str) -> Result:
    if rest:
        fields = tuple(Choice(f.id, f.label) for f in flow.fields)
        probe = resolve_choice(
            Inbound(user_key="", channel="", text=rest), fields, _choice_labels(fields, env.render)
        )
        chosen = next((f for f in flow.fields if f.id == probe.choice), None)
        if chosen:
            if SUMMARY not in state.history and state.step != SUMMARY:
                state.history.append(SUMMARY)
            state.edit_queue = list(chosen.steps[1:])
            _goto(flow, state, chosen.steps[0], env)
            result.replies.append(ask(flow, state, env))
            return result
    result.replies.append(_edit_menu(flow, state, t("engine.edit_which")))
    return result


def is_paused(state: State, env: Env) -> bool:
    """True when the owner left a flow mid-way long enough ago to ask before going on."""
    return bool(
        state.flow
        and state.step
        and state.updated_at
        and env.now - state.updated_at > env.pause
        and (state.draft or state.history)
    )
