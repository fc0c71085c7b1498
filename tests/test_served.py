"""The test servers' own helper: a port taken between `free_port` and the server's start (by
another test's client on a busy machine) no longer fails a test with "server did not start"."""

from __future__ import annotations

import socket

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from tests.served import Served, free_port


def _app() -> Starlette:
    return Starlette(routes=[Route("/", lambda _request: PlainTextResponse("ok"))])


def test_a_taken_port_is_served_elsewhere_and_base_says_where() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        served = Served(_app(), port)
        try:
            assert served.port != port and served.base.endswith(f":{served.port}")
            assert httpx.get(served.base + "/").text == "ok"
        finally:
            served.stop()
        with pytest.raises(AssertionError, match="is taken"):
            Served(_app(), port, elsewhere=False)


def test_a_free_port_is_the_one_served() -> None:
    port = free_port()
    served = Served(_app(), port)
    try:
        assert served.port == port
        assert httpx.get(f"http://127.0.0.1:{port}/").text == "ok"
    finally:
        served.stop()
