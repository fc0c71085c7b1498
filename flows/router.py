"""The top of every conversation: commands, the menu, pauses, and which flow runs."""

from __future__ import annotations

import re
from typing import Any

from flows.account import ERASE, LANGUAGE, my_data
from flows.effects import (
    Effect,
    EraseMyData,
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
from flows.menu import MENU_FLOW
from flows.messages import Inbound, say, t
from flows.product import FIX_WORDS, PRODUCT, PRODUCT_FIELDS, PRODUCT_MORE
from flows.product_list import PRODUCT_LIST
from flows.registration import REGISTRATION

FLOWS: dict[str, Flow] = {
    f.id: f for f in (REGISTRATION, PRODUCT, PRODUCT_MORE, PRODUCT_LIST, MENU_FLOW, ERASE, LANGUAGE)
}
# Flows that interrupt another one and hand back to it when they end.
_SIDE_FLOWS = {ERASE.id, LANGUAGE.id}
PARKED = "_parked"
# WhatsApp's opt-out words (and plain-language ones); STOP is honoured on every channel.
_OPT_OUT = {"stop", "berhenti", "jangan kirim lagi", "unsubscribe", "stop kirim", "berhenti kirim"}
_OPT_IN = {"mulai", "start", "mulai lagi"}
_DEEP_LINK = re.compile(r"[A-Za-z0-9_-]{1,64}")  # what t.me/<bot>?start= may carry

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
    action = _COMMANDS.get(command)
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
        if not env.registered and state.flow is None:
            return _open(REGISTRATION, env, welcome=True)
        if state.flow is None or global_word(inbound)[0] == MENU:
            opened = begin(MENU_FLOW, env, {PARKED: _park(state)})
            opened.effects.extend(_keep_unfinished_product(state))
            return _finish_open(opened, env)

    assert state.flow is not None
    flow = FLOWS.get(state.flow, MENU_FLOW)
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
        opened = begin(flow, env, state.draft)
        opened.replies[:0] = result.replies
        opened.effects[:0] = result.effects
        return opened
    if state.flow and state.step and not result.replies:
        result.replies.append(ask(FLOWS[state.flow], state, env))
    return result


def _saving_seller(result: Result) -> bool:
    return any(isinstance(e, SaveSeller) for e in result.effects)


def _start(state: State, env: Env, payload: str) -> Result:
    """/start, optionally with a deep-link payload (stored as the referral code)."""
    effects: list[Effect] = [StoreReferral(payload)] if payload else []
    if state.flow and state.step and state.flow != MENU_FLOW.id and (state.history or state.draft):
        state.pending = {"kind": "resume"}
        flow = FLOWS[state.flow]
        result = Result(state, [say(flow.resume_question, choices=RESUME_CHOICES)], effects)
        return result
    if not env.registered:
        result = _open(REGISTRATION, env, welcome=True)
        result.effects.extend(effects)
        return result
    result = begin(MENU_FLOW, env)
    result.effects.extend(effects)
    return result
