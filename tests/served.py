"""Our real web app served by uvicorn on a loopback port, in a thread, for channel tests."""

from __future__ import annotations

import socket
import threading
import time

import httpx
import uvicorn
from starlette.applications import Starlette

from bot.storage.database import Database


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Served:
    def __init__(self, web: Starlette, port: int) -> None:
        config = uvicorn.Config(
            web, host="127.0.0.1", port=port, log_level="warning", lifespan="on"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.02)
        self.base = f"http://127.0.0.1:{port}"
        self.http = httpx.Client(timeout=10)

    def stop(self) -> None:
        self.http.close()
        self.server.should_exit = True
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
