"""Telegram numbers a bot's updates one after another; an update whose lower numbers are
still on their way waits for them, then goes on without reading its chat back."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from bot.app import App
from bot.inbox import Handler, Inbox, Turn
from bot.storage.models import InboundUpdate, utcnow


@contextmanager
def reads_of_pending(app: App) -> Iterator[list[object]]:
    """The parameters of every read of a chat's pending updates (the database path)."""
    seen: list[object] = []

    def note(
        _conn: object, _cursor: object, statement: str, parameters: object, *_: object
    ) -> None:
        flat = " ".join(statement.split())
        pending = "FROM inbound_update" in flat and "ORDER BY inbound_update.seq" in flat
        if pending and "LIMIT" not in flat:  # the claim reads the first one only
            seen.append(parameters)

    sa.event.listen(app.db.engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        sa.event.remove(app.db.engine, "before_cursor_execute", note)


def applying(app: App, note: Callable[[Turn, int], None]) -> Handler:
    """The inbox's handler as the conversation uses it: claim the turn, note it, finish it."""

    def apply(rows: list[InboundUpdate], turn: Turn) -> None:
        with app.db.session() as session:
            if turn.claim(session):
                note(turn, rows[0].seq)
                turn.finish(session, utcnow())

    async def handler(rows: list[InboundUpdate], turn: Turn) -> None:
        await asyncio.to_thread(apply, rows, turn)

    return handler


async def test_an_update_that_waited_for_a_lower_number_goes_on_from_memory(app: App) -> None:
    handled: list[tuple[str, int]] = []
    handler = applying(app, lambda turn, seq: handled.append((turn.chat_key, seq)))

    inbox = Inbox(
        app.db, "telegram", handler, settle_seconds=0, sequential=True, gap_hold_seconds=30
    )
    with reads_of_pending(app) as seen:
        await inbox.accept("1", 1, "chat-a", {})
        await inbox.accept("3", 3, "chat-b", {})  # 2 is still on its way
        await asyncio.sleep(0.3)
        assert ("chat-b", 3) not in handled  # it waits for 2
        await inbox.accept("2", 2, "chat-a", {})
        await inbox.close()
    assert sorted(handled) == [("chat-a", 1), ("chat-a", 2), ("chat-b", 3)]
    assert [seq for chat, seq in handled if chat == "chat-a"] == [1, 2]
    # chat-b's pending updates were never read back: the one it had stored went on as it was
    assert not [p for p in seen if "chat-b" in str(p)], seen


async def test_updates_waiting_for_a_lower_number_share_their_reads(app: App) -> None:
    """Thirty updates of thirty chats wait for number 1 while others keep arriving: they
    share one look at what other processes stored (each used to read again at every store)."""
    handled: list[int] = []
    handler = applying(app, lambda _turn, seq: handled.append(seq))

    inbox = Inbox(
        app.db,
        "telegram",
        handler,
        settle_seconds=0,
        sequential=True,
        gap_hold_seconds=60,
        look_every=60,  # no second look during the test, however slow the machine
    )
    looks: list[object] = []

    def note(_c: object, _cu: object, statement: str, parameters: object, *_: object) -> None:
        flat = " ".join(statement.split())
        if "SELECT inbound_update.seq" in flat and "inbound_update.seq <" in flat:
            looks.append(parameters)

    sa.event.listen(app.db.engine, "before_cursor_execute", note)
    try:
        await inbox.accept("0", 0, "chat-0", {})  # sets the floor: 1 is awaited from here on
        for n in range(2, 32):
            await inbox.accept(str(n), n, f"chat-{n}", {})
        await asyncio.sleep(0.2)
        assert handled == [0]  # the thirty wait for number 1
        await inbox.accept("1", 1, "chat-1", {})
        await inbox.close()
    finally:
        sa.event.remove(app.db.engine, "before_cursor_execute", note)
    assert sorted(handled) == list(range(32))
    assert 1 <= len(looks) <= 2, len(looks)


async def test_a_number_another_process_stored_frees_the_update_waiting_for_it(app: App) -> None:
    """Two processes on one database: B holds 12 until it sees 11, which A stored. B's look
    at the database finds it, long before the gap hold would have let 12 go anyway."""
    handled: list[int] = []
    handler = applying(app, lambda _turn, seq: handled.append(seq))

    def process() -> Inbox:
        return Inbox(
            app.db, "telegram", handler, settle_seconds=0, sequential=True, gap_hold_seconds=120
        )

    a, b = process(), process()
    await b.accept("10", 10, "chat-x", {})
    await a.accept("11", 11, "chat-y", {})  # B never hears of it
    await b.accept("12", 12, "chat-z", {})
    async with asyncio.timeout(60):  # half the gap hold: only a look lets 12 go this soon
        while 12 not in handled:
            await asyncio.sleep(0.02)
    await asyncio.gather(a.close(), b.close())
    assert sorted(handled) == [10, 11, 12]
