"""What a Telegram update must look like before it is stored.

Only someone holding the webhook secret can post one, so a malformed update is a bug or an
attack, never Telegram: it is refused (400) with a short reason that names the problem and
never the content. Well-formed updates we do not handle (edited messages, channel posts,
group chats) pass this check; `telegram.py` decides what to do with them.
"""

from __future__ import annotations

import json
from typing import Any, TypeGuard

from telegram import Update

from bot.channels.payload import Malformed, check_storable

MAX_UPDATE_ID = 2**53  # Telegram's ids fit in 52 bits; anything bigger is not from Telegram
MAX_CHAT_ID = 2**53
MAX_GROUP_ID = 64  # media_group_id; the inbox keeps "<user>:<group>" in 128 characters
MESSAGE_KEYS = ("message", "edited_message", "channel_post", "edited_channel_post")


def parse_json(body: bytes) -> dict[str, Any]:
    """The JSON object in a webhook body; Malformed when it is not one we can store."""
    try:
        data = json.loads(body, parse_constant=_no_constant)
    except RecursionError:
        raise Malformed("JSON nested too deep") from None
    except (ValueError, UnicodeDecodeError):
        raise Malformed("not JSON") from None
    if not isinstance(data, dict):
        raise Malformed("not a JSON object")
    return data


def _no_constant(name: str) -> Any:
    raise Malformed(f"JSON constant {name}")


def check_update(data: dict[str, Any]) -> Update:
    """Raise Malformed unless `data` is shaped like a Telegram update in every field we use;
    the update as PTB reads it (without a bot: for its fields, not its shortcuts)."""
    check_storable(data)
    update_id = data.get("update_id")
    if not _int(update_id) or not 0 <= update_id < MAX_UPDATE_ID:
        raise Malformed("update_id is not an integer in range")
    for key in MESSAGE_KEYS:
        if key in data:
            _message(data[key], key)
    if "callback_query" in data:
        _callback(data["callback_query"])
    try:
        return Update.de_json(data)
    except Exception:  # PTB raises TypeError, KeyError, ValueError... on odd shapes
        raise Malformed("not readable as a Telegram update") from None


def _int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _id(value: Any, what: str) -> None:
    if not _int(value) or not -MAX_CHAT_ID < value < MAX_CHAT_ID:
        raise Malformed(f"{what} is not an integer id")


def _object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise Malformed(f"{what} is not an object")
    return value


def _optional(data: dict[str, Any], key: str, kind: type | tuple[type, ...], what: str) -> None:
    if key in data and not isinstance(data[key], kind):
        raise Malformed(f"{what}.{key} has the wrong type")


def _user(value: Any, what: str) -> None:
    user = _object(value, what)
    _id(user.get("id"), f"{what}.id")
    _optional(user, "language_code", str, what)
    _optional(user, "first_name", str, what)
    _optional(user, "last_name", str, what)


def _message(value: Any, what: str, top: bool = True) -> dict[str, Any]:
    message = _object(value, what)
    if not _int(message.get("message_id")):
        raise Malformed(f"{what}.message_id is not an integer")
    chat = _object(message.get("chat"), f"{what}.chat")
    _id(chat.get("id"), f"{what}.chat.id")
    if not isinstance(chat.get("type"), str):
        raise Malformed(f"{what}.chat.type is not text")
    if "from" in message:
        _user(message["from"], f"{what}.from")
        if top and chat["type"] == "private" and chat["id"] != message["from"]["id"]:
            raise Malformed(f"{what} is in a private chat of someone else")
    for key in ("text", "caption"):
        _optional(message, key, str, what)
    group = message.get("media_group_id")
    if group is not None and (not isinstance(group, str) or len(group) > MAX_GROUP_ID):
        raise Malformed(f"{what}.media_group_id is not a short text")
    _attachments(message, what)
    return message


def _attachments(message: dict[str, Any], what: str) -> None:
    if "photo" in message:
        sizes = message["photo"]
        if not isinstance(sizes, list) or not sizes:
            raise Malformed(f"{what}.photo is not a list of sizes")
        for size in sizes:
            _file(size, f"{what}.photo[]")
    if "document" in message:
        _file(message["document"], f"{what}.document")
    if "contact" in message:
        contact = _object(message["contact"], f"{what}.contact")
        if not isinstance(contact.get("phone_number"), str):
            raise Malformed(f"{what}.contact.phone_number is not text")
        if "user_id" in contact:
            _id(contact["user_id"], f"{what}.contact.user_id")
    if "location" in message:
        location = _object(message["location"], f"{what}.location")
        for key, bound in (("latitude", 90), ("longitude", 180)):
            number = location.get(key)
            if not isinstance(number, int | float) or isinstance(number, bool):
                raise Malformed(f"{what}.location.{key} is not a number")
            if not -bound <= number <= bound:
                raise Malformed(f"{what}.location.{key} is out of range")


def _file(value: Any, what: str) -> None:
    item = _object(value, what)
    if not isinstance(item.get("file_id"), str) or not item["file_id"]:
        raise Malformed(f"{what}.file_id is not text")
    if "file_size" in item and not _int(item["file_size"]):
        raise Malformed(f"{what}.file_size is not an integer")


def _callback(value: Any) -> None:
    query = _object(value, "callback_query")
    if not isinstance(query.get("id"), str):
        raise Malformed("callback_query.id is not text")
    _user(query.get("from"), "callback_query.from")
    _optional(query, "data", str, "callback_query")
    if "message" in query:
        message = _message(query["message"], "callback_query.message", top=False)
        chat = message["chat"]
        if chat["type"] == "private" and chat["id"] != query["from"]["id"]:
            raise Malformed("callback_query is in a private chat of someone else")


def chat_type(data: dict[str, Any]) -> str | None:
    """The type of the chat a (checked) update comes from: 'private', 'group'..., or None."""
    for key in (*MESSAGE_KEYS, "callback_query"):
        item = data.get(key)
        if isinstance(item, dict):
            if key == "callback_query":
                item = item.get("message")
                if not isinstance(item, dict):
                    return None  # a button under an inline message: no chat
            return str(item["chat"]["type"])
    return None


def addressed_to(data: dict[str, Any], username: str | None) -> bool:
    """Whether a group message speaks to the bot: a command, or a mention of its username."""
    message = data.get("message")
    if not isinstance(message, dict):
        return False
    text = message.get("text") or message.get("caption") or ""
    if text.startswith("/"):
        return True
    return bool(username) and f"@{username}".lower() in text.lower()
