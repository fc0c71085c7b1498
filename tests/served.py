"""Our real web app served by uvicorn on a loopback port, in a thread, for channel tests."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time

import httpx
import uvicorn
from starlette.applications import Starlette

from bot.storage.database import Database
from bot.tls import tls_context


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _PromptServer(uvicorn.Server):
    """uvicorn's server, stopping as soon as it is told to: its own loop looks at the exit
    flag every 100 ms, which a test that starts and stops a server pays each time."""

    wake: asyncio.Event | None = None
    loop: asyncio.AbstractEventLoop | None = None

    async def main_loop(self) -> None:
        self.wake, self.loop = asyncio.Event(), asyncio.get_running_loop()
        counter = 0
        should_exit = await self.on_tick(counter)
        while not should_exit:
            counter = (counter + 1) % 864000
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), 0.1)
            should_exit = await self.on_tick(counter)

    def exit_now(self) -> None:
        self.should_exit = True
        if self.loop is not None and self.wake is not None:
            with contextlib.suppress(RuntimeError):  # the loop has ended already
                self.loop.call_soon_threadsafe(self.wake.set)


def _bound(port: int, elsewhere: bool) -> socket.socket:
    """A socket bound to the port asked for; when something took it since `free_port` chose
    it (another test's client, on a busy machine), to another free one if `elsewhere`."""
    for candidate in (port, 0) if elsewhere else (port,):
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", candidate))
        except OSError:
            sock.close()
            continue
        return sock
    raise AssertionError(f"port {port} is taken")


class Served:
    """The app on a loopback port: `port` when it is free, else (with `elsewhere`) another;
    `base` says which. The socket is bound here, before the server's thread starts, so a
    taken port is seen at once instead of as a server that never starts."""

    def __init__(self, web: Starlette, port: int, elsewhere: bool = True) -> None:
        sock = _bound(port, elsewhere)
        self.port = int(sock.getsockname()[1])
        config = uvicorn.Config(
            web, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on"
        )
        self.server = _PromptServer(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [sock]}, daemon=True
        )
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.02)
        self.base = f"http://127.0.0.1:{self.port}"
        self.http = httpx.Client(timeout=10, verify=tls_context())

    def stop(self) -> None:
        self.http.close()
        self.server.exit_now()
        self.thread.join(timeout=10)


def wait_answered(db: Database) -> None:
    """Until every stored update is processed and every stored reply is sent (pytest-timeout
    stops a test that would wait for ever)."""
    from sqlmodel import col, select

    from bot.storage.models import InboundUpdate, OutgoingMessage

    while True:
        with db.read_session() as session:
            busy = (
                session.exec(
                    select(InboundUpdate.id).where(col(InboundUpdate.processed_at).is_(None))
                ).first()
                or session.exec(
                    select(OutgoingMessage.id).where(col(OutgoingMessage.sent_at).is_(None))
                ).first()
            )
        if busy is None:
            return
        time.sleep(0.02)
