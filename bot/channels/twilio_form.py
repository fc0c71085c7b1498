"""What a signed Twilio webhook form must look like before it is stored.

Only Twilio (or someone with the auth token) can sign a form, so a malformed one is refused
(400) with a reason naming the field, never its value. The limits are generous next to what
Twilio sends (SIDs are 34 characters, WhatsApp bodies at most 4096, up to 10 media).
"""

from __future__ import annotations

import math
import re
from urllib.parse import urlsplit

from bot.channels.payload import Malformed, check_storable

MAX_FROM = 64
MAX_SID = 128
MAX_STATUS_SID = 64  # outbound_message.sid
MAX_MEDIA = 10
MAX_URL = 2048
MAX_BODY = 8192
MAX_SHORT = 256  # profile names, button payloads and texts, content types
WHATSAPP_ADDRESS = re.compile(r"whatsapp:\+[1-9][0-9]{5,14}")
SID = re.compile(r"[A-Za-z0-9]+")
ERROR_CODE = re.compile(r"[0-9]{1,16}")


def check_message(form: dict[str, str]) -> None:
    """Raise Malformed unless an incoming-message form has the fields we use, in shape."""
    check_storable(form)
    sid = form.get("MessageSid", "")
    if not SID.fullmatch(sid) or len(sid) > MAX_SID:
        raise Malformed("MessageSid is missing, too long or not alphanumeric")
    sender = form.get("From", "")
    if len(sender) > MAX_FROM or not WHATSAPP_ADDRESS.fullmatch(sender):
        raise Malformed("From is not whatsapp:+<digits>")
    count = form.get("NumMedia") or "0"
    if not count.isascii() or not count.isdigit() or int(count) > MAX_MEDIA:
        raise Malformed(f"NumMedia is not a whole number from 0 to {MAX_MEDIA}")
    _media(form, int(count))
    if len(form.get("Body", "")) > MAX_BODY:
        raise Malformed("Body is too long")
    for key in ("ProfileName", "ButtonPayload", "ButtonText"):
        if len(form.get(key, "")) > MAX_SHORT:
            raise Malformed(f"{key} is too long")
    for key, bound in (("Latitude", 90.0), ("Longitude", 180.0)):
        if form.get(key):
            try:
                value = float(form[key])
            except ValueError:
                raise Malformed(f"{key} is not a number") from None
            if not math.isfinite(value) or not -bound <= value <= bound:
                raise Malformed(f"{key} is out of range")


def _media(form: dict[str, str], count: int) -> None:
    for index in range(count):
        url = form.get(f"MediaUrl{index}", "")
        if len(url) > MAX_URL or urlsplit(url).scheme not in ("http", "https"):
            raise Malformed(f"MediaUrl{index} is missing or not a web address")
        if len(form.get(f"MediaContentType{index}", "")) > MAX_SHORT:
            raise Malformed(f"MediaContentType{index} is too long")


def check_status(form: dict[str, str]) -> None:
    """Raise Malformed unless a status callback names a message and a short status."""
    check_storable(form)
    sid = form.get("MessageSid") or form.get("SmsSid") or ""
    if not SID.fullmatch(sid) or len(sid) > MAX_STATUS_SID:
        raise Malformed("MessageSid is missing, too long or not alphanumeric")
    if len(form.get("MessageStatus", "")) > MAX_SHORT:
        raise Malformed("MessageStatus is too long")
    code = form.get("ErrorCode")
    if code and not ERROR_CODE.fullmatch(code):
        raise Malformed("ErrorCode is not a short number")
