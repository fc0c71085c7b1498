"""The marketplace sync API (contracts/marketplace-sync.yaml) and what its answers mean."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

from bot.tls import tls_context


@dataclass(frozen=True)
class Done:
    status: int
    body: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Retry:
    """Temporary: try again later (after `after` seconds when the server said so)."""

    reason: str
    after: float | None = None


@dataclass(frozen=True)
class Rejected:
    """Permanent for this payload: keep the reason, tell the owner what to fix."""

    status: int
    code: str
    message: str
    fields: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Unauthorized:
    """Our configuration is wrong: stop pushing and alert admins."""

    status: int
    message: str


Outcome = Done | Retry | Rejected | Unauthorized


class MarketplaceClient:
    def __init__(
        self, base_url: str, api_key: str, timeout: float = 20.0, pool_size: int = 16
    ) -> None:
        self.http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            headers={"Authorization": f"Bearer {api_key}"},
            timeout=httpx.Timeout(timeout, connect=5.0),
            limits=httpx.Limits(max_connections=pool_size, max_keepalive_connections=pool_size),
            verify=tls_context(),
        )

    async def close(self) -> None:
        await self.http.aclose()

    async def put_seller(self, ref: str, payload: dict[str, Any], key: str) -> Outcome:
        return await self._call("PUT", f"/v1/sellers/{ref}", key, json=payload)

    async def delete_seller(self, ref: str, key: str) -> Outcome:
        return await self._call("DELETE", f"/v1/sellers/{ref}", key)

    async def put_media(self, sha256: str, data: bytes, key: str) -> Outcome:
        return await self._call(
            "PUT", f"/v1/media/{sha256}", key, content=data, headers={"Content-Type": "image/jpeg"}
        )

    async def put_product(self, ref: str, payload: dict[str, Any], key: str) -> Outcome:
        return await self._call("PUT", f"/v1/products/{ref}", key, json=payload)

    async def delete_product(self, ref: str, key: str) -> Outcome:
        return await self._call("DELETE", f"/v1/products/{ref}", key)

    async def _call(self, method: str, path: str, key: str, **kw: Any) -> Outcome:
        headers = {"Idempotency-Key": key, **kw.pop("headers", {})}
        try:
            response = await self.http.request(method, path, headers=headers, **kw)
        except httpx.TimeoutException:
            return Retry("timeout")
        except httpx.TransportError as exc:
            return Retry(f"connection: {type(exc).__name__}")
        return interpret(response)


def interpret(response: httpx.Response) -> Outcome:
    """What an HTTP answer means for the event, as the contract says."""
    status = response.status_code
    try:
        body = response.json() if response.content else {}
    except ValueError:
        body = {}
    if 200 <= status < 300:
        return Done(status, body if isinstance(body, dict) else {})
    error = (body or {}).get("error") or {} if isinstance(body, dict) else {}
    message = str(error.get("message") or response.reason_phrase or status)
    if status in (401, 403):
        return Unauthorized(status, message)
    if status == 429 or status >= 500:
        return Retry(f"{status} {message}", _retry_after(response))
    return Rejected(
        status,
        str(error.get("code") or status),
        message,
        {str(k): str(v) for k, v in (error.get("fields") or {}).items()},
    )


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None
