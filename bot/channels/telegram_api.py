"""The Bot API calls of the hot path (sendMessage, answerCallbackQuery, editMessageReplyMarkup)
posted as JSON on one shared aiohttp session.

Building python-telegram-bot objects and going through httpx's connection pool cost several
times the CPU of the call itself (the server is bound by one core). Here the parameters are
the Bot API's own JSON, the answer's JSON is returned as it is, and failures raise the same
`telegram.error` exceptions PTB raises (Forbidden, BadRequest, RetryAfter, NetworkError...),
so callers handle them as before. The calls go through the bot's rate limiter (the
AIORateLimiter every other call of the bot shares: overall rate, 429 retry_after).
"""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

import aiohttp
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.ext import BaseRateLimiter

JSON_HEADERS = {"Content-Type": "application/json"}


class BotAPI:
    def __init__(
        self,
        token: str,
        base_url: str,
        rate_limiter: BaseRateLimiter[Any] | None = None,
        connections: int = 64,
        read_timeout: float = 30.0,
    ) -> None:
        self._url = f"{base_url}{token}/"
        self._limiter = rate_limiter
        self._connections = connections
        self._timeout = aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=read_timeout)
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._connections),
                timeout=self._timeout,
                json_serialize=json.dumps,
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def call(self, method: str, params: dict[str, Any]) -> Any:
        """The call's `result`; a `TelegramError` when the Bot API refused it or failed."""
        if self._limiter is None:
            return await self._post(method, params)
        return await self._limiter.process_request(
            self._post, (method, params), {}, method, params, None
        )

    async def _post(self, method: str, params: dict[str, Any]) -> Any:
        try:
            async with self._client().post(
                self._url + method, data=json.dumps(params), headers=JSON_HEADERS
            ) as response:
                code = response.status
                payload = await response.read()
        except TimeoutError as exc:
            raise TimedOut() from exc
        except aiohttp.ClientError as exc:
            raise NetworkError(f"aiohttp: {exc!r}") from exc
        try:
            data = json.loads(payload)
        except ValueError:
            data = None
        if 200 <= code <= 299 and isinstance(data, dict):
            return data.get("result")
        raise _error(code, data, payload)


def _error(code: int, data: Any, payload: bytes) -> TelegramError:
    """The exception PTB's request layer raises for this answer."""
    try:
        message = f"{HTTPStatus(code).phrase} ({code})"
    except ValueError:
        message = f"Unknown HTTPError ({code})"
    if not isinstance(data, dict):
        return NetworkError(f"{message}. Parsing the server response {payload[:200]!r} failed")
    message = data.get("description") or message
    parameters = data.get("parameters")
    if isinstance(parameters, dict):
        if parameters.get("migrate_to_chat_id"):
            return ChatMigrated(parameters["migrate_to_chat_id"])
        if parameters.get("retry_after"):
            return RetryAfter(parameters["retry_after"])
    if code == HTTPStatus.FORBIDDEN:
        return Forbidden(message)
    if code in (HTTPStatus.NOT_FOUND, HTTPStatus.UNAUTHORIZED):
        return InvalidToken(message)
    if code == HTTPStatus.BAD_REQUEST:
        return BadRequest(message)
    if code == HTTPStatus.CONFLICT:
        return Conflict(message)
    return NetworkError(message)
