"""The long-running processes run on uvloop, and uvicorn parses HTTP with httptools: about a
fifth less CPU per webhook update than asyncio's own loop and h11 (bench/telegram_webhook.py)."""

from __future__ import annotations

import asyncio
from typing import Any

import uvicorn
import uvloop
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from bot import lifecycle


def test_long_running_processes_run_on_uvloop() -> None:
    async def running_loop() -> type[Any]:
        await asyncio.sleep(0)
        return type(asyncio.get_running_loop())

    assert lifecycle.run(running_loop()) is uvloop.Loop


def test_uvicorn_parses_http_with_httptools() -> None:
    async def web(scope: Any, receive: Any, send: Any) -> None:
        raise AssertionError("not called")

    config = uvicorn.Config(web, log_config=None)
    config.load()
    assert config.http_protocol_class is HttpToolsProtocol
