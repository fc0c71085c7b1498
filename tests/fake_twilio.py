"""A fake Twilio API on 127.0.0.1: the Messages resource and media files behind a redirect."""

from __future__ import annotations

import base64
import itertools
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

ACCOUNT_SID = "AC" + "0" * 32
AUTH_TOKEN = "twilio-test-auth-token"


class FakeTwilio:
    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.media: dict[str, bytes] = {}
        self.lock = threading.Lock()
        self._ids = itertools.count(1)
        fake = self
        expected = "Basic " + base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _send(
                self, status: int, body: bytes, headers: dict[str, str] | None = None
            ) -> None:
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                parts = self.path.strip("/").split("/")
                if parts[:2] == ["2010-04-01", "Accounts"] and len(parts) == 3:  # account fetch
                    if self.headers.get("Authorization") != expected:
                        return self._send(401, b'{"code": 20003, "message": "Authenticate"}')
                    account = {"sid": ACCOUNT_SID, "friendly_name": "Pelapak", "status": "active"}
                    return self._send(
                        200, json.dumps(account).encode(), {"Content-Type": "application/json"}
                    )
                if parts[0] == "media" and len(parts) == 2:
                    if self.headers.get("Authorization") != expected:
                        return self._send(401, b"")
                    return self._send(307, b"", {"Location": f"/cdn/{parts[1]}"})
                if parts[0] == "cdn" and parts[1] in fake.media:
                    return self._send(200, fake.media[parts[1]], {"Content-Type": "image/jpeg"})
                return self._send(404, b"")

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.headers.get("Authorization") != expected:
                    return self._send(401, b'{"code": 20003, "message": "Authenticate"}')
                form = {k: v if len(v) > 1 else v[0] for k, v in parse_qs(body.decode()).items()}
                sid = f"SM{next(fake._ids):032d}"
                with fake.lock:
                    fake.messages.append({**form, "sid": sid})
                answer = {
                    "sid": sid,
                    "account_sid": ACCOUNT_SID,
                    "status": "queued",
                    "to": form.get("To"),
                    "from": form.get("From"),
                    "body": form.get("Body"),
                }
                return self._send(
                    201, json.dumps(answer).encode(), {"Content-Type": "application/json"}
                )

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, args=(0.01,), daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def add_media(self, data: bytes) -> str:
        media_id = f"ME{next(self._ids):032d}"
        self.media[media_id] = data
        return f"{self.url}/media/{media_id}"

    def to(self, phone: str) -> list[dict[str, Any]]:
        with self.lock:
            return [m for m in self.messages if m.get("To") == f"whatsapp:{phone}"]
