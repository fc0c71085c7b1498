"""Fuzz: both webhooks over a real socket, with hypothesis-made payloads.

One real web app per test (uvicorn on a loopback port, the fake platform on another), reused
across examples. Telegram updates are posted with the right secret and Twilio forms are
signed correctly, so only the payload is under test:

- well-formed shapes with random values (any text, button data, contacts, locations, photos
  that cannot be downloaded, stickers): 200, and once processed, answers to that chat only,
  the update processed once on the first attempt;
- mutated shapes (a field removed or replaced by any JSON) and garbage: a 4xx or a 200,
  never a 500;
- and in the end: every stored update processed, no error logged, no message to a chat that
  did not write.
"""

from __future__ import annotations

import copy
import json
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import col, select
from twilio.request_validator import RequestValidator

from bot.app import build_app
from bot.config import Settings
from bot.storage.models import InboundUpdate
from tests import images
from tests.fake_telegram import FakeTelegram
from tests.fake_twilio import ACCOUNT_SID, AUTH_TOKEN, FakeTwilio
from tests.test_fuzz_flows import ODD_TEXTS
from tests.test_telegram import SECRET, telegram_settings
from tests.test_telegram import Running as TelegramRunning
from tests.test_whatsapp import BOT_NUMBER, PUBLIC, whatsapp_settings
from tests.test_whatsapp import Running as WhatsAppRunning

EXAMPLES = settings(
    max_examples=70,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
FAST = {"inbox_settle_seconds": 0.01, "inbox_gap_hold_seconds": 0.05, "album_seconds": 0.05}

# Text a platform can deliver: any character but a NUL or half a surrogate pair.
DELIVERABLE = st.characters(codec="utf-8", exclude_characters="\x00")


def _deliverable(text: str) -> bool:
    return "\x00" not in text and not any(0xD800 <= ord(c) <= 0xDFFF for c in text)


ODD = [t for t in ODD_TEXTS if _deliverable(t)]
ENCODABLE = [t for t in ODD_TEXTS if not any(0xD800 <= ord(c) <= 0xDFFF for c in t)]
TEXTS = st.one_of(
    st.text(DELIVERABLE, max_size=60),
    st.sampled_from(ODD),
    st.text(DELIVERABLE, min_size=1000, max_size=4096),
)
JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


def wait_until(predicate: Callable[[], bool], what: str) -> None:
    """Until `what` happened (pytest-timeout stops a test that would wait for ever)."""
    while not predicate():
        time.sleep(0.01)


class Counter:
    def __init__(self, start: int) -> None:
        self.value = start

    def __call__(self) -> int:
        self.value += 1
        return self.value


def no_errors(caplog: pytest.LogCaptureFixture) -> None:
    bad = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert not bad, [f"{r.name}: {r.getMessage()}" for r in bad]


def all_processed(db: Any) -> Callable[[], bool]:
    def check() -> bool:
        with db.session() as s:
            waiting = s.exec(
                select(InboundUpdate).where(col(InboundUpdate.processed_at).is_(None))
            ).all()
        return not waiting

    return check


# --- Telegram ---------------------------------------------------------------------------------


def _telegram_update(update_id: int, user: int, kind: str, value: Any) -> dict[str, Any]:
    person = {"id": user, "is_bot": False, "first_name": "Sri", "language_code": "id"}
    chat = {"id": user, "type": "private", "first_name": "Sri"}
    message: dict[str, Any] = {
        "message_id": update_id,
        "date": 1_780_000_000,
        "chat": chat,
        "from": person,
    }
    if kind == "callback":
        return {
            "update_id": update_id,
            "callback_query": {
                "id": f"cb{update_id}",
                "chat_instance": "ci",
                "from": person,
                "data": value,
                "message": {**message, "from": {**person, "id": 42, "is_bot": True}},
            },
        }
    if kind == "text":
        message["text"] = value
    elif kind == "contact":
        phone, own = value
        message["contact"] = {"phone_number": phone, "first_name": "Sri"}
        if own:
            message["contact"]["user_id"] = user
    elif kind == "location":
        message["location"] = {"latitude": value[0], "longitude": value[1]}
    elif kind == "photo":
        message["photo"] = [{"file_id": value, "file_unique_id": "u", "width": 90, "height": 90}]
        message["caption"] = "Keripik"
    elif kind == "sticker":
        message["sticker"] = {
            "file_id": value,
            "file_unique_id": "u",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "type": "regular",
        }
    return {"update_id": update_id, "message": message}


TELEGRAM_VALUES = st.one_of(
    st.tuples(st.just("text"), TEXTS.filter(str.strip)),
    st.tuples(
        st.just("callback"),
        st.one_of(
            st.text(DELIVERABLE, max_size=64).filter(lambda d: len(d.encode()) <= 64),
            st.sampled_from(["yes", "no", "#menu", "#", "__cancel__", "s:1", "p:99", "3515"]),
        ),
    ),
    st.tuples(
        st.just("contact"),
        st.tuples(
            st.one_of(
                st.text(DELIVERABLE, max_size=20), st.from_regex(r"\+?[0-9]{1,20}", fullmatch=True)
            ),
            st.booleans(),
        ),
    ),
    st.tuples(
        st.just("location"),
        st.tuples(st.floats(-90, 90, allow_nan=False), st.floats(-180, 180, allow_nan=False)),
    ),
    st.tuples(st.just("sticker"), st.text("abcXYZ019_-", min_size=1)),
    st.tuples(st.just("photo"), st.integers(1, 10**6)),  # a real photo, made when posted
)


def _mutate(update: dict[str, Any], path_pick: int, action: str, value: Any) -> dict[str, Any]:
    """The update with one field (picked among all nested ones) removed or replaced."""
    mutated = copy.deepcopy(update)
    places: list[tuple[dict[str, Any], str]] = []
    stack: list[Any] = [mutated]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key, inner in item.items():
                if key != "update_id":  # the numbering stays ours (see FAST's gap hold)
                    places.append((item, key))
                stack.append(inner)
        elif isinstance(item, list):
            stack.extend(item)
    parent, key = places[path_pick % len(places)]
    if action == "drop":
        del parent[key]
    elif action == "rename":  # a message as an edit, a channel post, a reply...
        parent[RENAMES[path_pick % len(RENAMES)]] = parent.pop(key)
    else:
        parent[key] = value
    return mutated


RENAMES = [
    "edited_message",
    "channel_post",
    "edited_channel_post",
    "business_message",
    "reply_to_message",
    "callback_query",
    "message",
    "text",
    "caption",
    "chat",
    "from",
]


@pytest.fixture
def tg(settings: Settings, fake: FakeTelegram) -> Iterator[TelegramRunning]:
    app = build_app(telegram_settings(settings, fake, **FAST))
    server = TelegramRunning(app)
    yield server
    server.stop()
    app.close()


@pytest.mark.slow
def test_telegram_webhook_fuzzed(
    tg: TelegramRunning, fake: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    next_update, next_user = Counter(10_000), Counter(900_000)
    wrote: set[int] = set()
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET, "Content-Type": "application/json"}

    def post(body: bytes) -> int:
        return tg.http.post(tg.url, content=body, headers=headers).status_code

    @EXAMPLES
    @given(sent=TELEGRAM_VALUES)
    def well_formed(sent: tuple[str, Any]) -> None:
        user, update_id = next_user(), next_update()
        wrote.add(user)
        if sent[0] == "photo":
            sent = ("photo", fake.add_file(images.sharp(sent[1])))
        assert post(json.dumps(_telegram_update(update_id, user, *sent)).encode()) == 200
        wait_until(lambda: bool(fake.sent(user)), f"an answer to {sent!r}")
        with tg.app.db.session() as s:
            row = s.exec(
                select(InboundUpdate).where(InboundUpdate.update_id == str(update_id))
            ).one()
        wait_until(lambda: _processed(tg.app.db, str(update_id)), "processing")
        assert row.attempts <= 1, f"{sent!r} was retried: the first attempt failed"

    @EXAMPLES
    @given(
        sent=TELEGRAM_VALUES,
        pick=st.integers(0, 1000),
        action=st.sampled_from(["drop", "replace", "rename"]),
        value=JSON,
    )
    def mutated(sent: tuple[str, Any], pick: int, action: str, value: Any) -> None:
        user = next_user()
        if sent[0] == "photo":
            sent = ("photo", fake.add_file(images.sharp(sent[1])))
        update = _mutate(_telegram_update(next_update(), user, *sent), pick, action, value)
        status = post(json.dumps(update).encode())
        assert status in (200, 400), (status, update)
        if status == 200:
            wrote.update(_chats_in(update))

    @EXAMPLES
    @given(body=st.one_of(st.binary(max_size=200), JSON.map(lambda v: json.dumps(v).encode())))
    def garbage(body: bytes) -> None:
        assert post(body) in (200, 400)

    well_formed()
    mutated()
    garbage()
    wait_until(all_processed(tg.app.db), "every stored update processed")
    answered = {int(m["chat_id"]) for m in fake.sent()}
    assert answered <= wrote, answered - wrote
    no_errors(caplog)


def _processed(db: Any, update_id: str) -> bool:
    with db.session() as s:
        row = s.exec(select(InboundUpdate).where(InboundUpdate.update_id == update_id)).one()
    return row.processed_at is not None


def _chats_in(value: Any) -> set[int]:
    """Every chat and user id in a payload: the only places an answer may go."""
    found: set[int] = set()
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key, inner in item.items():
                if key in ("id", "chat_id", "user_id") and isinstance(inner, int):
                    found.add(inner)
                stack.append(inner)
        elif isinstance(item, list):
            stack.extend(item)
    return found


# --- WhatsApp through Twilio ------------------------------------------------------------------

FIELDS = [
    "MessageSid",
    "SmsSid",
    "AccountSid",
    "From",
    "To",
    "Body",
    "NumMedia",
    "ProfileName",
    "WaId",
    "ButtonPayload",
    "ButtonText",
    "Latitude",
    "Longitude",
    "Address",
    "Label",
    "MediaUrl0",
    "MediaContentType0",
    "MessageType",
    "MessageStatus",
    "ErrorCode",
]
SHORT = st.text(DELIVERABLE, max_size=40)


@pytest.fixture
def wa(settings: Settings, twilio: FakeTwilio) -> Iterator[WhatsAppRunning]:
    app = build_app(whatsapp_settings(settings, twilio, **FAST))
    server = WhatsAppRunning(app)
    yield server
    server.stop()
    app.close()


def _extras(twilio: FakeTwilio) -> st.SearchStrategy[dict[str, str]]:
    media = f"{twilio.url}/media/ME404"
    return st.one_of(
        st.just({}),
        st.tuples(SHORT, SHORT).map(lambda p: {"ButtonPayload": p[0] or "x", "ButtonText": p[1]}),
        st.tuples(st.floats(-90, 90, allow_nan=False), st.floats(-180, 180, allow_nan=False)).map(
            lambda at: {"Latitude": repr(at[0]), "Longitude": repr(at[1]), "Body": ""}
        ),
        st.sampled_from(["image/jpeg", "audio/ogg", "video/mp4", "application/pdf", ""]).map(
            lambda kind: {"NumMedia": "1", "MediaUrl0": media, "MediaContentType0": kind}
        ),
    )


@pytest.mark.slow
def test_twilio_webhook_fuzzed(
    wa: WhatsAppRunning, twilio: FakeTwilio, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    next_sid, next_phone = Counter(0), Counter(6_281_300_000_000)
    wrote: set[str] = set()
    validator = RequestValidator(AUTH_TOKEN)

    def post(path: str, form: dict[str, str]) -> int:
        signature = validator.compute_signature(PUBLIC + path, form)
        response = wa.http.post(
            wa.base + path, data=form, headers={"X-Twilio-Signature": signature}
        )
        return response.status_code

    def base(phone: str) -> dict[str, str]:
        return {
            "MessageSid": f"SM{next_sid():032d}",
            "AccountSid": ACCOUNT_SID,
            "From": f"whatsapp:{phone}",
            "To": BOT_NUMBER,
            "NumMedia": "0",
        }

    @EXAMPLES
    @given(body=TEXTS, profile=SHORT, extra=_extras(twilio))
    def well_formed(body: str, profile: str, extra: dict[str, str]) -> None:
        phone = f"+{next_phone()}"
        wrote.add(f"whatsapp:{phone}")
        form = {**base(phone), "Body": body, "ProfileName": profile, **extra}
        assert post("/whatsapp/webhook", form) == 200, form
        wait_until(lambda: bool(twilio.to(phone)), f"an answer to {form!r}")
        wait_until(lambda: _processed(wa.app.db, form["MessageSid"]), "processing")

    @EXAMPLES
    @given(
        fields=st.dictionaries(
            st.one_of(st.sampled_from(FIELDS), st.text(DELIVERABLE, max_size=12)),
            st.one_of(SHORT, st.text(DELIVERABLE, max_size=300), st.sampled_from(ENCODABLE)),
            max_size=6,
        ),
        keep_base=st.booleans(),
    )
    def mutated(fields: dict[str, str], keep_base: bool) -> None:
        phone = f"+{next_phone()}"
        form = {**(base(phone) if keep_base else {}), **fields}
        status = post("/whatsapp/webhook", form)
        assert status in (200, 400), (status, form)
        if status == 200:
            wrote.add(form["From"])
        status = post("/whatsapp/status", form)
        assert status in (204, 400), (status, form)

    well_formed()
    mutated()
    wait_until(all_processed(wa.app.db), "every stored message processed")
    with twilio.lock:
        answered = {str(m.get("To")) for m in twilio.messages}
    assert answered <= wrote, answered - wrote
    no_errors(caplog)
