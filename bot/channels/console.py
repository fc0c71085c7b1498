"""Console channel: the same flows in a terminal (interactive) or as JSON lines for scripts."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

from rich.console import Console

from bot.conversation import ConversationRunner, Reply
from bot.media import MediaStore
from flows.messages import Inbound, Location, PhotoRef, RejectedPhoto
from flows.parsing import parse_phone

CHANNEL = "console"


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

    def inbound(self, message: dict[str, Any]) -> Inbound:
        """One JSON object -> one normalized message."""
        paths = list(message.get("photos") or [])
        if message.get("photo"):
            paths.insert(0, message["photo"])
        photos, rejected = self._photos(str(p) for p in paths)
        location = message.get("location")
        return Inbound(
            user_key=self.user_key,
            channel=CHANNEL,
            text=message.get("text"),
            choice=message.get("choice"),
            contact_phone=message.get("contact"),
            sender_phone=self.phone,
            photos=photos,
            rejected_photos=rejected,
            location=Location(float(location[0]), float(location[1])) if location else None,
            unsupported=message.get("unsupported"),
        )

    def send(self, message: dict[str, Any]) -> list[Reply]:
        return self.runner.handle(self.inbound(message))

    def run_jsonl(self, stdin: IO[str], stdout: IO[str]) -> None:
        """Read one JSON object per line; write exactly one JSON line of replies for each."""
        for line in stdin:
            if not line.strip():
                continue
            try:
                message = json.loads(line)
                if not isinstance(message, dict):
                    raise ValueError("not an object")
                replies = self.send(message)
                out: dict[str, Any] = {"replies": [reply_json(r) for r in replies]}
            except (ValueError, TypeError, IndexError) as exc:
                out = {"replies": [], "error": f"bad input line: {exc}"}
            stdout.write(json.dumps(out, ensure_ascii=False) + "\n")
            stdout.flush()

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
                    console.print(f"  [dim](foto: {self.media.path(reply.photo)})[/]")
                for number, (_, label) in enumerate(reply.choices, start=1):
                    console.print(f"  [yellow]{number}.[/] {label}")
                choices = reply.choices or choices


def _typed_message(typed: str, choices: tuple[tuple[str, str], ...]) -> dict[str, Any]:
    if typed.startswith("/foto "):
        return {"photos": typed[6:].split()}
    if typed.isdigit() and choices and 1 <= int(typed) <= len(choices):
        return {"choice": choices[int(typed) - 1][0]}
    return {"text": typed}


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
