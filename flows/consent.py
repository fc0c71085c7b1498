"""The owner's side of a facilitator's registration: see it on their own phone, agree or refuse."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flows.effects import AskChange, DeclineConsent, GiveConsent
from flows.engine import Env, Result, State, ask
from flows.interpret import FreeText, No, Picked, Utterance, Yes, pick_choice, without_softeners
from flows.lexicon import lexicon, normalize, words
from flows.messages import Choice, Outbound, say, t
from flows.registration import REGISTRATION, summary_lines
from flows.state import ConsentShown

CHOICES = (Choice("agree", t("choice.consent_agree")), Choice("refuse", t("choice.consent_refuse")))


def _decision(said: Utterance, text: str, shown: bool, env: Env, own: bool = False) -> str | None:
    """'agree', 'refuse', 'not_yet' or None.

    Only words that name the answer erase a shop ('tolak', 'gak mau', 'tidak setuju kak');
    a bare no ('belum', 'salah', 'jangan dulu') once they have seen the details is 'not_yet':
    they mean wait, or fix something, and are told how to refuse if they do mean it. A bare
    yes agrees once they have seen it, unless the request broke into their own sign-up
    (`own`): that "ya" may well answer their own last question, so SETUJU is asked for.
    """
    lex = lexicon()
    phrase = normalize(text)
    plain = without_softeners(phrase)
    named = (lex.answer("consent", phrase) or lex.answer("consent", plain)) if phrase else None
    if named is not None:  # SETUJU and TOLAK are explicit anyway
        return named
    words = plain.split()
    agree_words = {p for p in lex.answers.get("consent", {}).get("agree", ()) if " " not in p}
    if agree_words & set(words) and all(w in lex.words.get("yes", ()) for w in words):
        return "agree"  # "ok setuju", "iya setuju", "setuju ya kak": yes-words and SETUJU
    match said:
        case Picked(id="agree" | "refuse" as picked):
            return picked
        case Yes() if shown and not own:
            return "agree"
        case No() if shown:
            return "not_yet"
        case FreeText():
            return pick_choice(phrase, CHOICES, env.render, loose=False)
    return None


def _with_a_correction(text: str) -> bool:
    """ "Setuju tp nama tokonya ganti Batik Rina Pujon": a yes with a "but" and more after
    it (the same words as a "ya, tapi..." at a "betul?") is no SETUJU: something is to change."""
    said = normalize(text).split()
    buts = [n for n, word in enumerate(said) if word in words("but")]
    if not buts or buts[0] == len(said) - 1:
        return False
    agreeing = words("yes") | set(lexicon().answers.get("consent", {}).get("agree", ()))
    return any(word in agreeing for word in said[: buts[0]])


_ASKED_MAX = 300  # characters of the owner's words passed on to the facilitator


def _change_asked(text: str) -> str:
    """What follows the "but" in "setuju tp namanya ganti jadi Siti Romlah", as typed."""
    typed = text.split()
    at = next((n for n, word in enumerate(typed) if normalize(word) in words("but")), -1)
    return " ".join(typed[at + 1 :]).strip(" ,.:;-")[:_ASKED_MAX]


def _settled_by_code(request: Mapping[str, Any], decision: str | None, env: Env) -> Result:
    """The facilitator already typed the code the owner handed over: the shop is theirs."""
    shop = request.get("shop_name") or "-"
    facilitator = request.get("facilitator_name") or "-"
    if decision == "agree":
        told = t("consent.thanks", shop=shop)
    elif decision == "refuse":  # too late to refuse here: erasing is theirs to do now
        told = t("consent.given_by_code_refused", shop=shop)
    else:  # their first word to us since: who did it, and that they may undo it
        told = t("consent.given_by_code", shop=shop, facilitator=facilitator)
    seller_id = int(request.get("seller_id") or 0)
    return Result(State(updated_at=env.now), [say(told)], [GiveConsent(seller_id)])


# The owner's own registration, half-way when a facilitator's request came: kept aside while
# the request waits (no nudge about it then), given back on TOLAK, replaced on SETUJU.
OWN_DRAFT = "_own_registration"


def _own_draft(state: State) -> dict[str, Any] | None:
    if state.flow == REGISTRATION.id and state.step and state.draft:
        return {"step": state.step, "draft": state.draft, "meta": state.meta()}
    kept = state.draft.get(OWN_DRAFT)
    return dict(kept) if isinstance(kept, dict) else None


def own_draft_back(own: Mapping[str, Any], env: Env, replies: list[Outbound]) -> Result:
    """TOLAK with their own registration aside (or the request gone, its number corrected):
    it goes on where they were."""
    state = State.load(REGISTRATION.id, own["step"], own["draft"], own["meta"], env.now)
    state.pending = None
    replies.append(say(t("consent.own_draft_back")))
    replies.append(ask(REGISTRATION, state, env))
    return Result(state, replies)


def answer_consent(state: State, said: Utterance, env: Env, text: str = "") -> Result:
    """SETUJU links the owner to the shop; TOLAK erases it; a bare no waits; anything else
    shows it again."""
    request = env.consent_request or {}
    shop = request.get("shop_name") or "-"
    seller_id = int(request.get("seller_id") or 0)
    shown = state.pending == ConsentShown(seller_id)
    own = _own_draft(state)
    decision = _decision(said, text, shown, env, own=bool(own))
    if request.get("given"):
        return _settled_by_code(request, decision, env)
    keep = {OWN_DRAFT: own} if own else {}
    if decision != "refuse" and _with_a_correction(text):
        asking = State(pending=ConsentShown(seller_id), draft=keep, updated_at=env.now)
        facilitator = request.get("facilitator_name") or "-"
        return Result(
            asking,
            [say(t("consent.agree_but", shop=shop, facilitator=facilitator), choices=CHOICES)],
            [AskChange(seller_id, _change_asked(text))],
        )
    if decision == "agree":
        done = State(updated_at=env.now)
        return Result(done, [say(t("consent.thanks", shop=shop))], [GiveConsent(seller_id)])
    if decision == "refuse":
        refused = [say(t("consent.refused", shop=shop))]
        if own:
            back = own_draft_back(own, env, refused)
            back.effects.append(DeclineConsent(seller_id))
            return back
        return Result(State(updated_at=env.now), refused, [DeclineConsent(seller_id)])
    if decision == "not_yet":  # nothing erased on a "belum": how to fix it, or to refuse;
        # not "shown" any more, so a bare "ya" to that is not taken for SETUJU
        waiting = State(draft=keep, updated_at=env.now)
        return Result(waiting, [say(t("consent.not_yet", shop=shop))])
    # Whatever they were doing, this comes first: a shop is waiting for their answer.
    asking = State(pending=ConsentShown(seller_id), draft=keep, updated_at=env.now)
    if shown:  # seen just now ("bu rina sopo?", "menu"): who asks, and the answer, in short
        facilitator = request.get("facilitator_name") or "-"
        again = t("consent.again", shop=shop, facilitator=facilitator)
        return Result(asking, [say(again, t("consent.question"), choices=CHOICES)])
    return Result(
        asking,
        [
            say(
                t("consent.request_title", facilitator=request.get("facilitator_name") or "-"),
                *summary_lines(dict(request.get("seller") or {})),
                t("consent.products", count=request.get("products", 0)),
                *([t("consent.own_draft")] if own else []),
                t("consent.question"),
                choices=CHOICES,
            )
        ],
    )


def erase_asked(state: State, env: Env) -> Result:
    """/hapus_data while a facilitator's registration waits for them: TOLAK is the way."""
    request = env.consent_request or {}
    if request.get("given"):  # theirs already: linked now, so /hapus_data erases it next
        return _settled_by_code(request, "refuse", env)
    shop = request.get("shop_name") or "-"
    return Result(state, [say(t("consent.erase_by_refusing", shop=shop))])
