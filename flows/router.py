"""The top of every conversation: commands, the menu, pauses, and which flow runs."""

from __future__ import annotations

import re
from typing import Any

from flows.account import ERASE, LANGUAGE, my_data
from flows.admin import SIARAN
from flows.consent import answer_consent
from flows.effects import (
    ActFor,
    Effect,
    EraseMyData,
    GiveConsent,
    JoinAsFacilitator,
    SaveProductDraft,
    SaveSeller,
    SetOptOut,
    StoreReferral,
)
from flows.engine import (
    EDIT,
    MENU,
    RESUME_CHOICES,
    SUMMARY,
    Env,
    Flow,
    Result,
    State,
    advance_flow,
    ask,
    begin,
    global_word,
    is_paused,
    normalize_command,
)
from flows.facilitator import (
    ASSISTED,
    CONSENT_CODE,
    HELPING,
    OWNERS,
    read_code,
)
from flows.menu import MENU_FLOW
from flows.messages import Inbound, Outbound, say, t
from flows.product import FIX_WORDS, PRODUCT, PRODUCT_FIELDS, PRODUCT_MORE
from flows.product_list import PRODUCT_LIST
from flows.registration import REGISTRATION

FLOWS: dict[str, Flow] = {
    f.id: f
    for f in (
        REGISTRATION,
        PRODUCT,
        PRODUCT_MORE,
        PRODUCT_LIST,
        MENU_FLOW,
        ERASE,
        LANGUAGE,
        ASSISTED,
        HELPING,
        OWNERS,
        CONSENT_CODE,
        SIARAN,
    )
}
# Flows only a role may run; checked whenever one opens or takes a message.
_FACILITATOR_FLOWS = {ASSISTED.id, HELPING.id, OWNERS.id, CONSENT_CODE.id}
_ADMIN_FLOWS = {SIARAN.id}
# Flows that interrupt another one and hand back to it when they end.
_SIDE_FLOWS = {ERASE.id, LANGUAGE.id}
PARKED = "_parked"
# WhatsApp's opt-out words (and plain-language ones); STOP is honoured on every channel.
_OPT_OUT = {"stop", "berhenti", "jangan kirim lagi", "unsubscribe", "stop kirim", "berhenti kirim"}
_OPT_IN = {"mulai", "start", "mulai lagi"}
_DEEP_LINK = re.compile(r"[A-Za-z0-9_-]{1,64}")  # what t.me/<bot>?start= may carry
INVITE_PREFIX = "pdp_"  # t.me/<bot>?start=pdp_<invite code> makes a facilitator
_WITH_ARGUMENT = re.compile(
    r"(/)?(pendamping|kode|code)(?:@\w+)?\b[\s:]*(.*)", re.IGNORECASE | re.DOTALL
)
_INVITE = re.compile(r"[A-Za-z0-9]{6,16}")

_COMMANDS = {
    "data_saya": "my_data",
    "datasaya": "my_data",
    "data saya": "my_data",
    "mydata": "my_data",
    "my_data": "my_data",
    "hapus_data": ERASE.id,
    "hapusdata": ERASE.id,
    "hapus data": ERASE.id,
    "delete_my_data": ERASE.id,
    "deletemydata": ERASE.id,
    "bahasa": LANGUAGE.id,
    "language": LANGUAGE.id,
    "daftar": "register",
    "register": "register",
    "daftarkan": "assisted",
    "daftarkan pemilik": "assisted",
    "binaan": "owners",
    "binaan saya": "owners",
    "selesai_bantu": "stop_helping",
    "selesai bantu": "stop_helping",
    "siaran": "siaran",
    "broadcast": "siaran",
}


def advance(state: State, inbound: Inbound, env: Env) -> Result:
    """Take one message from a person and decide everything that follows, purely."""
    text = inbound.text or ""
    command = normalize_command(text)
    if text.strip().startswith("/start") or command == "start":
        payload = text.strip().partition(" ")[2].strip()
        return _start(state, env, payload if _DEEP_LINK.fullmatch(payload) else "")
    if command in _OPT_OUT:
        return Result(state, [say(t("account.opted_out"))], [SetOptOut(True)])
    if command in _OPT_IN and env.opted_out:
        result = _start(state, env, "")
        result.replies.insert(0, say(t("account.opted_in")))
        result.effects.append(SetOptOut(False))
        return result
    with_argument = _command_and_argument(text)
    if with_argument is not None:
        return _command_with_argument(state, env, *with_argument)
    action = _COMMANDS.get(command)
    if env.consent_request and not env.registered and action not in _SIDE_FLOWS:
        return answer_consent(state, inbound, env)
    if action in ("assisted", "owners", "siaran", "stop_helping"):
        return _role_command(state, env, action)
    if action == "my_data":
        result = Result(state, [my_data(env, state.draft if state.flow == REGISTRATION.id else {})])
        if state.flow and state.step:
            result.replies.append(ask(FLOWS[state.flow], state, env))
        return result
    if action in _SIDE_FLOWS:
        return _side_flow(FLOWS[action], state, env)
    if action == "register" and not env.registered and state.flow != REGISTRATION.id:
        return _open(REGISTRATION, env, welcome=True)
    word, rest = global_word(inbound)
    if word == EDIT and rest and env.registered and state.flow in (None, MENU_FLOW.id):
        fixing = _fix_product(env, rest)
        if fixing is not None:
            return fixing
    if global_word(inbound)[0] == MENU or state.flow is None:
        if not env.registered and state.flow is None and not _has_role(env):
            return _open(REGISTRATION, env, welcome=True)
        if state.flow is None or global_word(inbound)[0] == MENU:
            home = HELPING if env.acting_for else MENU_FLOW
            opened = begin(home, env, {PARKED: _park(state)})
            opened.effects.extend(_keep_unfinished_product(state))
            return _finish_open(opened, env)

    assert state.flow is not None
    flow = FLOWS.get(state.flow, MENU_FLOW)
    refused = _refuse_role(flow.id, env)
    if refused is not None:
        return Result(State(updated_at=env.now), [refused])
    if state.step is None:
        return _finish_open(begin(flow, env, state.draft), env)
    if is_paused(state, env) and (state.pending or {}).get("kind") != "resume":
        state.pending = {"kind": "resume"}
        state.updated_at = env.now
        return Result(state, [say(flow.resume_question, choices=RESUME_CHOICES)])
    parked = state.draft.get(PARKED)
    result = advance_flow(flow, state, inbound, env)
    erased = any(isinstance(e, EraseMyData) for e in result.effects)
    if result.state.flow is None and parked and not erased:
        restored = State.load(
            parked["flow"], parked["step"], parked["draft"], parked["meta"], env.now
        )
        result.state = restored
        if restored.flow and restored.step:
            result.replies.append(ask(FLOWS[restored.flow], restored, env))
        return result
    return _finish_open(result, env)


def _fix_product(env: Env, rest: str) -> Result | None:
    """'ubah harga' after a marketplace refusal: open that product right at the field."""
    field_id = FIX_WORDS.get(rest.split()[0])
    field = next((f for f in PRODUCT.fields if f.id == field_id), None)
    product = next((p for p in env.products if p.get("status") == "needs_fix"), None)
    if field is None or product is None:
        return None
    draft = {**(product.get("data") or {}), "product_id": product["id"]}
    state = State(
        flow=PRODUCT.id,
        step=field.steps[0],
        draft=draft,
        history=[SUMMARY],
        edit_queue=list(field.steps[1:]),
        updated_at=env.now,
    )
    return Result(state, [ask(PRODUCT, state, env)])


def _keep_unfinished_product(state: State) -> list[SaveProductDraft]:
    """Leaving a product half-way keeps it as a draft that 'Produk saya' can continue."""
    if state.flow != PRODUCT.id or not state.draft.get("photos"):
        return []
    data = {key: state.draft.get(key) for key in PRODUCT_FIELDS}
    return [SaveProductDraft(data, product_id=state.draft.get("product_id"))]


def _park(state: State) -> dict[str, Any] | None:
    if not state.flow or not state.step or state.flow == MENU_FLOW.id:
        return None
    return {"flow": state.flow, "step": state.step, "draft": state.draft, "meta": state.meta()}


def _side_flow(flow: Flow, state: State, env: Env) -> Result:
    return begin(flow, env, {PARKED: _park(state)})


def _open(
    flow: Flow, env: Env, welcome: bool = False, draft: dict[str, Any] | None = None
) -> Result:
    result = begin(flow, env, draft)
    if welcome:
        result.replies.insert(0, say(t("reg.welcome")))
    return result


def _finish_open(result: Result, env: Env) -> Result:
    """When a flow handed over to another, open the next one in the same turn."""
    state = result.state
    if state.flow and state.step is None:
        flow = FLOWS.get(state.flow, MENU_FLOW)
        if flow.id == PRODUCT.id and not env.registered and not _saving_seller(result):
            flow = MENU_FLOW
        if flow.id == MENU_FLOW.id and env.acting_for:
            flow = HELPING  # while helping a shop, "menu" is that shop's menu
        refused = _refuse_role(flow.id, env)
        if refused is not None and not _acting_from_now(result):
            result.state = State(updated_at=env.now)
            result.replies.append(refused)
            return result
        opened = begin(flow, env, state.draft)
        opened.replies[:0] = result.replies
        opened.effects[:0] = result.effects
        return opened
    if state.flow and state.step and not result.replies:
        result.replies.append(ask(FLOWS[state.flow], state, env))
    return result


def _saving_seller(result: Result) -> bool:
    return any(isinstance(e, SaveSeller) for e in result.effects)


def _has_role(env: Env) -> bool:
    return bool(env.facilitator or env.is_admin)


def _refuse_role(flow_id: str, env: Env) -> Outbound | None:
    """The refusal for someone opening (or still in) a flow their role does not allow."""
    if flow_id in _FACILITATOR_FLOWS and not env.facilitator:
        return say(t("role.facilitator_only"))
    if flow_id in _ADMIN_FLOWS and not env.is_admin:
        return say(t("role.admin_only"))
    return None


def _acting_from_now(result: Result) -> bool:
    """The facilitator just picked a shop to help: this turn's env does not know it yet."""
    return any(isinstance(e, ActFor) and e.seller_id for e in result.effects)


def _role_command(state: State, env: Env, action: str) -> Result:
    flow = {"assisted": ASSISTED, "owners": OWNERS, "siaran": SIARAN}.get(action)
    if action == "stop_helping":
        if not env.acting_for:
            return Result(state, [say(t("fac.not_helping"))])
        shop = env.acting_for.get("shop_name") or "-"
        return Result(
            State(updated_at=env.now), [say(t("fac.done_helping", shop=shop))], [ActFor(None)]
        )
    assert flow is not None
    refused = _refuse_role(flow.id, env)
    if refused is not None:
        return Result(state, [refused])
    opened = begin(flow, env)
    opened.effects.extend(_keep_unfinished_product(state))
    if flow is ASSISTED and env.acting_for:
        opened.effects.append(ActFor(None))  # a new owner: stop working on the last one
    return opened


def _command_and_argument(text: str) -> tuple[str, str] | None:
    """'/pendamping K7M2Q9XA', 'kode 482913': without the slash only when it looks like one,
    so a shop called "Kode Kopi" is still a shop name."""
    found = _WITH_ARGUMENT.fullmatch(text.strip())
    if found is None:
        return None
    slash, command, argument = found.group(1), found.group(2).lower(), found.group(3).strip()
    if command == "code":
        command = "kode"
    looks_right = _INVITE.fullmatch(argument) if command == "pendamping" else read_code(argument)
    return (command, argument) if slash or looks_right else None


def _command_with_argument(state: State, env: Env, command: str, argument: str) -> Result:
    """/pendamping <invite code>, /kode <the owner's one-time code>."""
    value = argument.strip()
    if command == "pendamping":
        if not value:
            return Result(state, [say(t("fac.join_missing_code"))])
        return Result(state, [], [JoinAsFacilitator(value.upper()[:64])])
    if not env.facilitator:
        return Result(state, [say(t("role.facilitator_only"))])
    if not env.acting_for:
        return Result(state, [say(t("fac.not_helping"))])
    code = read_code(value)
    if code is None:
        return Result(state, [say(t("fac.consent_code_invalid"))])
    opened = begin(HELPING, env)
    opened.effects.append(GiveConsent(int(env.acting_for["id"]), code=code))
    return opened


def _start(state: State, env: Env, payload: str) -> Result:
    """/start, optionally with a deep-link payload (stored as the referral code)."""
    if payload.lower().startswith(INVITE_PREFIX):
        return Result(state, [], [JoinAsFacilitator(payload[len(INVITE_PREFIX) :].upper())])
    effects: list[Effect] = [StoreReferral(payload)] if payload else []
    if state.flow and state.step and state.flow != MENU_FLOW.id and (state.history or state.draft):
        state.pending = {"kind": "resume"}
        flow = FLOWS[state.flow]
        result = Result(state, [say(flow.resume_question, choices=RESUME_CHOICES)], effects)
        return result
    if env.consent_request and not env.registered:
        result = answer_consent(state, Inbound(user_key="", channel=env.channel), env)
        result.effects.extend(effects)
        return result
    if not env.registered and not _has_role(env):
        result = _open(REGISTRATION, env, welcome=True)
        result.effects.extend(effects)
        return result
    result = begin(HELPING if env.acting_for else MENU_FLOW, env)
    result.effects.extend(effects)
    return result
