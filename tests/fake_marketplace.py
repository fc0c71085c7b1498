"""A marketplace implementing contracts/marketplace-sync.yaml on 127.0.0.1, faults on demand."""

from __future__ import annotations

import hashlib
import json
import random
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

API_KEY = "mk-test-key"


@dataclass
class Faults:
    server_error: float = 0.0  # share of requests answered 500
    too_many: float = 0.0  # share answered 429 with Retry-After: 1
    timeout: float = 0.0  # share that hang longer than the client waits
    drop_after_store: float = 0.0  # share stored, then the connection is cut
    latency: float = 0.0  # seconds added to every request
    unauthorized: bool = False
    hang_seconds: float = 3.0
    seed: int = 7
    rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def roll(self, share: float) -> bool:
        return share > 0 and self.rng.random() < share


class FakeMarketplace:
    def __init__(self, faults: Faults | None = None) -> None:
        self.faults = faults or Faults()
        self.sellers: dict[str, dict[str, Any]] = {}
        self.products: dict[str, dict[str, Any]] = {}
        self.media: dict[str, bytes] = {}
        self.stores: dict[str, int] = {}  # path -> how many times something was (re)stored
        self.requests: list[tuple[str, str, str, str]] = []  # method, path, key, body hash
        self.key_answers: dict[str, tuple[int, dict[str, Any]]] = {}
        self.in_flight: set[str] = set()
        self.overlaps = 0  # the same Idempotency-Key in flight twice at once
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                key = self.headers.get("Idempotency-Key", "")
                fake._serve(self, self.command, self.path, key, body)

            do_PUT = _handle
            do_DELETE = _handle

        ThreadingHTTPServer.request_queue_size = 256
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, args=(0.01,), daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # --- serving ----------------------------------------------------------------------------

    def _serve(
        self, handler: BaseHTTPRequestHandler, method: str, path: str, key: str, body: bytes
    ) -> None:
        faults = self.faults
        with self.lock:
            self.requests.append((method, path, key, hashlib.sha256(body).hexdigest()))
            if key in self.in_flight:
                self.overlaps += 1
            self.in_flight.add(key)
        try:
            if faults.latency:
                time.sleep(faults.latency)
            if handler.headers.get("Authorization") != f"Bearer {API_KEY}" or faults.unauthorized:
                return _reply(handler, 401, _error("unauthorized", "bad API key"))
            if not key or len(key) < 8:
                return _reply(handler, 400, _error("bad_request", "Idempotency-Key required"))
            if faults.roll(faults.timeout):
                time.sleep(faults.hang_seconds)
                return _reply(handler, 504, _error("timeout", "too slow"))
            if faults.roll(faults.server_error):
                return _reply(handler, 500, _error("internal", "boom"))
            if faults.roll(faults.too_many):
                return _reply(
                    handler, 429, _error("rate_limited", "slow down"), {"Retry-After": "1"}
                )
            with self.lock:
                cached = self.key_answers.get(key)
            if cached is None:
                cached = self._apply(method, path, body)
                if cached[0] < 500:
                    with self.lock:
                        self.key_answers[key] = cached
            if faults.roll(faults.drop_after_store):
                handler.connection.shutdown(socket.SHUT_RDWR)  # stored, but no answer
                handler.close_connection = True
                return None
            return _reply(handler, *cached)
        finally:
            with self.lock:
                self.in_flight.discard(key)

    def _apply(self, method: str, path: str, body: bytes) -> tuple[int, dict[str, Any]]:
        parts = path.strip("/").split("/")
        if len(parts) != 3 or parts[0] != "v1":
            return 404, _error("not_found", path)
        kind, ref = parts[1], parts[2]
        with self.lock:
            if kind == "media" and method == "PUT":
                if hashlib.sha256(body).hexdigest() != ref:
                    return 400, _error("bad_hash", "sha256 does not match the bytes")
                created = ref not in self.media
                self.media[ref] = body
                self.stores[path] = self.stores.get(path, 0) + 1
                return (201 if created else 200), {"sha256": ref, "url": f"https://cdn.test/{ref}"}
            store = {"sellers": self.sellers, "products": self.products}.get(kind)
            if store is None:
                return 404, _error("not_found", path)
            if method == "DELETE":
                store.pop(ref, None)
                if kind == "sellers":
                    for pref in [p for p, v in self.products.items() if v["seller_ref"] == ref]:
                        self.products.pop(pref)
                return 204, {}
            data = json.loads(body or b"{}")
            if kind == "products":
                if data.get("seller_ref") not in self.sellers:
                    return 404, _error("seller_not_found", "push the seller first")
                if "TOLAK" in data.get("description", ""):
                    return 422, _error(
                        "validation_failed",
                        "invalid product",
                        {"description": "too short, at least 20 letters"},
                    )
                missing = [p["sha256"] for p in data["photos"] if p["sha256"] not in self.media]
                if missing:
                    return 400, _error("photo_missing", "upload photos first")
            created = ref not in store
            store[ref] = data
            self.stores[path] = self.stores.get(path, 0) + 1
            result: dict[str, Any] = {
                "marketplace_id": f"m-{ref}",
                "url": f"https://toko.test/{ref}",
            }
            if kind == "products":
                result.update(product_ref=ref, status="live")
            else:
                result.update(seller_ref=ref, status="active")
            return (201 if created else 200), result


def _error(code: str, message: str, fields: dict[str, str] | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if fields:
        error["fields"] = fields
    return {"error": error}


def _reply(
    handler: BaseHTTPRequestHandler,
    status: int,
    body: dict[str, Any],
    headers: dict[str, str] | None = None,
) -> None:
    data = json.dumps(body).encode() if status != 204 else b""
    try:
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(data)
    except OSError:
        pass  # the client gave up (timeout): that is the point
