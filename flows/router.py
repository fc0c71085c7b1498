"""The top of every conversation: commands, the menu, pauses, and which flow runs."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, TypeGuard

from flows.account import ERASE, LANGUAGE, my_data
from flows.admin import SIARAN
from flows.consent import OWN_DRAFT, answer_consent, erase_asked, own_draft_back
from flows.effects import (
    ActFor,
    DashboardLink,
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
    SUMMARY,
    Ctx,
    Env,
    Flow,
    Parsed,
    Result,
    State,
    advance_flow,
    answer_typed,
    ask,
    begin,
    changing_one_answer,
    current_choices,
    is_paused,
    reask,
    resume_question,
    takes_free_text,
)
from flows.facilitator import (
    ASSISTED,
    CONSENT_CODE,
    HELPING,
    INVITE_LENGTH,
    OWNERS,
    code_in_sentence,
    invite_attempt,
    owner_phone_problem,
    read_code,
)
from flows.faq import common_question
from flows.interpret import (
    Command,
    FreeText,
    GlobalWord,
    No,
    Nothing,
    Picked,
    Utterance,
    Yes,
    cleaned,
    interpret,
    read_text,
)
from flows.lexicon import CANCEL, HELP, MENU, lexicon, looks_english, normalize
from flows.menu import MENU_FLOW
from flows.messages import Inbound, Outbound, say, t
from flows.performance import performance
from flows.product import FIX_WORDS, PRODUCT, PRODUCT_FIELDS, PRODUCT_MORE, reopened
from flows.product_list import PRODUCT_LIST, with_kept_draft
from flows.registration import DECLINED, REGISTRATION, SELLER_FIELDS
from flows.state import CancelAsked, Confirm, RestartAsked, Resume

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
PARKED = "_parked"
INVITE_PREFIX = "pdp_"  # t.me/<bot>?start=pdp_<invite code> makes a facilitator
_ROLE_COMMANDS = {
    "register_owner": ASSISTED,
    "my_owners": OWNERS,
    "broadcast": SIARAN,
    "stop_helping": None,
}


def advance(state: State, inbound: Inbound, env: Env) -> Result:
    """Take one message from a person and decide everything that follows, purely."""
    inbound = cleaned(inbound)
    if env.helped_gone and state.flow in _HELPED_SHOP_FLOWS:
        return _helped_shop_gone(env)
    flow = FLOWS.get(state.flow or "")
    open_question = flow is not None and state.step is not None
    choices = current_choices(flow, state, env) if flow and open_question else ()
    loose = not (flow and open_question and takes_free_text(flow, state))
    said = interpret(inbound, choices, env.render, loose)
    handled = _command(state, said, env) or _invite_alone(state, inbound.text or "", env)
    if handled is not None:
        return handled
    if env.consent_request and not env.registered:
        return answer_consent(state, said, env, inbound.text or "")
    answered = _common_question(state, inbound, env, free_text=open_question and not loose)
    if answered is not None:
        return answered
    handled = _shortcut(state, said, env)
    if handled is not None:
        return handled
    return _continue(state, inbound, said, env)


def _common_question(state: State, inbound: Inbound, env: Env, free_text: bool) -> Result | None:
    """ "berapa biayanya?": answered, then what is open asked again; a newcomer's first
    message, then the terms (a yes after them agrees)."""
    answer = common_question(inbound, free_text)
    if answer is None:
        return None
    flow = FLOWS.get(state.flow or "")
    if flow is not None and state.step is not None:
        if _names_the_open_field(flow, state, inbound, env):  # "NIB bayar gak?": its own help
            return None
        return Result(state, [say(answer), reask(flow, state, env)])
    if not env.registered and state.flow is None and not _has_role(env):
        opened = _open(REGISTRATION, env, welcome=True, english=looks_english(inbound.text))
        opened.replies.insert(0, say(answer))
        return opened
    return Result(state, [say(answer)])


def _names_the_open_field(flow: Flow, state: State, inbound: Inbound, env: Env) -> bool:
    """The question is about what is asked ("caranya bikin NIB gimana?" at the NIB): the
    step's own help answers it, not a common answer about Pelapak."""
    said = set(normalize(inbound.text or "").replace("?", " ").split())
    for field in flow.fields:
        if state.step in (*field.steps, *field.asked_at):
            named = {state.step or "", *normalize(env.render(field.label)).split()}
            return bool(said & named)
    return False


# What a facilitator does for the shop they help: over once that shop is no longer theirs.
_HELPED_SHOP_FLOWS = frozenset(
    {REGISTRATION.id, PRODUCT.id, PRODUCT_MORE.id, PRODUCT_LIST.id, HELPING.id, CONSENT_CODE.id}
)
_HELPED_GONE = {
    "refused": t("fac.helped_refused"),
    "erased": t("fac.helped_erased"),
    "unavailable": t("fac.helped_unavailable"),
}


def _helped_shop_gone(env: Env) -> Result:
    """The shop's owner refused or erased it (or it is no longer this facilitator's) while
    the facilitator was working on it: nothing of it is saved, and they are told so."""
    result = begin(MENU_FLOW, env)
    result.replies.insert(
        0, say(_HELPED_GONE.get(env.helped_gone or "", _HELPED_GONE["unavailable"]))
    )
    return result


def _invite_alone(state: State, text: str, env: Env) -> Result | None:
    """An invite code typed alone ("ENB25EXG", as `pelapak facilitator add` prints it), in a
    few words ("kode saya ENB25EXG") or after /start: they join as a facilitator, as with
    /pendamping (the host checks the code; a wrong one is told so and counts as a try). One
    a letter short or long ("ENB25EX") is told what an invite code looks like. Only from
    someone with no shop, no role and no request waiting, with nothing open or at the
    sign-up's first question."""
    code = invite_attempt(text)
    if code is None or env.registered or _has_role(env) or env.consent_request:
        return None
    first = state.flow == REGISTRATION.id and state.step == REGISTRATION.first
    if not (state.flow is None or (first and not state.history)):
        return None
    if len(code) != INVITE_LENGTH:  # a letter short or long: no try counted, nothing started
        return Result(state, [say(t("fac.invite_misshapen", code=code, length=len(code)))])
    return Result(State(updated_at=env.now), [], [JoinAsFacilitator(code)])


def _command(state: State, said: Utterance, env: Env) -> Result | None:
    """Commands that work whatever is open, even a facilitator's request for consent."""
    match said:
        case Command(action="start", argument=payload):
            return _start(state, env, payload)
        case Command(action="opt_out"):
            return Result(state, [say(t("account.opted_out"))], [SetOptOut(True)])
        case Command(action="opt_in") if env.opted_out:
            result = _start(state, env, "")
            result.replies.insert(0, say(t("account.opted_in")))
            result.effects.append(SetOptOut(False))
            return result
        case Command(action="join" | "code" as action, argument=argument):
            return _command_with_argument(state, env, action, argument)
        case Command(action="erase") if env.consent_request and not env.registered:
            return erase_asked(state, env)  # a facilitator's registration is theirs to refuse
        case Command(action="erase") if env.facilitator:
            # erasing would take their role and cut their owners off, and "Toko X" in the
            # question was the shop they help: for an admin to do, and said so
            result = Result(state, [say(t("account.erase_facilitator"))])
            if state.flow and state.step and state.flow in FLOWS:
                result.replies.append(ask(FLOWS[state.flow], state, env))
            return result
        case Command(action="erase") if not env.registered and not _has_draft_data(state):
            result = Result(state, [say(t("account.nothing_to_erase"))])
            if state.flow and state.step and state.flow in FLOWS:
                result.replies.append(ask(FLOWS[state.flow], state, env))
            return result
        case Command(action="erase" | "language" as action):
            return _side_flow(FLOWS[action], state, env)
    return None


def _shortcut(state: State, said: Utterance, env: Env) -> Result | None:
    """Commands and words that leave the open question: roles, my data, fixing a product."""
    match said:
        case Command(action=action) if action in _ROLE_COMMANDS:
            return _role_command(state, env, action)
        case Command(action="dashboard"):
            if not _has_role(env):
                return Result(state, [say(t("dash.chat.not_allowed"))])
            return Result(state, [], [DashboardLink()])
        case Command(action="performance"):
            return _then_the_question(Result(state, performance(env)), env)
        case Command(action="my_data"):
            shown = my_data(env, state.draft if state.flow == REGISTRATION.id else {})
            return _then_the_question(Result(state, [shown]), env)
        case Command(action="register") if not env.registered and state.flow != REGISTRATION.id:
            parked = state.draft.get(PARKED)
            if parked and parked["flow"] == REGISTRATION.id:  # from the menu: where they were
                return _unpark(Result(state), parked, env)
            return _open(REGISTRATION, env, welcome=True)
        case GlobalWord(kind="edit", rest=rest) if (
            rest and env.registered and (state.flow in (None, MENU_FLOW.id))
        ):
            return _fix_product(env, rest)
    return None


def _then_the_question(result: Result, env: Env) -> Result:
    """An answer on the side (/performa, /data_saya), then the open question again."""
    state = result.state
    if state.flow and state.step:
        result.replies.append(ask(FLOWS[state.flow], state, env))
    return result


def _continue(state: State, inbound: Inbound, said: Utterance, env: Env) -> Result:
    """Everything else goes to the open flow, or opens registration or the menu."""
    menu_word = isinstance(said, GlobalWord) and said.kind == MENU
    if menu_word or state.flow is None:
        return _open_home(state, inbound, said, env, menu_word)
    flow = FLOWS.get(state.flow, MENU_FLOW)
    refused = _refuse_role(flow.id, env)
    if refused is not None:
        return Result(State(updated_at=env.now), [refused])
    if state.step is None:
        return _finish_open(begin(flow, env, state.draft), env)
    welcomed = _answers_after_a_pause(flow, state, inbound, said, env)
    if welcomed:
        state.updated_at = env.now  # not paused any more: the answer is read as sent now
    kept = _after_a_pause(flow, state, said, env) or _left_open(state, inbound, said, env)
    if kept is not None:
        return kept
    parked: dict[str, Any] | None = state.draft.get(PARKED)
    result = _helped_shop_number(advance_flow(flow, state, inbound, env, said), env)
    if parked and _back_to_parked(result, parked) and not _stops_acting(result):
        return _unpark(result, parked, env)
    registration = parked if _registration_parked(parked) else _parked_assisted(state)
    if registration and result.state.flow in _KEEPS_PARKED:  # "Bantuan" shows the menu again
        result.state.draft.setdefault(PARKED, registration)
    if welcomed:
        result.replies.insert(0, say(t("engine.welcome_back")))
    return _keep_under_shop_edit(state, _finish_open(result, env))


def _answers_after_a_pause(
    flow: Flow, state: State, inbound: Inbound, said: Utterance, env: Env
) -> bool:
    """Back after a long pause with a plain answer to the open question ("15rb" at the price,
    "1" at the minimum order, typed or picked):
    taken at once, after a short welcome back, instead of asking whether to go on (which lost
    it). Never where a name is asked ("maaf baru sempat" is none) nor with a "betul?" open."""
    if flow.id == MENU_FLOW.id or not is_paused(state, env) or state.pending is not None:
        return False
    step = flow.steps.get(state.step or "")
    if step is None or step.free_text or not isinstance(said, FreeText | Picked):
        return False
    return isinstance(step.read(inbound, Ctx(state.draft, env, said)), Parsed)


def _after_a_pause(flow: Flow, state: State, said: Utterance, env: Env) -> Result | None:
    """Back after a long pause: asked whether to go on ("lanjut" goes on at once). The menu is
    never "paused": it is only a list to pick from, and "mulai dari awal" there would have
    dropped a registration left for it."""
    asked = isinstance(state.pending, Resume) and not state.pending.later  # "nanti aja" is no ask
    if flow.id == MENU_FLOW.id or not is_paused(state, env) or asked:
        return None
    state.updated_at = env.now
    if isinstance(state.pending, Confirm):  # a "betul?" left open: kept, and asked again
        if isinstance(said, Yes | No):
            return None  # "iya" a day later answers it
        return Result(state, [say(t("engine.welcome_back")), reask(flow, state, env)])
    if isinstance(said, Yes) and said.pure:
        return Result(state, [ask(flow, state, env)])
    state.pending = Resume()
    return Result(state, [resume_question(flow, state, env)])


def _left_open(state: State, inbound: Inbound, said: Utterance, env: Env) -> Result | None:
    """What is open left for something else (a draft kept, the shop's change or a product
    left for the menu's answer), or None when the message is for what is open."""
    return (
        _draft_kept(state, said, env)
        or _leave_shop_edit(state, inbound, env)
        or _leave_product(state, inbound, env)
        or _leave_product_list(state, inbound, env)
    )


def _keep_under_shop_edit(state: State, result: Result) -> Result:
    """The helped shop's "Ubah data toko" with a /daftarkan kept under its menu: the menu is
    kept under the change ("batal" goes back to it), with the /daftarkan, and said so."""
    opened = result.state
    if state.flow != HELPING.id or opened.flow != REGISTRATION.id or not opened.step:
        return result
    if _parked_assisted(state) is None:
        return result
    opened.draft[PARKED] = _park(state)
    result.replies.insert(0, say(t("fac.draft_kept")))
    return result


def _open_home(
    state: State, inbound: Inbound, said: Utterance, env: Env, menu_word: bool
) -> Result:
    """ "menu", or a message with nothing open: the menu (registration for a newcomer)."""
    own = state.draft.get(OWN_DRAFT) if state.flow is None and not env.registered else None
    if own:  # put aside for a facilitator's request that is gone now: theirs again
        return own_draft_back(own, env, [])
    if not env.registered and state.flow is None and not _has_role(env):
        if state.draft.get(DECLINED) and _agrees(said, inbound.text or ""):
            opened = begin(REGISTRATION, env)  # "mboten", then "eh iya deh setuju": the yes
            return advance_flow(REGISTRATION, opened.state, inbound, env, Yes())
        return _open(REGISTRATION, env, welcome=True, english=looks_english(inbound.text))
    home = HELPING if env.acting_for else MENU_FLOW
    parked = _parked_assisted(state) if _editing_shop(state, env) else _park(state)
    opened = begin(home, env, {PARKED: parked})
    kept = _keep_unfinished_product(state, env)
    opened.replies[:0] = (
        _unsaved_shop_edit(state, env)
        + _unsaved_product_edit(state, env)
        + _assisted_kept(state)
        + ([say(t("product.draft_kept"))] if kept else [])
    )
    opened.effects.extend(kept)
    if state.flow is None and not menu_word:  # after "batal": "produk saya" is acted on
        return _home_answers(opened, inbound, env)
    return _finish_open(opened, env)


def _home_answers(opened: Result, inbound: Inbound, env: Env) -> Result:
    """Nothing was open (a flow ended, "batal"): the message answers the menu just opened.

    "produk saya", "tambah produk", a photo or "bantuan" is acted on at once; what picks
    nothing there ("halo", or a number for a list not shown yet) gets the menu itself.
    """
    flow = FLOWS[opened.state.flow or MENU_FLOW.id]
    said = interpret(inbound, current_choices(flow, opened.state, env), env.render)
    if isinstance(said, Picked) and (inbound.text or "").strip().isdigit():
        return opened
    state = replace(opened.state, draft=dict(opened.state.draft))
    answered = advance_flow(flow, state, inbound, env, said)
    helped = isinstance(said, GlobalWord) and said.kind == HELP
    if answered.state.flow == flow.id and answered.state.step == flow.first and not helped:
        return opened  # not one of its options: the menu, not "pilih salah satu"
    return _finish_open(answered, env)


def _agrees(said: Utterance, text: str) -> bool:
    """A yes that names the agreement ("setuju", "eh iya deh setuju"): after the terms were
    refused, a bare "ya" may only acknowledge that, so it shows them again."""
    if isinstance(said, GlobalWord) and said.correction:  # "eh iya, setuju"
        said = read_text(said.rest)
    agree = {p for p in lexicon().answers.get("consent", {}).get("agree", ()) if " " not in p}
    return isinstance(said, Yes) and bool(agree & set(normalize(text).split()))


def _back_to_parked(result: Result, parked: dict[str, Any]) -> bool:
    """A side flow ended, or the menu's "Daftar toko" while registering: back where they were.

    (A product left for the menu was kept as a draft; "Tambah produk" starts a new one.)
    """
    if any(isinstance(e, EraseMyData) for e in result.effects) or result.state.step is not None:
        return False
    ended = result.state.flow is None
    return ended or (result.state.flow == parked["flow"] and _registration_parked(parked))


def _has_draft_data(state: State) -> bool:
    """Whether an owner who is not registered yet has given us anything (after consent),
    in the registration open or in the one left for the menu."""
    parked = state.draft.get(PARKED)
    if _registration_parked(parked):
        return bool(parked["draft"].get("consent_version"))
    return state.flow == REGISTRATION.id and bool(state.draft.get("consent_version"))


def _registration_parked(parked: Any) -> TypeGuard[dict[str, Any]]:
    """A registration left for the menu: the owner's own, or a facilitator's /daftarkan."""
    return isinstance(parked, dict) and parked.get("flow") in (REGISTRATION.id, ASSISTED.id)


# Where a registration left for the menu is carried along: the menu, and the facilitator's
# /binaan and the shop they pick there (/daftarkan goes back to it from any of them).
_KEEPS_PARKED = (MENU_FLOW.id, OWNERS.id, HELPING.id)


def _parked_assisted(state: State) -> dict[str, Any] | None:
    """A facilitator's /daftarkan left for the menu or /binaan, maybe under a shop's menu."""
    parked = state.draft.get(PARKED)
    for _ in range(3):
        if not isinstance(parked, dict) or parked.get("flow") == ASSISTED.id:
            break
        parked = (parked.get("draft") or {}).get(PARKED)
    return parked if _registration_parked(parked) and parked["flow"] == ASSISTED.id else None


def closed_for_refusal(state: State) -> State:
    """The facilitator's chat once the owner of the shop they help answered TOLAK: whatever
    was open for that shop (its menu, a product, a change of its data) is closed, and the
    next message gets their own menu; a /daftarkan left half-way is still kept for it."""
    if state.flow not in _HELPED_SHOP_FLOWS:
        return state
    kept = _parked_assisted(state)
    return State(
        flow=MENU_FLOW.id, draft={PARKED: kept} if kept else {}, updated_at=state.updated_at
    )


def _assisted_kept(state: State) -> list[Outbound]:
    """Said when a /daftarkan half-way is left for the menu or /binaan: it is kept."""
    return [say(t("fac.draft_kept"))] if state.flow == ASSISTED.id and state.step else []


def _unpark(result: Result, parked: dict[str, Any], env: Env) -> Result:
    """A side flow (erase, language) ended: back to where the person was."""
    restored = _restored(parked, env)
    if isinstance(restored.pending, CancelAsked):  # "yakin dibatalkan?" is not shown now
        restored.pending = None
    result.state = restored
    if restored.flow and restored.step:
        result.replies.append(ask(FLOWS[restored.flow], restored, env))
    return result


def _restored(parked: dict[str, Any], env: Env) -> State:
    return State.load(parked["flow"], parked["step"], parked["draft"], parked["meta"], env.now)


def _fix_product(env: Env, rest: str) -> Result | None:
    """'ubah harga' after a marketplace refusal: open that product right at the field."""
    field_id = FIX_WORDS.get(rest.split()[0])
    field = next((f for f in PRODUCT.fields if f.id == field_id), None)
    product = next((p for p in env.products if p.get("status") == "needs_fix"), None)
    if field is None or product is None:
        return None
    draft = reopened({**(product.get("data") or {}), "product_id": product["id"]}, env)
    state = State(
        flow=PRODUCT.id,
        step=field.steps[0],
        draft=draft,
        history=[SUMMARY],
        edit_queue=list(field.steps[1:]),
        updated_at=env.now,
    )
    return Result(state, [ask(PRODUCT, state, env)])


def _keep_unfinished_product(state: State, env: Env) -> list[SaveProductDraft]:
    """Leaving a new product half-way keeps it as a draft that 'Produk saya' can continue.

    Leaving the edit of a listed product keeps the listing as it was: nothing is saved.
    """
    if state.flow != PRODUCT.id or not state.draft.get("photos"):
        return []
    product_id = state.draft.get("product_id")
    listed = next((p for p in env.products if p.get("id") == product_id), None)
    if listed is not None and listed.get("status") != "draft":
        return []
    if product_id and listed is None:  # deleted meanwhile (the owner, their facilitator)
        return []
    data = {key: state.draft.get(key) for key in PRODUCT_FIELDS}
    return [SaveProductDraft(data, product_id=product_id)]


def _draft_kept(state: State, said: Utterance, env: Env) -> Result | None:
    """ "batal" in a product draft continued from "Produk saya": the draft stays, with the
    answers given since (as when leaving it for the menu), and the owner is told so. Nothing
    is thrown away, so there is no "yakin?" either. (While one answer is being changed,
    "batal" undoes that change, as anywhere.)"""
    if state.flow != PRODUCT.id or not (isinstance(said, GlobalWord) and said.kind == CANCEL):
        return None
    if changing_one_answer(state):
        return None
    if said.means_no and isinstance(state.pending, RestartAsked):
        return None  # "gak jadi" to "mulai lagi dari awal?": no, go on with the draft
    product_id = state.draft.get("product_id")
    listed = next((p for p in env.products if p.get("id") == product_id), None)
    if listed is None or listed.get("status") != "draft":
        return None
    saved = _keep_unfinished_product(state, env)
    return Result(State(updated_at=env.now), [say(t("product.draft_kept"))], list(saved))


def _editing_shop(state: State, env: Env) -> bool:
    """The registered shop's data is being changed ("Ubah data toko")."""
    return env.registered and state.flow == REGISTRATION.id


_PHONE_STEPS = ("phone", "phone_confirm")


def _helped_shop_number(result: Result, env: Env) -> Result:
    """A facilitator changing the number of the shop they help (its "Ubah data toko").

    A live shop's number is its owner's own contact: refused, as soon as it is asked for. A
    shop awaiting consent may be corrected (its request moves to the new number), but not to
    the facilitator's own number or another shop's. Either way, back at the summary.
    """
    shop = env.acting_for or {}
    state = result.state
    if not shop or state.flow != REGISTRATION.id or not state.step:
        return result
    typed = state.draft.get("phone")
    if shop.get("status") == "active":
        asked = state.step in _PHONE_STEPS or typed != shop.get("phone")
        refusal = t("fac.phone_owner_only", shop=shop.get("shop_name") or "-") if asked else None
    elif typed and typed != shop.get("phone") and state.step == SUMMARY:
        refusal = owner_phone_problem(typed, env, shop_id=shop.get("id"))
    else:
        refusal = None
    if refusal is None:
        return result
    state.draft.update(phone=shop.get("phone"), phone_verified=shop.get("phone_verified"))
    state.step, state.pending, state.edit_queue = SUMMARY, None, []
    state.return_to, state.before_edit, state.changes = None, None, []
    return Result(state, [say(refusal), ask(REGISTRATION, state, env)], result.effects)


def _unsaved_shop_edit(state: State, env: Env) -> list[Outbound]:
    """Leaving the change of the shop's data before "Simpan": said, when something changed."""
    seller = env.seller or {}
    changed = any(state.draft.get(key) != seller.get(key) for key in SELLER_FIELDS)
    return [say(t("reg.edit_not_saved"))] if _editing_shop(state, env) and changed else []


def _leave_shop_edit(state: State, inbound: Inbound, env: Env) -> Result | None:
    """ "Produk saya" or "tambah produk" at the summary of the shop's change: it is left (the
    owner told a change was not saved) and the menu's answer acted on, not "belum jelas"."""
    if not (_editing_shop(state, env) and state.step == SUMMARY):
        return None
    if lexicon().answer("menu", normalize(inbound.text)) not in ("product", "products"):
        return None
    home = HELPING if env.acting_for else MENU_FLOW
    result = _home_answers(begin(home, env, {PARKED: _parked_assisted(state)}), inbound, env)
    result.replies[:0] = _unsaved_shop_edit(state, env)
    return result


# The menu's answers that leave a product for another place; only a phrase of two words or
# more ("produk saya", "tambah produk"), or one word saying "my" ("produkku"): a lone "foto"
# or "jual" may well answer a question.
_LEAVING_PRODUCT = ("product", "products", "edit_shop")


def _menu_phrase(phrase: str) -> str | None:
    """The menu's answer a phrase names where a question is open (see _LEAVING_PRODUCT)."""
    if len(phrase.split()) >= 2 or phrase.endswith("ku"):
        return lexicon().answer("menu", phrase)
    return None


def _leave_product(state: State, inbound: Inbound, env: Env) -> Result | None:
    """ "Produk saya", "tambah produk" or "ubah data toko" at a product's question or summary
    is never its name: the product is left as with "menu" (a new one kept as a draft, a
    listed one as it was, the owner told when a change was not saved) and the menu's answer
    acted on."""
    if state.flow != PRODUCT.id or not state.step:
        return None
    phrase = normalize(inbound.text)
    asked = _menu_phrase(phrase)
    if asked not in _LEAVING_PRODUCT:
        return None
    kept = _keep_unfinished_product(state, env)
    home = HELPING if env.acting_for else MENU_FLOW
    if kept and not state.draft.get("product_id"):  # a new draft: listed as it is kept
        env = with_kept_draft(env, kept[0].data)
    result = _home_answers(begin(home, env), inbound, env)
    notes = [say(t("product.draft_kept"))] if kept else _unsaved_product_edit(state, env)
    result.replies[:0] = notes
    result.effects[:0] = kept
    return result


def _leave_product_list(state: State, inbound: Inbound, env: Env) -> Result | None:
    """ "Produk saya" at "yakin hapus?", "ubah data toko" in the list: the menu's answer, acted
    on (nothing deleted, and said so when a delete was being asked), not "belum jelas"."""
    if state.flow != PRODUCT_LIST.id or not state.step:
        return None
    phrase = normalize(inbound.text)
    asked = _menu_phrase(phrase)
    if asked not in _LEAVING_PRODUCT:
        return None
    home = HELPING if env.acting_for else MENU_FLOW
    result = _home_answers(begin(home, env), inbound, env)
    if state.step == "confirm_delete":
        result.replies.insert(0, say(t("products.kept")))
    return result


def _unsaved_product_edit(state: State, env: Env) -> list[Outbound]:
    """Leaving the change of a listed product before "Simpan": said, when something changed."""
    product_id = state.draft.get("product_id")
    listed = next((p for p in env.products if p.get("id") == product_id), None)
    if state.flow != PRODUCT.id or listed is None or listed.get("status") == "draft":
        return []
    data = listed.get("data") or {}
    changed = any(state.draft.get(key) != data.get(key) for key in PRODUCT_FIELDS)
    return [say(t("product.edit_not_saved"))] if changed else []


def _park(state: State) -> dict[str, Any] | None:
    """Where the person was, to come back to; from the menu, what the menu was opened from
    (a registration left for "menu", then "menu" again, is still there)."""
    if state.flow == MENU_FLOW.id:
        kept: dict[str, Any] | None = state.draft.get(PARKED)
        return kept if _registration_parked(kept) else None
    if not state.flow or not state.step:
        return None
    return {"flow": state.flow, "step": state.step, "draft": state.draft, "meta": state.meta()}


def _side_flow(flow: Flow, state: State, env: Env) -> Result:
    if state.flow == flow.id:  # asked again while it is open: the same question again
        return Result(state, [ask(flow, state, env)] if state.step else [])
    return begin(flow, env, {PARKED: _park(state)})


def _open(flow: Flow, env: Env, welcome: bool = False, english: bool = False) -> Result:
    result = begin(flow, env)
    if welcome:
        result.replies.insert(0, say(t("reg.welcome")))
    if english and env.locale != "en":
        result.replies.insert(1, say(t("reg.language_hint")))
    return result


def _finish_open(result: Result, env: Env) -> Result:
    """When a flow handed over to another, open the next one in the same turn."""
    state = result.state
    if state.flow and state.step is None:
        flow = FLOWS.get(state.flow, MENU_FLOW)
        if flow.id == PRODUCT.id and not env.registered and not _saving_seller(result):
            flow = MENU_FLOW
        if flow.id == MENU_FLOW.id and env.acting_for and not _stops_acting(result):
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
    if state.flow and state.step and result.answer:  # "ubah harga 20rb": the 20rb, now
        return answer_typed(FLOWS[state.flow], result, env)
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


def _stops_acting(result: Result) -> bool:
    """ "Selesai membantu" was just picked: this turn's env still names the shop."""
    return any(isinstance(e, ActFor) and e.seller_id is None for e in result.effects)


def _acting_from_now(result: Result) -> bool:
    """The facilitator just picked a shop to help: this turn's env does not know it yet."""
    return any(isinstance(e, ActFor) and e.seller_id for e in result.effects)


def _role_command(state: State, env: Env, action: str) -> Result:
    flow = _ROLE_COMMANDS[action]
    if flow is None:  # stop_helping
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
    parked = _parked_assisted(state)
    if flow is ASSISTED and parked is not None:  # left for the menu or /binaan: go on
        opened = _unpark(Result(state), parked, env)
    else:
        kept = _park(state) if state.flow == ASSISTED.id else _parked_assisted(state)
        kept = kept if flow is OWNERS else None
        draft = {PARKED: kept} if _registration_parked(kept) else None
        opened = begin(flow, env, draft)
        opened.replies[:0] = _assisted_kept(state) if kept else []
    opened.effects.extend(_keep_unfinished_product(state, env))
    if flow is ASSISTED and env.acting_for:
        opened.effects.append(ActFor(None))  # a new owner: stop working on the last one
    return opened


def _command_with_argument(state: State, env: Env, command: str, argument: str) -> Result:
    """/pendamping <invite code>, /kode <the owner's one-time code>."""
    value = argument.strip()
    if command == "join":
        if not value:
            return Result(state, [say(t("fac.join_missing_code"))])
        return Result(state, [], [JoinAsFacilitator(value.upper()[:64])])
    if not env.facilitator:
        return Result(state, [say(t("role.facilitator_only"))])
    if not env.acting_for:
        return Result(state, [say(t("fac.not_helping"))])
    code = read_code(value) or code_in_sentence(value)
    if code is None:
        return Result(state, [say(t("fac.consent_code_invalid"))])
    opened = begin(HELPING, env)
    opened.effects.append(GiveConsent(int(env.acting_for["id"]), code=code))
    return opened


def _start(state: State, env: Env, payload: str) -> Result:
    """/start, optionally with a deep-link payload (stored as the referral code)."""
    if payload.lower().startswith(INVITE_PREFIX):
        return Result(state, [], [JoinAsFacilitator(payload[len(INVITE_PREFIX) :].upper())])
    joining = _invite_alone(state, payload, env)  # "/start ENB25EXG"
    if joining is not None:
        return joining
    effects: list[Effect] = [StoreReferral(payload)] if payload else []
    if env.consent_request and not env.registered:  # before their own draft, as any message
        result = answer_consent(state, Nothing(), env)
        result.effects.extend(effects)
        return result
    parked = state.draft.get(PARKED) if state.flow == MENU_FLOW.id else None
    if _registration_parked(parked):  # a registration left for the menu: offer to go on
        state = _restored(parked, env)
    if state.flow and state.step and state.flow != MENU_FLOW.id and (state.history or state.draft):
        state.pending = Resume()
        flow = FLOWS[state.flow]
        result = Result(state, [resume_question(flow, state, env)], effects)
        return result
    own = state.draft.get(OWN_DRAFT) if state.flow is None and not env.registered else None
    if own:  # put aside for a facilitator's request that is gone now: theirs again
        result = own_draft_back(own, env, [])
        result.effects.extend(effects)
        return result
    if not env.registered and not _has_role(env):
        result = _open(REGISTRATION, env, welcome=True)
        result.effects.extend(effects)
        return result
    result = begin(HELPING if env.acting_for else MENU_FLOW, env)
    result.effects.extend(effects)
    return result
