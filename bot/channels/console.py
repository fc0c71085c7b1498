"""Console channel: the same flows in a terminal (interactive) or as JSON lines for scripts.

With `--jsonl`, every input line gets exactly one output line: the replies, or an error that
says what is wrong with the line (then nothing reached the bot). A line is one JSON object
with any of: text, choice, contact, unsupported (strings), photo (a file path), photos (a
list of file paths) and location ([latitude, longitude]).
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from rich.console import Console

from bot.conversation import ConversationRunner, Reply
from bot.media import MediaStore
from flows.messages import Inbound, Location, PhotoRef, RejectedPhoto
from flows.parsing import parse_phone

CHANNEL = "console"
MAX_LINE_BYTES = 64 * 1024  # a longer line is refused (read and dropped piecewise)
MAX_PHOTOS_PER_LINE = 10  # a Telegram album holds 10

log = logging.getLogger(__name__)


class BadLine(ValueError):
    """An input line that is not a message; its text says why."""


@dataclass(frozen=True)
class ConsoleMessage:
    """One checked input line."""

    text: str | None = None
    choice: str | None = None
    contact: str | None = None
    unsupported: str | None = None
    photo_paths: tuple[str, ...] = ()
    location: Location | None = None


_STRING_FIELDS = ("text", "choice", "contact", "unsupported")
_FIELDS = frozenset((*_STRING_FIELDS, "photo", "photos", "location"))


def _reject_constant(name: str) -> Any:
    raise BadLine(f"{name} is not a number")


def parse_line(line: bytes | str) -> ConsoleMessage:
    """One input line -> a checked message; BadLine says what is wrong with it."""
    if isinstance(line, bytes):
        try:
            line = line.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BadLine("not UTF-8") from exc
    if not line.strip():
        raise BadLine("empty line")
    try:
        data = json.loads(line, parse_constant=_reject_constant)
    except RecursionError as exc:
        raise BadLine("nested too deeply") from exc
    except BadLine:
        raise
    except ValueError as exc:
        raise BadLine(f"not JSON ({exc})") from exc
    return checked_message(data)


def checked_message(data: Any) -> ConsoleMessage:
    """A decoded JSON value -> a message, when every field has the type it should."""
    if not isinstance(data, dict):
        raise BadLine("not an object")
    unknown = sorted(set(data) - _FIELDS)
    if unknown:
        raise BadLine(f"unknown field {unknown[0]!r}")
    for key, value in data.items():
        if not _is_unicode(value):
            raise BadLine(f"{key} is not valid Unicode (a lone surrogate)")
    strings: dict[str, str | None] = {}
    for key in _STRING_FIELDS:
        value = data.get(key)
        if value is not None and not isinstance(value, str):
            raise BadLine(f"{key} must be a string")
        strings[key] = value
    return ConsoleMessage(
        **strings,
        photo_paths=_photo_paths(data.get("photo"), data.get("photos")),
        location=_location(data.get("location")),
    )


def _is_unicode(value: Any) -> bool:
    """False for a string (or a list holding one) with a lone surrogate: JSON allows "\\ud800",
    but it cannot be stored or written out as UTF-8."""
    if isinstance(value, list):
        return all(_is_unicode(v) for v in value)
    if not isinstance(value, str):
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _photo_paths(photo: Any, photos: Any) -> tuple[str, ...]:
    if photo is not None and not isinstance(photo, str):
        raise BadLine("photo must be a string (a file path)")
    if photos is not None and not (
        isinstance(photos, list) and all(isinstance(p, str) for p in photos)
    ):
        raise BadLine("photos must be a list of strings (file paths)")
    paths = ([photo] if photo else []) + [p for p in photos or [] if p]
    if len(paths) > MAX_PHOTOS_PER_LINE:
        raise BadLine(f"at most {MAX_PHOTOS_PER_LINE} photos in one line")
    return tuple(paths)


def _location(value: Any) -> Location | None:
    if value is None:
        return None
    if not (
        isinstance(value, list)
        and len(value) == 2
        and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
        and all(math.isfinite(v) for v in value)
    ):
        raise BadLine("location must be two numbers: [latitude, longitude]")
    latitude, longitude = float(value[0]), float(value[1])
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        raise BadLine("location is not on Earth: [latitude, longitude]")
    return Location(latitude, longitude)


def _lines(stream: IO[bytes]) -> Iterator[bytes | None]:
    """The stream's lines (split at newlines only); None for a line too long to read."""
    while True:
        line = stream.readline(MAX_LINE_BYTES + 1)
        if not line:
            return
        if len(line) > MAX_LINE_BYTES and not line.endswith(b"\n"):
            while (rest := stream.readline(MAX_LINE_BYTES)) and not rest.endswith(b"\n"):
                pass
            yield None
            continue
        yield line


class ConsoleChannel:
    def __init__(self, runner: ConversationRunner, media: MediaStore, phone: str | None) -> None:
        self.runner = runner
        self.media = media
        self.phone = parse_phone(phone) if phone else None
        self.user_key = self.phone or (phone or "demo")

    def _photos(
        self, paths: Iterable[str]
    ) -> tuple[tuple[PhotoRef, ...], tuple[RejectedPhoto, ...]]:
        stored: list[PhotoRef] = []
        rejected: list[RejectedPhoto] = []
        for path in paths:
            result = self.media.ingest_file(Path(path).expanduser())
            (stored if isinstance(result, PhotoRef) else rejected).append(result)  # type: ignore[arg-type]
        return tuple(stored), tuple(rejected)

    def inbound(self, message: ConsoleMessage) -> Inbound:
        """One checked message -> one normalized message (its photos stored or refused)."""
        photos, rejected = self._photos(message.photo_paths)
        return Inbound(
            user_key=self.user_key,
            channel=CHANNEL,
            text=message.text,
            choice=message.choice,
            contact_phone=message.contact,
            sender_phone=self.phone,
            photos=photos,
            rejected_photos=rejected,
            location=message.location,
            unsupported=message.unsupported,
        )

    def send(self, message: dict[str, Any]) -> list[Reply]:
        return self.runner.handle(self.inbound(checked_message(message)))

    def run_jsonl(self, stdin: IO[bytes], stdout: IO[str]) -> None:
        """Read one JSON object per line; write exactly one JSON line for each line read."""
        for line in _lines(stdin):
            try:
                if line is None:
                    raise BadLine(f"longer than {MAX_LINE_BYTES} bytes")
                message = parse_line(line)
            except BadLine as bad:
                out: dict[str, Any] = {"replies": [], "error": f"bad input line: {bad}"}
            else:
                out = self._answer(message)
            stdout.write(_json_line(out))
            stdout.flush()

    def _answer(self, message: ConsoleMessage) -> dict[str, Any]:
        try:
            replies = self.runner.handle(self.inbound(message))
        except Exception:
            log.exception("console message failed")
            return {"replies": [], "error": "internal error"}
        return {"replies": [reply_json(r) for r in replies]}

    def run_interactive(self, console: Console | None = None) -> None:
        """Chat in the terminal; numbers pick choices, '/foto PATH' sends a photo."""
        console = console or Console()
        console.print(
            "[dim]Pelapak — ketik pesan. /foto PATH untuk kirim foto. Ctrl-D untuk keluar.[/]"
        )
        choices: tuple[tuple[str, str], ...] = ()
        first = True
        while True:
            if first:
                message: dict[str, Any] = {"text": "/start"}
                first = False
            else:
                try:
                    typed = console.input("[bold green]Kamu:[/] ").strip()
                except (EOFError, KeyboardInterrupt):
                    console.print()
                    return
                if not typed:
                    continue
                message = _typed_message(typed, choices)
            for reply in self.send(message):
                console.print(f"[bold cyan]Pelapak:[/] {reply.text}")
                if reply.photo:
                    where = self.media.files.local_path(reply.photo) or reply.photo
                    console.print(f"  [dim](foto: {where})[/]")
                for number, (_, label) in enumerate(reply.choices, start=1):
                    console.print(f"  [yellow]{number}.[/] {label}")
                choices = reply.choices or choices


def _typed_message(typed: str, choices: tuple[tuple[str, str], ...]) -> dict[str, Any]:
    if typed.startswith("/foto "):
        return {"photos": typed[6:].split()}
    if typed.isdigit() and choices and 1 <= int(typed) <= len(choices):
        return {"choice": choices[int(typed) - 1][0]}
    return {"text": typed}


def _json_line(out: dict[str, Any]) -> str:
    """One output line; escaped to ASCII if some text cannot be written as UTF-8."""
    line = json.dumps(out, ensure_ascii=False)
    try:
        line.encode("utf-8")
    except UnicodeEncodeError:
        line = json.dumps(out)
    return line + "\n"


def reply_json(reply: Reply) -> dict[str, Any]:
    data: dict[str, Any] = {
        "text": reply.text,
        "choices": [{"id": cid, "label": label} for cid, label in reply.choices],
    }
    if reply.photo:
        data["photo"] = reply.photo
    if reply.contact_button:
        data["request_contact"] = True
    return data
