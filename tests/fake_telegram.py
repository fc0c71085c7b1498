"""A fake Telegram Bot API on 127.0.0.1: records calls, serves files and updates, 429 on demand."""

from __future__ import annotations

import email.policy
import itertools
import json
import sys
import threading
import time
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote

TOKEN = "123456:TEST-token"


class FakeTelegram:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any], float]] = []
        self.files: dict[str, bytes] = {}
        self.missing: list[str] = []
        self.per_chat: dict[int, int] = {}  # messages sent to each chat, cheap to poll
        self.updates: list[dict[str, Any]] = []
        self.too_many: dict[str, int] = {}  # method -> how many 429s to answer first
        self.down: set[str] = set()  # methods answered 502 Bad Gateway, unrecorded
        self.blocked: set[int] = set()  # chats that blocked the bot: 403 on sending
        self.lock = threading.Lock()
        self._ids = itertools.count(1000)
        fake = self

        class Handler(BaseHTTPRequestHandler):
            # Keep-alive, as Telegram's servers: a new connection (and thread) per call
            # costs both sides more than the call itself.
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                prefix = f"/file/bot{TOKEN}/"
                path = unquote(self.path)
                if path.startswith(prefix) and path[len(prefix) :] in fake.files:
                    body = fake.files[path[len(prefix) :]]
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                fake.missing.append(self.path)
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def _body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    chunks = []
                    while True:
                        size = int(self.rfile.readline().strip() or b"0", 16)
                        if size == 0:
                            self.rfile.readline()
                            return b"".join(chunks)
                        chunks.append(self.rfile.read(size))
                        self.rfile.readline()
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def do_POST(self) -> None:
                body = self._body()
                method = unquote(self.path).rsplit("/", 1)[-1]
                if method == "getMe" and not unquote(self.path).startswith(f"/bot{TOKEN}/"):
                    data = b'{"ok": false, "error_code": 401, "description": "Unauthorized"}'
                    self.send_response(401)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return
                params = _params(self.headers.get("Content-Type", ""), body)
                status, answer = fake.answer(method, params)
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = _Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, args=(0.01,), daemon=True).start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def file_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/file/bot"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def add_file(self, data: bytes) -> str:
        file_id = f"file{next(self._ids)}"
        self.files[f"photos/{file_id}.jpg"] = data
        return file_id

    def answer(self, method: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if method in self.down:
            return 502, {"ok": False, "error_code": 502, "description": "Bad Gateway"}
        if method in ("sendMessage", "sendPhoto") and int(params.get("chat_id", 0)) in self.blocked:
            return 403, {
                "ok": False,
                "error_code": 403,
                "description": "Forbidden: bot was blocked by the user",
            }
        with self.lock:
            if self.too_many.get(method):
                self.too_many[method] -= 1
                self.calls.append((method + ":429", params, time.monotonic()))
                return 429, {
                    "ok": False,
                    "error_code": 429,
                    "description": "Too Many Requests: retry after 1",
                    "parameters": {"retry_after": 1},
                }
            if method != "getUpdates":
                self.calls.append((method, params, time.monotonic()))
            if method in ("sendMessage", "sendPhoto"):
                chat_id = int(params.get("chat_id", 0))
                self.per_chat[chat_id] = self.per_chat.get(chat_id, 0) + 1
        if method == "getMe":
            return 200, {
                "ok": True,
                "result": {
                    "id": 42,
                    "is_bot": True,
                    "first_name": "Pelapak",
                    "username": "PelapakBot",
                },
            }
        if method in ("sendMessage", "sendPhoto", "editMessageReplyMarkup"):
            chat = params.get("chat_id", 1)
            return 200, {
                "ok": True,
                "result": {
                    "message_id": next(self._ids),
                    "date": int(time.time()),
                    "chat": {"id": int(chat), "type": "private"},
                    "text": params.get("text", ""),
                },
            }
        if method == "getFile":
            file_id = params["file_id"]
            path = f"photos/{file_id}.jpg"
            return 200, {
                "ok": True,
                "result": {
                    "file_id": file_id,
                    "file_unique_id": file_id,
                    "file_size": len(self.files.get(path, b"")),
                    "file_path": path,
                },
            }
        if method == "getUpdates":
            time.sleep(0.05)
            with self.lock:
                offset = int(params.get("offset") or 0)
                ready = [u for u in self.updates if u["update_id"] >= offset]
            return 200, {"ok": True, "result": ready}
        return 200, {"ok": True, "result": True}

    def sent(self, chat_id: int | None = None) -> list[dict[str, Any]]:
        """sendMessage / sendPhoto calls in order (optionally to one chat)."""
        with self.lock:
            return [
                dict(p, _method=m)
                for m, p, _ in self.calls
                if m in ("sendMessage", "sendPhoto")
                and (chat_id is None or int(p.get("chat_id", 0)) == chat_id)
            ]

    def methods(self) -> list[str]:
        with self.lock:
            return [m for m, _, _ in self.calls]

    def wait_for(self, predicate: Any, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(0.02)
        raise AssertionError(f"timed out; calls so far: {self.methods()[-20:]}")


class _Server(ThreadingHTTPServer):
    request_queue_size = 256  # Telegram does not refuse connections
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client killed mid-call (the tests kill senders) resets its kept-alive connection:
        not worth a traceback."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def _params(content_type: str, body: bytes) -> dict[str, Any]:
    if content_type.startswith("multipart/form-data"):
        message = BytesParser(policy=email.policy.default).parsebytes(
            f"Content-Type: {content_type}\r\n\r\n".encode() + body
        )
        out: dict[str, Any] = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True)
            out[str(name)] = payload if part.get_filename() else _value(payload.decode())
        return out
    if content_type.startswith("application/json"):
        return json.loads(body or b"{}")
    return {k: _value(v) for k, v in parse_qsl(body.decode())}


def _value(raw: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw


class Updates:
    """Real Telegram Update JSON for a user."""

    ids = itertools.count(1)

    def __init__(self, user_id: int, first_name: str = "Sri", language: str = "id") -> None:
        self.user = {
            "id": user_id,
            "is_bot": False,
            "first_name": first_name,
            "language_code": language,
        }
        self.chat = {"id": user_id, "type": "private", "first_name": first_name}

    def _message(self, **fields: Any) -> dict[str, Any]:
        update_id = next(self.ids)
        return {
            "update_id": update_id,
            "message": {
                "message_id": update_id,
                "date": int(time.time()),
                "chat": self.chat,
                "from": self.user,
                **fields,
            },
        }

    def text(self, text: str) -> dict[str, Any]:
        return self._message(text=text)

    def contact(self, phone: str) -> dict[str, Any]:
        return self._message(
            contact={"phone_number": phone, "first_name": "Sri", "user_id": self.user["id"]}
        )

    def photo(self, file_id: str, size: int, group: str | None = None) -> dict[str, Any]:
        sizes = [
            {
                "file_id": f"{file_id}-small",
                "file_unique_id": f"{file_id}s",
                "width": 90,
                "height": 90,
            },
            {
                "file_id": file_id,
                "file_unique_id": file_id,
                "width": 1600,
                "height": 1200,
                "file_size": size,
            },
        ]
        extra = {"media_group_id": group} if group else {}
        return self._message(photo=sizes, **extra)

    def voice(self) -> dict[str, Any]:
        return self._message(voice={"file_id": "v1", "file_unique_id": "v1", "duration": 2})

    def callback(self, data: str, message_id: int = 1) -> dict[str, Any]:
        update_id = next(self.ids)
        return {
            "update_id": update_id,
            "callback_query": {
                "id": f"cq{update_id}",
                "from": self.user,
                "chat_instance": "ci",
                "data": data,
                "message": {
                    "message_id": message_id,
                    "date": int(time.time()),
                    "chat": self.chat,
                    "text": "question",
                },
            },
        }
