"""The pure machinery that runs a declared conversation: questions, answers, edits, summary.

The declarations (Env, Step, Flow, readings) live in `flows/steps.py` and are re-exported
here. A flow never does I/O. `advance_flow` takes the saved `State`, one message (as the
`Utterance` the router interpreted once, with the raw `Inbound` beside it) and the `Env` the
host prepared, and returns the new state, the replies and the effects that the host carries
out in one transaction.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import replace
from functools import cache
from typing import Any

from flows.interpret import (
    Command,
    FreeText,
    GlobalWord,
    Keyword,
    No,
    Nothing,
    Photos,
    Picked,
    Pin,
    Unsupported,
    Utterance,
    Yes,
    interpret,
    pick_choice,
    read_text,
    without_softeners,
)
from flows.lexicon import (
    BACK,
    CANCEL,
    EDIT,
    HELP,
    SKIP,
    lexicon,
    normalize,
    without_closing,
    words,
)
from flows.messages import Choice, Inbound, Outbound, Text, say, t
from flows.state import (
    CancelAsked,
    Confirm,
    EditMenu,
    Options,
    Pending,
    RestartAsked,
    Resume,
    State,
)
from flows.steps import (
    EARLY,
    FINISH,
    SUMMARY,
    WHICH_FIELD,
    Change,
    Clarify,
    Ctx,
    Directory,
    Env,
    Field,
    Flow,
    Invalid,
    Outcome,
    Parsed,
    Reading,
    Result,
    Stay,
    Step,
    said_word,
    yes_no,
)

# --- questions and choices ------------------------------------------------------------------

YES_CHOICES = (Choice("yes", t("choice.yes")), Choice("no", t("choice.no")))
RESUME_CHOICES = (Choice("yes", t("choice.continue")), Choice("no", t("choice.restart")))
RESUME_EDIT_CHOICES = (
    Choice("yes", t("choice.continue")),
    Choice("no", t("choice.discard_changes")),
)
CANCEL_CHOICES = (Choice("yes", t("choice.cancel_yes")), Choice("no", t("choice.cancel_no")))
RESTART_CHOICES = (Choice("yes", t("choice.restart_yes")), Choice("no", t("choice.cancel_no")))
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


def ask(flow: Flow, state: State, env: Env) -> Outbound:
    """The question for the current step (or the summary)."""
    ctx = Ctx(state.draft, env)
    if state.step == SUMMARY and flow.summary:
        return replace(flow.summary(ctx), choices=SUMMARY_CHOICES)
    step = flow.steps[state.step or flow.first]
    out = step.ask(ctx)
    if step.optional:
        return replace(out, lines=(*out.lines, t("engine.skip_hint")))
    return out


def current_choices(flow: Flow, state: State, env: Env) -> tuple[Choice, ...]:
    """The buttons open right now, so a typed number or label can pick one."""
    match state.pending:
        case Options(options):
            return options
        case Resume():
            return RESUME_EDIT_CHOICES if resumes_an_edit(flow, state, env) else RESUME_CHOICES
        case Confirm():
            return YES_CHOICES
        case CancelAsked():
            return CANCEL_CHOICES
        case RestartAsked():
            return RESTART_CHOICES
        case EditMenu():
            return _field_choices(_editable(flow, state))
    return ask(flow, state, env).choices


def _open_step_takes_free_text(flow: Flow, state: State) -> bool:
    step = flow.steps.get(state.step or "")
    return bool(step and step.free_text)


def takes_free_text(flow: Flow, state: State) -> bool:
    """True when the open question's answer is data (a name): choices must match whole."""
    return state.pending is None and _open_step_takes_free_text(flow, state)


def begin(flow: Flow, env: Env, draft: Mapping[str, Any] | None = None) -> Result:
    """Start a flow at its first step."""
    state = State(flow=flow.id, step=flow.first, draft=dict(draft or {}), updated_at=env.now)
    return Result(state, [ask(flow, state, env)])


def is_paused(state: State, env: Env) -> bool:
    """True when the owner left a flow mid-way long enough ago to ask before going on."""
    return bool(
        state.flow
        and state.step
        and state.updated_at
        and env.now - state.updated_at > env.pause
        and (state.draft or state.history)
    )


# --- taking one message ------------------------------------------------------------------------


def advance_flow(flow: Flow, state: State, inbound: Inbound, env: Env, said: Utterance) -> Result:
    """Take one message inside a flow; `said` is the router's reading of it."""
    result = Result(state)
    fixed = _fixed_midway(flow, state, inbound)
    if fixed is not None:  # "keripik tempe pak budi, eh salah, Keripik Tempe Bu Sum"
        inbound, said = fixed, read_text(fixed.text or "")
    if _asks_back(flow, state, inbound, said):
        inbound, said = _question_or_answer(flow, state, inbound)
    if isinstance(said, Keyword) and said.kind == "keep_old" and changing_one_answer(state):
        return _undo_change(flow, state, env, result)  # "eh ga jadi, tetap yang lama"
    if isinstance(said, Keyword) and said.kind == "dont_know":  # "gak tau kak"
        step = flow.steps.get(state.step or "")
        said = GlobalWord(SKIP, means_no=True) if step and step.optional else GlobalWord(HELP)
    if _put_off(flow, state, said):  # "nanti aja": kept as it is, for later
        state.pending = Resume(later=True)
        result.replies.append(say(t("engine.later")))
        return result
    match said:
        case GlobalWord(kind=kind, means_no=means_no) if kind == CANCEL:
            return _cancel_word(flow, state, inbound, env, result, means_no)
        case GlobalWord(kind=kind) if kind == HELP:
            return _explain(flow, state, env, result)
        case GlobalWord(kind=kind) if kind == BACK:
            return _back(flow, state, env, result)
        case GlobalWord(kind=kind, rest=rest, correction=True) if kind == EDIT and flow.fields:
            return _correction(flow, state, inbound, env, result, rest)
        case GlobalWord(kind=kind, rest=rest) if kind == EDIT and flow.fields:
            return _edit(flow, state, env, result, rest)
    return _answer(flow, state, inbound, said, env, result)


# A slip fixed in the same message, after a comma: ", eh salah, ...", ", maksudnya ...".
# ("jangan, salah pencet" is a no, not a fix: "salah" alone needs its comma.)
_FIXED_MIDWAY = re.compile(
    r"[,;.]\s*(?:eh\s+salah\s*[,:]?|salah\s*[,:]|maaf\s+salah\s*[,:]?|ralat\s*[,:]?"
    r"|maksudnya\s*[,:]?|maksud\s+saya\s*[,:]?)\s*",
    re.I,
)


def _fixed_midway(flow: Flow, state: State, inbound: Inbound) -> Inbound | None:
    """The message with only what follows its last correction, or None when it has none (or
    the open question keeps its answer as written: a description, a broadcast)."""
    step = flow.steps.get(state.step or "")
    if step is not None and step.verbatim:
        return None
    parts = _FIXED_MIDWAY.split(inbound.text or "")
    if len(parts) < 2 or not parts[-1].strip() or not parts[0].strip():
        return None
    return replace(inbound, text=parts[-1].strip())


def _correction(
    flow: Flow, state: State, inbound: Inbound, env: Env, result: Result, rest: str
) -> Result:
    """ "Eh salah, Siti Aminah": this answer, fixed; "eh salah, harganya 20rb": that field. The
    field of the open question named with its value ("eh salah, nomornya 0813-5555-1212" at
    "Nomor HP Kakak ..., betul?") answers the open question with that value."""
    named = _field_named(flow, state, env, rest)
    if named is not None and not (named[1] and _asked_here(flow, state, named[0])):
        state.changes = []  # another change now: none said before it is made after
        return _open_field(flow, state, env, result, *named)
    before = _name_just_given(flow, state) if named is None else None
    fixes_before = before is not None and _readable(flow, state, env, before, rest)
    if before and fixes_before and not _plainly_answers(flow, state, env, rest):
        return _fix_name_just_given(flow, state, env, result, before, rest)  # not "eh salah, 2"
    text = named[1] if named is not None else rest
    fixed = replace(inbound, text=text)
    return _answer(flow, state, fixed, read_text(text), env, result)


def _name_just_given(flow: Flow, state: State) -> str | None:
    """The field of the name (or address) answered just before this question, when nothing
    else is open: "eh salah, Kue Basah Dewi" at the category after the shop's name fixes that
    name; nothing was said yet to this question, so there is nothing of it to fix."""
    if state.pending is not None or changing_one_answer(state) or not state.history:
        return None
    step, before = flow.steps.get(state.step or ""), flow.steps.get(state.history[-1])
    if step is None or before is None or step.free_text:
        return None
    if not before.free_text or before.verbatim or before.slot in (None, "*"):
        return None
    return next((f.id for f in _editable(flow, state) if f.steps[0] == before.id), None)


def _plainly_answers(flow: Flow, state: State, env: Env, text: str) -> bool:
    """The open question reads the text as its answer without a guess ("2" at the category,
    13 digits at the NIB); "Kue Basah Dewi" is only guessed to be food."""
    step = flow.steps[state.step or flow.first]
    message = Inbound(user_key="", channel=env.channel, text=text)
    reading = step.read(message, Ctx(state.draft, env, read_text(text)))
    return isinstance(reading, Parsed) and reading.confirm is None


def _fix_name_just_given(
    flow: Flow, state: State, env: Env, result: Result, field_id: str, typed: str
) -> Result:
    """ "Eh salah, Kue Basah Dewi" at the category: the shop's name changed, said so, and this
    question asked again (a "betul?" of the name, a taken one, is asked first)."""
    asked_here, field = state.step, next(f for f in flow.fields if f.id == field_id)
    _open_field(flow, state, env, result, field_id, typed)
    if state.step == asked_here and state.pending is None and result.replies:
        value = str(state.draft.get(flow.steps[field.steps[0]].slot or "") or "")
        fixed = say(t("engine.answer_fixed", field=field.label, value=value))
        result.replies.insert(len(result.replies) - 1, fixed)
    return result


def _another_field(flow: Flow, state: State, env: Env, inbound: Inbound) -> tuple[str, str] | None:
    """A number for another field answered before, named first ("harga naik 2rb" at the
    stock's question or its "betul?", "no hp 0813..." at the NIB): that field and its value,
    to change it (this question comes back after). None where a name or an address is asked
    (any words may be one), and for a field the open "betul?" proposes too ("stoknya 6" to
    "Harga Rp350.000, stok 5 ya?")."""
    step = flow.steps.get(state.step or "")
    text = (inbound.text or "").strip()
    if step is None or step.free_text or step.verbatim or not re.match(r"[^\W\d_]", text):
        return None
    named = _field_named(flow, state, env, text)
    if named is None or _asked_here(flow, state, named[0]) or not re.search(r"\d", named[1]):
        return None
    field = next((f for f in _editable(flow, state) if f.id == named[0]), None)
    if field is None:
        return None
    guess = state.pending.value if isinstance(state.pending, Confirm) else None
    if isinstance(guess, dict) and flow.steps[field.steps[0]].slot in guess:
        return None
    return named


def _asked_here(flow: Flow, state: State, field_id: str) -> bool:
    """The open question is (one of) the field's own: its first step or one asking it too."""
    field = next((f for f in flow.fields if f.id == field_id), None)
    return field is not None and state.step in (field.steps[0], *field.asked_at)


def _answer(
    flow: Flow, state: State, inbound: Inbound, said: Utterance, env: Env, result: Result
) -> Result:
    """An answer to what is open: the pending question first, then the summary or the step."""
    if _restart_word(flow, state, inbound, said):
        return _restart(flow, state, env, result)
    if isinstance(state.pending, CancelAsked | RestartAsked) and _goes_on(inbound):
        said = No()  # "lanjutin aja": carry on, never "yes, throw it away"
    answered = _answer_menu_or_later(flow, state, inbound, said, env, result)
    if answered is not None:
        return answered
    match state.pending, said:
        case RestartAsked(), Yes():
            return _restarted(flow, env, state)
        case RestartAsked(), No():
            state.pending = None
            result.replies += [say(t("engine.restart_kept")), ask(flow, state, env)]
            return result
        case RestartAsked(), _:
            state.pending = None  # they answered the question instead: carry on with it
        case CancelAsked(), Yes():
            return _cancelled(flow, env, result)
        case CancelAsked(), No():
            return _cancel_kept(flow, state, env, result)
        case CancelAsked(), _:  # "Toko Budi Jaya": never taken unseen while dropping is asked
            result.replies.append(say(t("engine.cancel_sure_again"), choices=CANCEL_CHOICES))
            return result
        case Resume(), Yes():
            state.pending = None
            result.replies.append(ask(flow, state, env))
            return result
        case Resume(), No() | Keyword(kind="restart") if resumes_an_edit(flow, state, env):
            return _cancelled(flow, env, result)  # the change dropped, what is stored kept
        case Resume(), No() | Keyword(kind="restart") | Command(action="opt_in"):
            return _restarted(flow, env, state)
        case Resume(), _ if _open_step_takes_free_text(flow, state):
            state.pending = None  # "maaf baru sempat" is no shop name: ask the question again
            result.replies.append(ask(flow, state, env))
            return result
        case None | Confirm(), FreeText() if named := _another_field(flow, state, env, inbound):
            state.pending = None  # "harga naik 2rb" at the stock: the price, never the stock
            return _open_field(flow, state, env, result, *named)
        case Confirm(), _:
            answered = _answer_confirm(flow, state, inbound, said, env, result)
            if answered is not None:
                return answered
            state.pending = None  # they simply answered the question: carry on
        case Resume(), _:
            state.pending = None  # they simply answered the question: carry on
    if state.step == SUMMARY:
        return _answer_summary(flow, state, inbound, said, env, result)
    return _answer_step(flow, state, inbound, said, env, result)


def _answer_menu_or_later(
    flow: Flow, state: State, inbound: Inbound, said: Utterance, env: Env, result: Result
) -> Result | None:
    """An answer to "Mau ubah yang mana?", or "lanjut" after "nanti aja"; None for the rest."""
    if isinstance(state.pending, EditMenu):
        return _answer_edit_menu(flow, state, inbound, said, env, result)
    return result if _back_from_later(flow, state, inbound, said, env, result) else None


def _back_from_later(
    flow: Flow, state: State, inbound: Inbound, said: Utterance, env: Env, result: Result
) -> bool:
    """After "nanti aja": "lanjut" (or a bare yes where a name is asked) asks the question
    again (True); any other message is read as if nothing were open (False)."""
    if state.pending != Resume(later=True):
        return False
    state.pending = None
    greeting = without_softeners(normalize(inbound.text or "")) in words("greeting")
    if _goes_on(inbound) or greeting or (said == Yes() and _open_step_takes_free_text(flow, state)):
        result.replies.append(ask(flow, state, env))  # "halo": back, so the question again
        return True
    return False


def _answer_edit_menu(
    flow: Flow, state: State, inbound: Inbound, said: Utterance, env: Env, result: Result
) -> Result:
    """An answer to "Mau ubah yang mana?": a field, a field with its new value, "simpan"
    (nothing to change after all: the summary again), a photo, or the menu again."""
    match said:
        case Picked(id="save") | Yes() | Keyword(kind="save"):
            state.pending = None
            result.replies.append(ask(flow, state, env))
            return result
        case Picked(id=field_id):
            return _open_field(flow, state, env, result, field_id)
        case FreeText() | Keyword(kind="now") if changes := _changes_named(
            flow, state, env, inbound.text or ""
        ):
            return _open_change(flow, state, env, result, changes)  # "alamat jl. kartini 7"
    added = _photo_at_summary(flow, state, inbound, said, env, result)
    if added is None:
        result.replies.append(_which_field_again(flow, state, env, inbound.text or ""))
    return result


def _cancel_word(
    flow: Flow, state: State, inbound: Inbound, env: Env, result: Result, means_no: bool
) -> Result:
    """ "Batal", or "gak jadi": cancel the form (asking first when answers would be lost), or
    never mind what is being asked."""
    if changing_one_answer(state):
        return _undo_change(flow, state, env, result)  # the change, not the form
    if means_no and state.pending == RestartAsked():  # to "mulai lagi dari awal?": no
        return _answer(flow, state, inbound, No(), env, result)
    if state.pending == CancelAsked():
        if means_no:  # "gak jadi" to "yakin dibatalkan?": never mind, carry on
            return _cancel_kept(flow, state, env, result)
        return _cancelled(flow, env, result)  # "batal" again: yes, cancel
    if flow.confirm_cancel and (state.history or state.draft):
        state.pending = CancelAsked()  # one word must not throw away a shop's answers
        editing = flow.editing(Ctx(state.draft, env)) if flow.editing else env.registered
        sure = t("engine.cancel_sure_edit") if editing else t("engine.cancel_sure")
        result.replies.append(say(sure, choices=CANCEL_CHOICES))
        return result
    return _cancelled(flow, env, result)


def _asks_back(flow: Flow, state: State, inbound: Inbound, said: Utterance) -> bool:
    """A question is the owner asking back, never the answer: where a name or an address is
    asked for (a free-text step filling one field), and in an owner's form when it starts
    with a yes or a no ("boleh dikosongi?", "gak bayar kan?"). A description (several
    fields, "*") may well ask something: "Mau yang pedas?". An open "betul?" reads its own
    answers."""
    step = flow.steps.get(state.step or "")
    if step is None or state.pending is not None or not _a_question(inbound):
        return False
    naming = step.free_text and step.slot != "*"
    # an owner's form, where the bot offers no text of its own: an admin's broadcast text
    # ("Sudah upload produk hari ini?") and a description are what they are
    deciding = isinstance(said, Yes | No) and flow.confirm_cancel and step.offer is None
    return naming or deciding


_ASKED = "_asked_back"  # the question back that got the step's help: where, and its words


def _question_or_answer(flow: Flow, state: State, inbound: Inbound) -> tuple[Inbound, Utterance]:
    """A question back is explained ("harus ya?" at the shop's name: help, asked again); where
    a name is asked, the very same text sent again after the help is the answer after all
    ("Siti Aminah?" twice is her name), without its question mark."""
    asked = {"step": state.step, "text": normalize(inbound.text)}
    step = flow.steps[state.step or flow.first]
    if state.draft.get(_ASKED) == asked and step.free_text and step.slot != "*":
        del state.draft[_ASKED]
        text = re.sub(r"[?？][^\w]*$", "", (inbound.text or "").strip()).strip()
        return replace(inbound, text=text), read_text(text)
    state.draft[_ASKED] = asked
    return inbound, GlobalWord(HELP)


def _put_off(flow: Flow, state: State, said: Utterance) -> bool:
    """ "Nanti aja", "besok aja" in a form (a shop's, a product's) whose open question does
    not read it itself: not now, nothing stored, the question kept."""
    if not (isinstance(said, Keyword) and said.kind == "later" and flow.confirm_cancel):
        return False
    step = flow.steps.get(state.step or "")
    return step is None or "later" not in step.takes_words


def _goes_on(inbound: Inbound) -> bool:
    """ "Lanjut", "lanjutin aja kak", "terusin": go on with what is being filled in."""
    phrase = without_softeners(normalize(inbound.text or ""))
    return lexicon().answer("product_action", phrase) == "go_on"  # the same go-on words


def _restart_word(flow: Flow, state: State, inbound: Inbound, said: Utterance) -> bool:
    """ "Mulai dari awal", or a bare "ulang" where no photo is asked for, inside a form: never
    data. ("Foto ulang" or "kirim ulang" at the price is about a photo, not the whole form.)"""
    if not flow.confirm_cancel:
        return False
    match said:
        case Keyword(kind="restart") | Command(action="opt_in", slash=False):  # "mulai lagi"
            return True
        case Keyword(kind="retake"):  # "ulang" at a photo means send that photo again
            step = flow.steps.get(state.step or "")
            bare = without_softeners(normalize(inbound.text or "")) == "ulang"
            return bare and (step is None or not step.takes_photos)
    return False


def _restart(flow: Flow, state: State, env: Env, result: Result) -> Result:
    """Start the form again, asking first when answers would be lost; at the summary or while
    changing one answer nothing is thrown away: the edit menu, or back to the summary."""
    if state.pending == Resume(later=True):  # "nanti aja" asked nothing: "yakin?" is asked
        state.pending = None
    if isinstance(state.pending, Resume) and resumes_an_edit(flow, state, env):
        return _cancelled(flow, env, result)  # "mulai ulang" to a change: the change dropped
    if isinstance(state.pending, Resume | RestartAsked):  # asked already: this is the answer
        return _restarted(flow, env, state)
    if state.step == SUMMARY:
        result.replies.append(_edit_menu(flow, state, t("engine.edit_which")))
        return result
    if changing_one_answer(state):
        return _back(flow, state, env, result)
    if not (state.history or state.draft):
        return _restarted(flow, env, state)
    state.pending = RestartAsked()
    result.replies.append(say(t("engine.restart_sure"), choices=RESTART_CHOICES))
    return result


def resumes_an_edit(flow: Flow, state: State, env: Env) -> bool:
    """Whether going on after a pause goes on changing something stored (a listed product,
    the shop's data): then "no" drops the change instead of starting a new one."""
    if flow.resume_edit_question is None:
        return False
    ctx = Ctx(state.draft, env)
    return flow.editing(ctx) if flow.editing else env.registered


def resume_question(flow: Flow, state: State, env: Env) -> Outbound:
    """ "Mau lanjut?" after a long pause, with its buttons; for a change of something stored,
    said what is being changed."""
    if flow.resume_edit_question is not None and resumes_an_edit(flow, state, env):
        question = flow.resume_edit_question(Ctx(state.draft, env))
        return say(question, choices=RESUME_EDIT_CHOICES)
    return say(flow.resume_question, choices=RESUME_CHOICES)


def _restarted(flow: Flow, env: Env, state: State | None = None) -> Result:
    """The form from its first question; what it replaces (a stored draft) is kept to be
    replaced, never left beside it."""
    kept = flow.restart_keeps(Ctx(state.draft, env)) if state and flow.restart_keeps else {}
    restarted = begin(flow, env, kept)
    restarted.replies.insert(0, say(t("engine.restarting")))
    return restarted


def _answer_confirm(
    flow: Flow, state: State, inbound: Inbound, said: Utterance, env: Env, result: Result
) -> Result | None:
    """An answer to "betul?": yes stores the guess, no (maybe with the right answer) drops it,
    another answer replaces it; None when they simply answered the question instead."""
    match state.pending, said:
        case Confirm(value=value, question=question), Yes(pure=False) if question and inbound.text:
            return _yes_and_more(flow, state, inbound, env, result, question)
        case Confirm(value), Yes():
            return _take_guess(flow, state, value, env, result)
        case Confirm(question=question), No(pure=False) if question and inbound.text:
            rest = _after_words(inbound.text, "no")  # "mboten, nembelas ewu": no, and the answer
            if rest:
                fixed = replace(inbound, text=rest)
                return _answer_while_confirming(
                    flow, state, fixed, read_text(rest), env, result, question
                )
            return _guess_refused(flow, state, env, result)
        case Confirm(), No():
            return _guess_refused(flow, state, env, result)
        case Confirm(value=value, offered=True), Keyword(kind="whatever"):
            return _take_guess(flow, state, value, env, result)  # "terserah": what was offered
        case Confirm(question=question), GlobalWord() | Keyword() | Nothing() if question:
            result.replies.append(say(t("engine.confirm_again"), question, choices=YES_CHOICES))
            return result
        case Confirm(value=value), FreeText(text=text) if points_at_the_offer(text):
            return _take_guess(flow, state, value, env, result)  # "pakai yang itu", no yes
        case Confirm(question=question), FreeText(text=text) if question and text.rstrip().endswith(
            "?"
        ):
            # "maksudnya?": a question back is no answer (and never a shop's name)
            result.replies.append(say(t("engine.confirm_again"), question, choices=YES_CHOICES))
            return result
        case Confirm(question=question), FreeText() if question:
            return _answer_while_confirming(flow, state, inbound, said, env, result, question)
    return None


def _yes_and_more(
    flow: Flow, state: State, inbound: Inbound, env: Env, result: Result, question: Text | str
) -> Result:
    """A yes with more words to "betul?". "Ya, tapi 30rb aja": the yes was only a start, the
    rest corrects the guess, read like "bukan, 30rb"; "iya, eh 30rb ding" (a value other than
    the guess) too; "ya, Sumber Rejeki" where a name is asked: a name of their own. "Iya pake
    itu aja", "ya betul 25rb": the yes."""
    value = state.pending.value if isinstance(state.pending, Confirm) else None
    typed = inbound.text or ""
    but = any(normalize(w) in words("but") for w in typed.split())
    after = _after_words(typed, "yes").split()
    rest = " ".join(w for w in after if normalize(w) not in words("but")).strip(" ,.:;-")
    if not flow.steps[state.step or flow.first].verbatim:
        rest = without_closing(rest)  # "iyo, yowis Keripik Bu Sri wae": Keripik Bu Sri
    if but and not rest:  # "ya, tapi...": more was meant than a yes
        result.replies.append(say(t("engine.confirm_again"), question, choices=YES_CHOICES))
        return result
    if not rest or points_at_the_offer(rest):
        return _take_guess(flow, state, value, env, result)
    fixed = replace(inbound, text=rest)
    if but or _open_step_takes_free_text(flow, state) or _another_value(flow, state, fixed, env):
        return _answer_while_confirming(flow, state, fixed, read_text(rest), env, result, question)
    return _take_guess(flow, state, value, env, result)  # "ya mantap": the yes


def _another_value(flow: Flow, state: State, inbound: Inbound, env: Env) -> bool:
    """The words after a yes read as an answer other than the guess ("iya, eh 30rb ding")."""
    if not isinstance(state.pending, Confirm):
        return False
    step = flow.steps[state.step or flow.first]
    said = read_text(inbound.text or "")
    reading = step.read(inbound, Ctx(state.draft, env, said, guess=state.pending.value))
    return isinstance(reading, Parsed) and reading.value != state.pending.value


def _cancelled(flow: Flow, env: Env, result: Result) -> Result:
    editing = flow.editing(Ctx(result.state.draft, env)) if flow.editing else env.registered
    result.state = State(updated_at=env.now)
    said = flow.cancelled_edit if flow.cancelled_edit and editing else flow.cancelled
    result.replies.append(say(said))
    return result


def _cancel_kept(flow: Flow, state: State, env: Env, result: Result) -> Result:
    state.pending = None
    result.replies += [say(t("engine.cancel_kept")), ask(flow, state, env)]
    return result


def _guess_refused(flow: Flow, state: State, env: Env, result: Result) -> Result:
    """ "Bukan": the guess is dropped and the question asked again, with its buttons."""
    state.pending = None
    again = ask(flow, state, env)
    result.replies.append(replace(again, lines=(t("engine.confirm_no"), *again.lines)))
    return result


def _take_guess(flow: Flow, state: State, value: Any, env: Env, result: Result) -> Result:
    state.pending = None
    _store(flow, state, flow.steps[state.step or flow.first], value, env, result)
    return result


def points_at_the_offer(text: str) -> bool:
    """True when every word only points back at what was offered ("pake itu aja")."""
    return set(normalize(text).split()) <= _offer_words()


@cache
def _offer_words() -> frozenset[str]:
    """The single words of the classes that point at an offer, built once per process."""
    kinds = ("offer_reference", "softener", "yes", "keep", "whatever")
    return frozenset(word for kind in kinds for phrase in words(kind) for word in phrase.split())


def _after_words(text: str, kind: str) -> str:
    """What follows the no in "bukan, rumah tangga", or the yes in "ya, pecel mbak sri" (the
    yes or no and soft words dropped)."""
    typed = text.split()
    skip = words(kind) | words("softener")
    while typed and normalize(typed[0]) in skip:
        typed = typed[1:]
    return " ".join(typed).strip(" ,.:;-")


def _answer_while_confirming(
    flow: Flow,
    state: State,
    inbound: Inbound,
    said: Utterance,
    env: Env,
    result: Result,
    question: Text | str,
) -> Result:
    """A new answer replaces the guess; one the step cannot read asks "betul?" again."""
    step = flow.steps[state.step or flow.first]
    guess = state.pending.value if isinstance(state.pending, Confirm) else None
    reading = step.read(inbound, Ctx(state.draft, env, said, guess=guess))
    if isinstance(reading, Invalid):
        state.draft.update(reading.keep)  # "send it again to keep it" holds here too
        # a name that cannot be one ("asdfgh") says why; another step's asks for yes or no
        why = reading.reason if step.free_text or reading.at_confirm else t("engine.confirm_again")
        result.replies.append(say(why, question, choices=YES_CHOICES))
        return result
    state.pending = None
    return _take_reading(flow, state, step, reading, env, result)


def _photo_at_summary(
    flow: Flow, state: State, inbound: Inbound, said: Utterance, env: Env, result: Result
) -> Result | None:
    """A photo at the summary (or at its "which one?"): added through the photos' question,
    as if sent there (a product's photo editor). None when it is no photo for that."""
    field_id = _photo_field(flow)
    if state.step != SUMMARY or not field_id or not isinstance(said, Photos):
        return None
    return _open_field(flow, state, env, result, field_id, inbound)


def _answer_summary(
    flow: Flow, state: State, inbound: Inbound, said: Utterance, env: Env, result: Result
) -> Result:
    added = _photo_at_summary(flow, state, inbound, said, env, result)
    if added is not None:
        return added
    match said:
        case Yes() | Picked(id="save") | Keyword(kind="save"):
            _finish(flow, state, env, result)
            return result
        case FreeText() | No(pure=False) | Keyword(kind="now") if named := _changes_named(
            flow, state, env, inbound.text or ""
        ):  # "harga 135rb"; "no hp 0813 1111 2222" starts with a "no"
            return _open_change(flow, state, env, result, named)
        case No() if flow.fields:  # "mboten", "salah" to "sudah benar?": what is to change
            result.replies.append(_edit_menu(flow, state, t("engine.edit_which")))
            return result
    result.replies += [say(t("engine.summary_unclear")), ask(flow, state, env)]
    return result


def _change_named(flow: Flow, state: State, env: Env, text: str) -> list[Change]:
    """The field a change names and its new value: the engine's reading of the field named
    first, refined by the flow's own reading of a sentence when it has one (which may find
    several: a street in another city); [] when it names none."""

    def field_named(typed: str) -> tuple[str, str] | None:
        return _field_named(flow, state, env, typed)

    named: Change | list[Change] | None
    if flow.read_change is None:
        named = field_named(text)
    else:
        named = flow.read_change(text, field_named, Ctx(state.draft, env))
    return named if isinstance(named, list) else [named] if named else []


# Where one change ends and the next begins: "stok 15, harga 30rb", "nama toko X dan alamat Y".
# A comma between digits is a decimal one: "berat 1,5 kg".
_CHANGE_PARTS = re.compile(r"\s*(?:(?<!\d),|,(?!\d)|[;\n])\s*|\s+(?:dan|terus|trus|lalu)\s+", re.I)


def _changes_named(flow: Flow, state: State, env: Env, text: str) -> list[Change]:
    """The changes a message names: "harga 30rb" one; "stok 15, harga 30rb" two, when every
    part names a field of its own with a value its question reads (so "alamat jl. kartini 7,
    rt 2" or a description with "harga murah" in it stays one change)."""
    parts = [part for part in _CHANGE_PARTS.split(text) if part.strip()]
    several: list[Change] = []
    for part in parts if len(parts) > 1 else ():
        named = _change_named(flow, state, env, part)
        if not named or not all(_readable(flow, state, env, *change) for change in named):
            several = []
            break
        several += named
    if len({field_id for field_id, _ in several}) == len(several) > 1:
        return several
    return _change_named(flow, state, env, text)


def _readable(flow: Flow, state: State, env: Env, field_id: str, value: str) -> bool:
    """The field's question reads the value (or it has none, and is asked)."""
    field = next((f for f in flow.fields if f.id == field_id), None)
    if field is None:
        return False
    if not value:
        return True
    step = flow.steps[field.steps[0]]
    message = Inbound(user_key="", channel=env.channel, text=value)
    return not isinstance(step.read(message, Ctx(state.draft, env, read_text(value))), Invalid)


def _open_change(
    flow: Flow, state: State, env: Env, result: Result, changes: list[Change]
) -> Result:
    """The changes said, one after the other: a field whose questions ask another one named
    (the regency, then the street) first, so that one is not asked."""
    if changes[0][0] == WHICH_FIELD:  # unsure which field is meant: asked, never guessed
        result.replies.append(_edit_menu(flow, state, t("engine.edit_which")))
        return result
    fields = {f.id: f for f in flow.fields}

    def asks_others(change: Change) -> int:
        return sum(fields[other].steps[0] in fields[change[0]].steps[1:] for other, _ in changes)

    first, *later = sorted(changes, key=lambda change: -asks_others(change))
    state.changes = [list(change) for change in later]
    return _open_field(flow, state, env, result, *first)


def _next_change(flow: Flow, state: State, env: Env, result: Result) -> None:
    """The next change said in the same message, made as if asked for at the summary."""
    field_id, value = state.changes.pop(0)
    state.step, state.pending = SUMMARY, None
    _open_field(flow, state, env, result, field_id, value)


def _answer_step(
    flow: Flow, state: State, inbound: Inbound, said: Utterance, env: Env, result: Result
) -> Result:
    step = flow.steps[state.step or flow.first]
    ctx = Ctx(state.draft, env, said, options=_open_buttons(state))
    refusal = _refusal(step, said, ctx, inbound.text or "")
    if refusal is not None:
        result.replies += [say(*refusal.lines), reask(flow, state, env)]
        return result
    offered = step.offer(ctx) if step.offer else None
    if isinstance(said, GlobalWord) and said.kind == SKIP:
        if step.optional:
            _store(flow, state, step, None, env, result)
            return result
        if step.free_text or not said.means_no:  # "gak ada" also answers a yes/no with no
            question = ask(flow, state, env)
            result.replies.append(replace(question, lines=(t("engine.required"), *question.lines)))
            return result
        ctx = Ctx(state.draft, env, No())
    if isinstance(said, Yes) and said.pure and offered is not None:
        state.pending = None
        _store(flow, state, step, offered, env, result)
        return result
    msg = inbound
    if isinstance(said, Picked):  # a button's label (maybe an old button's) is no typed data
        msg = replace(inbound, choice=said.id, text=None if step.free_text else inbound.text)
    reading, msg, said = _read_here(flow, state, step, (msg, said), ctx, env)
    if isinstance(reading, Invalid) and step.help and _a_question(inbound):
        return _explain(flow, state, env, result)  # "ini gratis?" at the terms: not "belum jelas"
    if isinstance(reading, Invalid) and _only_a_correction(said, inbound):
        return _back(flow, state, env, result)  # "eh salah" at the category: the shop's name
    return _take_reading(flow, state, step, reading, env, result)


def _read_here(
    flow: Flow, state: State, step: Step, sent: tuple[Inbound, Utterance], ctx: Ctx, env: Env
) -> tuple[Reading, Inbound, Utterance]:
    """The step's reading of the message; one it cannot read whole may hold other fields'
    answers too ("stok 20, berat 1,5 kg"): this question's part is read, the others kept."""
    msg, said = sent
    reading = step.read(msg, ctx)
    offered = step.offer(ctx) if step.offer else None
    if _next_answer_at_offer(flow, state, step, said, reading, offered, msg, env):
        return Parsed(offered), msg, said  # "35rb" at "Kategorinya X, betul?": yes, and 35rb
    free = isinstance(said, FreeText) and not step.free_text and isinstance(reading, Invalid)
    split = _answers_split(flow, state, env, msg.text or "") if free else None
    if split is None:
        return reading, msg, said
    state.draft[EARLY] = {**state.draft.get(EARLY, {}), **dict(split[1])}
    msg, said = replace(msg, text=split[0]), read_text(split[0])
    return step.read(msg, Ctx(state.draft, env, said, options=ctx.options)), msg, said


def _answers_split(
    flow: Flow, state: State, env: Env, text: str
) -> tuple[str, list[Change]] | None:
    """ "Stok 20, berat 1,5 kg" at the stock: the open question's answer ("20") and the other
    fields' answers sent with it, each part naming a field of its own with a value its question
    reads; None unless all of it reads so (an answer with a comma stays whole)."""
    parts = [part for part in _CHANGE_PARTS.split(text) if part.strip()]
    own = next((f.id for f in flow.fields if f.steps[0] == state.step), None)
    if len(parts) < 2 or own is None:
        return None
    answer, others = None, []
    for part in parts:
        named = _any_field_named(flow, env, part)
        if named is None or named[0] == own:
            if answer is not None:
                return None
            answer = named[1] if named else part
        elif named[1] and _early_readable(flow, state, env, *named):
            others.append(named)
        else:
            return None
    if not answer or not others or len({field_id for field_id, _ in others}) < len(others):
        return None
    if not _readable(flow, state, env, own, answer):
        return None
    return answer, others


def _early_readable(flow: Flow, state: State, env: Env, field_id: str, value: str) -> bool:
    """A value for another field, said with this answer: one answered before is read by its
    question; one not asked yet (its question may need answers still missing) is a number
    ("berat 1,5 kg"), read when that question comes."""
    if any(f.id == field_id for f in _editable(flow, state)):
        return _readable(flow, state, env, field_id, value)
    return bool(re.search(r"\d", value))


def _any_field_named(flow: Flow, env: Env, text: str) -> tuple[str, str] | None:
    """The field a text starts with by its name (any field, asked yet or not), and the value
    after it: "berat 1,5 kg" -> ("weight", "1,5 kg"). A number is never a field's name here."""
    choices = _field_choices(flow.fields)
    typed = text.split()
    for n in range(min(_name_words(typed), 3), 0, -1):
        if not re.search(r"[^\W\d_]", typed[0]):
            return None
        picked = pick_choice(normalize(" ".join(typed[:n])), choices, env.render)
        if picked is not None:
            return picked, new_value(typed[n:])
    return None


def _next_answer_at_offer(
    flow: Flow,
    state: State,
    step: Step,
    said: Utterance,
    reading: Reading,
    offered: Any,
    msg: Inbound,
    env: Env,
) -> bool:
    """ "35rb" at "Kategorinya X, betul?": the next question's answer, read cleanly there (with
    letters and a number: "35rb", "Rp35.000", never a bare number that may pick a button),
    means yes to what was offered; that answer is kept for its question. False otherwise."""
    typed = msg.text or ""
    nxt = flow.steps.get(step.next) if isinstance(step.next, str) else None
    if offered is None or nxt is None or not isinstance(said, FreeText):
        return False
    clean = re.search(r"\d", typed) and re.search(r"[^\W\d_]", typed)
    if isinstance(reading, Parsed) or not clean:
        return False
    field = next((f for f in flow.fields if f.steps[0] == nxt.id), None)
    if field is None or not isinstance(nxt.read(msg, Ctx(state.draft, env, said)), Parsed):
        return False
    state.draft[EARLY] = {**state.draft.get(EARLY, {}), field.id: typed}
    return True


def _open_buttons(state: State) -> tuple[str, ...]:
    """The ids of the buttons a "yang mana?" left open, for the reader of its answer."""
    return tuple(c.id for c in state.pending.options) if isinstance(state.pending, Options) else ()


def _only_a_correction(said: Utterance, inbound: Inbound) -> bool:
    """ "Eh salah", "ralat" and nothing else: the answer before this question was wrong."""
    phrase = normalize(inbound.text)
    return isinstance(said, No) and lexicon().word_class(phrase, ("correction",)) is not None


def answer_typed(flow: Flow, result: Result, env: Env) -> Result:
    """A flow just opened at a step with its answer sent already ("ubah harga 20rb" in
    "Produk saya", a photo at the menu): the answer is read there as if sent now."""
    message, result.answer = result.answer, None
    if message is None:
        return result
    state = result.state
    if message.text and state.return_to == SUMMARY:  # "ubah stok 15, harga 30rb": the price too
        answer, later = _with_more_changes(flow, state, env, message.text)
        state.changes = [list(change) for change in later]
        message = replace(message, text=answer)
    return _answer_step(flow, state, message, interpret(message), env, result)


def _with_more_changes(flow: Flow, state: State, env: Env, text: str) -> tuple[str, list[Change]]:
    """The answer to the open question, and the changes said after it ("15, harga 30rb"),
    each naming a field of its own with a value its question reads; else all of it."""
    answer, *rest = [part for part in _CHANGE_PARTS.split(text) if part.strip()] or [text]
    later: list[Change] = []
    for part in rest:
        named = _change_named(flow, state, env, part)
        if not named or not all(_readable(flow, state, env, *change) for change in named):
            return text, []
        later += named
    asked = {_first_step(flow, field_id) for field_id, _ in later}
    if not later or len(asked) < len(later) or state.step in asked:  # each field once
        return text, []
    return answer, later


def _explain(flow: Flow, state: State, env: Env, result: Result) -> Result:
    """The open step's help, then what is open asked again."""
    step = flow.steps.get(state.step or "")
    help_text = step.help if step and step.help else t("engine.help_general")
    if callable(help_text):  # the menu's: "daftar dulu" before there is a shop
        help_text = help_text(Ctx(state.draft, env))
    result.replies += [say(help_text), reask(flow, state, env)]
    return result


def _a_question(inbound: Inbound) -> bool:
    """Ends with a question mark, whatever emoji or spaces follow: "wajib diisi? 🙏"."""
    for ch in reversed(inbound.text or ""):  # from the end: a long message costs nothing more
        if ch in "?？":
            return True
        if ch.isalnum():
            return False
    return False


def _refusal(step: Step, said: Utterance, ctx: Ctx, typed: str) -> Outbound | None:
    """Why this message cannot answer this step, or None when the step should read it."""
    match said:
        case Unsupported(kind=kind):
            return say(UNSUPPORTED.get(kind, UNSUPPORTED["other"]))
        case Photos() if not step.takes_photos:
            return say(t("input.photo_not_now"))
        case Pin() if not step.takes_location:  # a caption is no typed answer
            return say(t("input.location_not_now"))
        case Nothing():
            return say(t("engine.empty"))
        case Keyword(kind=kind) if step.free_text and kind in step.takes_words:
            return None
        case Yes(pure=True) | No(pure=True) | Keyword() | Command() if step.free_text:
            if isinstance(said, Yes) and step.offer and step.offer(ctx) is not None:
                return None
            return say(_not_an_answer(typed))
        case GlobalWord(kind=kind) if kind != SKIP and step.free_text:
            return say(_not_an_answer(typed))
    return None


# Words that tell the bot to do something ("selesai", "simpan", "lanjut"), unlike "ya" or "halo".
_ACTION_WORDS = ("done", "save", "keep", "retake", "restart", "later", "now", EDIT)


def _not_an_answer(typed: str) -> Text:
    """ "Lanjut" or "Simpan" where a name is asked: that word is an instruction, and said so."""
    phrase = normalize(typed)
    if phrase and (lexicon().word_class(phrase, _ACTION_WORDS) or lexicon().command(phrase)):
        return t("engine.instruction_word", word=" ".join(typed.split()))
    return t("engine.not_an_answer")


def _take_reading(
    flow: Flow, state: State, step: Step, reading: Reading, env: Env, result: Result
) -> Result:
    match reading:
        case Invalid(reason=reason, keep=keep):
            state.draft.update(keep)
            result.replies.append(replace(ask(flow, state, env), lines=(reason,)))
        case Stay(message=message, keep=keep, choices=choices, photo=photo):
            state.draft.update(keep)
            # remember the offered buttons so a typed "pakai" or "1" picks them
            state.pending = Options(choices) if choices else None
            result.replies.append(say(message, choices=choices, photo=photo))
        case Clarify(question=question, options=options):
            state.pending = Options(options)
            result.replies.append(say(question, choices=options))
        case Parsed(early=early) if early:
            state.draft[EARLY] = {**state.draft.get(EARLY, {}), **early}
            return _take_reading(flow, state, step, replace(reading, early={}), env, result)
        case Parsed(value=value, confirm=confirm, offered=offered) if confirm is not None:
            state.pending = Confirm(value, env.render(confirm), offered)  # as text: plain JSON
            result.replies.append(say(confirm, choices=YES_CHOICES))
        case Parsed(value=value, note=note):
            state.pending = None
            if note is not None:
                result.replies.append(say(note))
            _store(flow, state, step, value, env, result)
    return result


# --- moving between steps ------------------------------------------------------------------------


def _goto(state: State, step_id: str, record: bool = True) -> None:
    if record and state.step and state.step != step_id:
        state.history.append(state.step)
    state.step = step_id
    state.pending = None


def _next_step(flow: Flow, state: State, step: Step, env: Env) -> str:
    follow = step.then_ask(Ctx(state.draft, env)) if step.then_ask else None
    if follow and follow != step.id:  # this answer left that one out of bounds: asked now
        return follow
    while state.edit_queue:
        queued = state.edit_queue.pop(0)
        if not _answered_by_this_change(flow, state, queued):
            return queued
    state.before_edit = None  # the edit is complete
    if state.return_to:
        back, state.return_to = state.return_to, None
        return back
    if state.step != SUMMARY and SUMMARY in state.history:
        return SUMMARY  # edits made after the summary go straight back to it
    nxt = step.next
    if callable(nxt):
        nxt = nxt(Ctx(state.draft, env))
    return nxt or SUMMARY


def _answered_by_this_change(flow: Flow, state: State, step_id: str) -> bool:
    """A question of the change being made that its first answer filled already ("kota batu,
    kec junrejo" names the district with the regency)."""
    slot = flow.steps[step_id].slot
    if state.before_edit is None or slot in (None, "*"):
        return False
    value = state.draft.get(slot)
    return value is not None and value != state.before_edit.get(slot)


def _store(flow: Flow, state: State, step: Step, value: Any, env: Env, result: Result) -> None:
    if step.slot == "*" and isinstance(value, dict):
        state.draft.update(value)
    elif step.slot:
        state.draft[step.slot] = value
    if flow.derive is not None:
        state.draft.update(flow.derive(Ctx(state.draft, env)))
    nxt = _next_step(flow, state, step, env)
    if nxt == SUMMARY and state.changes:  # "stok 15, harga 30rb": the price next
        _next_change(flow, state, env, result)
        return
    if nxt in (SUMMARY, FINISH):
        state.draft.pop(EARLY, None)  # one never reached (a condition not asked) is dropped
    if nxt == FINISH or (nxt == SUMMARY and flow.summary is None):
        _finish(flow, state, env, result)
        return
    _goto(state, nxt)
    if not _early_answer(flow, state, env, result):
        result.replies.append(ask(flow, state, env))


def _early_answer(flow: Flow, state: State, env: Env, result: Result) -> bool:
    """An answer sent before its question, taken now as if sent here ("berat 1,5 kg" with the
    stock, at the weight); one for a question answered before ("harga 13rb" with the stock)
    changes that answer, and this question comes after. False when none is kept."""
    early = state.draft.get(EARLY) or {}
    for field in flow.fields:
        first = field.steps[0]
        if field.id not in early or (first != state.step and first not in state.history):
            continue
        value = str(state.draft[EARLY].pop(field.id))
        if first != state.step:
            _open_field(flow, state, env, result, field.id, value)
            return True
        message = Inbound(user_key="", channel=env.channel, text=value)
        _answer_step(flow, state, message, read_text(value), env, result)
        return True
    return False


def _finish(flow: Flow, state: State, env: Env, result: Result) -> None:
    outcome = flow.finish(Ctx(state.draft, env))
    result.replies.extend(outcome.replies)
    result.effects.extend(outcome.effects)
    result.state = State(updated_at=env.now, draft=dict(outcome.keep or {}))
    if outcome.start:
        result.state.flow = outcome.start
        result.state.draft = dict(outcome.draft or {})
        result.state.step = outcome.step  # None: the router opens it at its first step
        result.state.return_to = outcome.then
        if outcome.then:  # one answer changed, from the start: "gak jadi" puts it back
            result.state.before_edit = copy.deepcopy(result.state.draft)
        result.state.history = list(outcome.asked)
        result.answer = outcome.answer if outcome.step else None


def reask(flow: Flow, state: State, env: Env) -> Outbound:
    match state.pending:
        case Options(options):
            return say(t("engine.pick_one"), choices=options)
        case Confirm(question=question) if question:  # "betul?" is still open: ask it again
            return say(question, choices=YES_CHOICES)
        case CancelAsked():  # "yakin?" is still open: a "ya" now answers it, so ask it
            return say(t("engine.cancel_sure"), choices=CANCEL_CHOICES)
        case RestartAsked():
            return say(t("engine.restart_sure"), choices=RESTART_CHOICES)
        case EditMenu():
            return _edit_menu(flow, state, t("engine.edit_which"))
    return ask(flow, state, env)


def changing_one_answer(state: State) -> bool:
    """An answer opened from the summary is being changed (the summary comes back after)."""
    editing = state.edit_queue or state.return_to or SUMMARY in state.history
    return bool(editing) and state.step != SUMMARY and state.pending != CancelAsked()


def _back(flow: Flow, state: State, env: Env, result: Result) -> Result:
    if isinstance(state.pending, Options | Confirm | EditMenu):
        state.pending = None
    elif state.edit_queue or state.return_to or SUMMARY in state.history:
        back_to = state.return_to or SUMMARY
        state.edit_queue, state.return_to, state.changes = [], None, []
        if state.before_edit is not None:  # half an edit is undone, not kept
            state.draft, state.before_edit = state.before_edit, None
        _goto(state, back_to, record=False)
    elif not state.history:
        result.replies.append(say(t("engine.back_at_start")))
    else:
        state.step = state.history.pop()
        state.pending = None
    result.replies.append(ask(flow, state, env))
    return result


def _undo_change(flow: Flow, state: State, env: Env, result: Result) -> Result:
    """ "Gak jadi" while one answer is being changed: the whole change is dropped, a "betul?"
    still open for it too, and the owner told so; then back where the change was asked from
    (the summary, or the question a draft stopped at)."""
    state.pending = None
    back_to = state.return_to or SUMMARY
    state.edit_queue, state.return_to, state.changes = [], None, []
    if state.before_edit is not None:
        state.draft, state.before_edit = state.before_edit, None
    _goto(state, back_to, record=False)
    result.replies += [say(t("engine.change_undone")), ask(flow, state, env)]
    return result


# --- changing an answer -----------------------------------------------------------------------


def _after_summary(state: State) -> bool:
    return state.step == SUMMARY or SUMMARY in state.history


def _editable(flow: Flow, state: State) -> tuple[Field, ...]:
    """Every field from the summary; before it, the ones answered so far and this one."""
    if _after_summary(state):
        return flow.fields
    asked = {*state.history, state.step}
    return tuple(f for f in flow.fields if asked & {f.steps[0], *f.asked_at})


def _which_field_again(flow: Flow, state: State, env: Env, text: str) -> Outbound:
    """The field menu again; a word two fields share ("nama": the owner's or the shop's) says
    which two, with their numbers."""
    typed = set(normalize(text).split())
    alike = [
        (number, field)
        for number, field in enumerate(_editable(flow, state), start=1)
        if typed & set(normalize(env.render(field.label)).split())
    ]
    if len(alike) < 2:
        return _edit_menu(flow, state, t("engine.edit_which_again"))
    (first_n, first), (second_n, second) = alike[:2]
    question = t(
        "engine.edit_which_of",
        first=first.label,
        first_n=first_n,
        second=second.label,
        second_n=second_n,
    )
    return _edit_menu(flow, state, question)


def _field_choices(fields: tuple[Field, ...]) -> tuple[Choice, ...]:
    return tuple(Choice(f.id, f.label) for f in fields)


def _edit_menu(flow: Flow, state: State, question: Text) -> Outbound:
    state.pending = EditMenu()
    return say(question, choices=_field_choices(_editable(flow, state)))


# Words between a field and its new value: "ubah harga jadi 30rb", "harganya ganti ke 22rb".
_LINKS = {
    *("jadi", "jd", "ke", "menjadi", "to", "ganti", "diganti", "ubah", "diubah", "="),
    *("dadi", "nang", "neng", "menyang"),  # Javanese: "alamate pindah nang jl. kartini 7"
}


def _field_named(flow: Flow, state: State, env: Env, text: str) -> tuple[str, str] | None:
    """The field a text starts with and the new value after it: 'harganya jadi 22rb'."""
    choices = _field_choices(_editable(flow, state))
    words = text.split()
    for n in range(min(_name_words(words), 3), 0, -1):
        picked = pick_choice(normalize(" ".join(words[:n])), choices, env.render)
        if picked is not None:
            return picked, new_value(words[n:])
    return None


def _name_words(typed: list[str]) -> int:
    """How many words at the start could name a field: a number is the value, never part of
    the name ("minimal beli 2 bungkus": the loose match must not take "2" and leave "bungkus")."""
    return next((n for n, word in enumerate(typed) if re.search(r"\d", word)), len(typed))


def new_value(typed: list[str]) -> str:
    """The new value in the words after a field's name, without the words around it:
    "jadi 30rb" -> "30rb", "ganti aja jadi Sri Rejeki dong" -> "Sri Rejeki", "salah,
    harusnya blimbing" -> "blimbing"."""
    filler = words("filler")
    said_wrong = words("correction") | words("should")
    while typed:
        skipped = next(
            (n for n in (2, 1) if normalize(" ".join(typed[:n])) in said_wrong), 0
        )  # "yang bener", "salah"
        if skipped:
            typed = typed[skipped:]
        elif normalize(typed[0]) in _LINKS or normalize(typed[0]) in filler:
            typed = typed[1:]
        else:
            break
    while len(typed) > 1 and normalize(typed[-1]) in filler:
        typed = typed[:-1]
    return " ".join(typed).strip(" ,.:;-")


def sets_a_value(typed: list[str]) -> bool:
    """Whether the words start with a link, maybe after filler ("jadi 30rb", "aja jadi 30rb"):
    the value it becomes, not a change by that much."""
    filler = words("filler")
    for word in typed:
        if normalize(word) in _LINKS:
            return True
        if normalize(word) not in filler:
            return False
    return False


def _edit(flow: Flow, state: State, env: Env, result: Result, rest: str) -> Result:
    state.changes = []  # another change now: none said before it is made after
    if not _editable(flow, state):
        result.replies += [say(t("engine.edit_nothing_yet")), ask(flow, state, env)]
        return result
    named = _changes_named(flow, state, env, rest)  # "ubah harga 30rb": the field, its value
    if named:
        return _open_change(flow, state, env, result, named)
    result.replies.append(_edit_menu(flow, state, t("engine.edit_which")))
    return result


def _photo_field(flow: Flow) -> str:
    """The field whose question takes photos (a product's photos), or "" when none does."""
    taking = (f for f in flow.fields if flow.steps[f.steps[0]].takes_photos)
    return next((f.id for f in taking), "")


def _first_step(flow: Flow, field_id: str) -> str:
    return next((f.steps[0] for f in flow.fields if f.id == field_id), "")


def _open_field(
    flow: Flow,
    state: State,
    env: Env,
    result: Result,
    field_id: str,
    answer: str | Inbound = "",
) -> Result:
    chosen = next((f for f in _editable(flow, state) if f.id == field_id), None)
    if chosen is None:
        result.replies.append(_edit_menu(flow, state, t("engine.edit_which_again")))
        return result
    if not _after_summary(state) and state.step != chosen.steps[0]:
        state.return_to = state.step  # an earlier answer: come back to this question after
    answered_later = {_first_step(flow, other) for other, _ in state.changes}
    state.edit_queue = [s for s in chosen.steps[1:] if s not in answered_later]
    state.before_edit = copy.deepcopy(state.draft)
    _goto(state, chosen.steps[0], record=_after_summary(state))
    if isinstance(answer, Inbound):  # a photo sent for it: read there as if sent now
        return _answer_step(flow, state, answer, interpret(answer), env, result)
    if answer:  # the new value came with the request
        message = Inbound(user_key="", channel=env.channel, text=answer)
        return _answer_step(flow, state, message, read_text(answer), env, result)
    result.replies.append(ask(flow, state, env))
    return result


__all__ = [
    "FINISH",
    "SUMMARY",
    "WHICH_FIELD",
    "Clarify",
    "Command",
    "Ctx",
    "Directory",
    "Env",
    "Field",
    "Flow",
    "FreeText",
    "Invalid",
    "Outcome",
    "Parsed",
    "Pending",
    "Reading",
    "Result",
    "State",
    "Stay",
    "Step",
    "advance_flow",
    "answer_typed",
    "ask",
    "begin",
    "is_paused",
    "new_value",
    "points_at_the_offer",
    "said_word",
    "yes_no",
]
