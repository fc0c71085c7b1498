"""The owner's side of a facilitator's registration: see it on their own phone, agree or refuse."""

from __future__ import annotations

from flows.effects import DeclineConsent, GiveConsent
from flows.engine import Env, Result, State, normalize_command, resolve_choice, yes_no
from flows.messages import Choice, Inbound, say, t
from flows.registration import summary_lines

_AGREE = {"setuju", "saya setuju", "ya setuju", "agree", "i agree", "setuju kak"}
CHOICES = (Choice("agree", t("choice.consent_agree")), Choice("refuse", t("choice.consent_refuse")))
_REFUSE = {"tolak", "tidak setuju", "saya tidak setuju", "menolak", "gak setuju", "refuse"}


def answer_consent(state: State, inbound: Inbound, env: Env) -> Result:
    """SETUJU links the owner to the shop; TOLAK erases it; anything else shows it again."""
    request = env.consent_request or {}
    shop = request.get("shop_name") or "-"
    inbound = resolve_choice(inbound, CHOICES, [env.render(c.label) for c in CHOICES])
    words = normalize_command(inbound.text)
    # A plain "ya" counts only once they have seen the details; SETUJU is explicit anyway.
    shown = (state.pending or {}).get("consent") == request.get("seller_id")
    said = yes_no(inbound) if shown and (inbound.choice or words) else None
    if inbound.choice == "agree" or words in _AGREE or said is True:
        done = State(updated_at=env.now)
        return Result(
            done, [say(t("consent.thanks", shop=shop))], [GiveConsent(int(request["seller_id"]))]
        )
    if inbound.choice == "refuse" or words in _REFUSE or said is False:
        done = State(updated_at=env.now)
        return Result(
            done,
            [say(t("consent.refused", shop=shop))],
            [DeclineConsent(int(request["seller_id"]))],
        )
    # Whatever they were doing, this comes first: a shop is waiting for their answer.
    asking = State(pending={"consent": request.get("seller_id")}, updated_at=env.now)
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
