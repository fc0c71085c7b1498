"""The owner's side of a facilitator's registration: see it on their own phone, agree or refuse."""

from __future__ import annotations

from flows.effects import DeclineConsent, GiveConsent
from flows.engine import Env, Result, State
from flows.interpret import FreeText, No, Picked, Utterance, Yes, pick_choice
from flows.lexicon import lexicon, normalize
from flows.messages import Choice, say, t
from flows.registration import summary_lines
from flows.state import ConsentShown

CHOICES = (Choice("agree", t("choice.consent_agree")), Choice("refuse", t("choice.consent_refuse")))


def _decision(said: Utterance, text: str, shown: bool, env: Env) -> str | None:
    """'agree', 'refuse' or None; a plain yes or no counts once they have seen the details."""
    phrase = normalize(text)
    named = lexicon().answer("consent", phrase) if phrase else None
    if named is not None:  # SETUJU and TOLAK are explicit anyway
        return named
    match said:
        case Picked(id="agree" | "refuse" as picked):
            return picked
        case Yes() if shown:
            return "agree"
        case No() if shown:
            return "refuse"
        case FreeText():
            return pick_choice(phrase, CHOICES, env.render, loose=False)
    return None


def answer_consent(state: State, said: Utterance, env: Env, text: str = "") -> Result:
    """SETUJU links the owner to the shop; TOLAK erases it; anything else shows it again."""
    request = env.consent_request or {}
    shop = request.get("shop_name") or "-"
    seller_id = int(request.get("seller_id") or 0)
    shown = state.pending == ConsentShown(seller_id)
    decision = _decision(said, text, shown, env)
    if request.get("given"):  # the facilitator typed the code they handed over: it is theirs
        done = State(updated_at=env.now)
        if decision == "refuse":  # too late to refuse here: erasing is theirs to do now
            told = t("consent.given_by_code_refused", shop=shop)
        else:
            told = t("consent.thanks", shop=shop)
        return Result(done, [say(told)], [GiveConsent(seller_id)])
    if decision == "agree":
        done = State(updated_at=env.now)
        return Result(done, [say(t("consent.thanks", shop=shop))], [GiveConsent(seller_id)])
    if decision == "refuse":
        done = State(updated_at=env.now)
        return Result(done, [say(t("consent.refused", shop=shop))], [DeclineConsent(seller_id)])
    # Whatever they were doing, this comes first: a shop is waiting for their answer.
    asking = State(pending=ConsentShown(seller_id), updated_at=env.now)
    return Result(
        asking,
        [
            say(
                t("consent.request_title", facilitator=request.get("facilitator_name") or "-"),
                *summary_lines(dict(request.get("seller") or {})),
                t("consent.products", count=request.get("products", 0)),
                t("consent.question"),
                choices=CHOICES,
            )
        ],
    )
