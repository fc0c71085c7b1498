"""One process of several runs the scheduler and broadcasts; another takes over when it dies."""

from __future__ import annotations

import asyncio

from bot.app import App
from bot.leader import Lease, lead
from tests.conftest import Clock


def test_one_leads_the_other_waits_and_takes_over_when_the_lease_runs_out(
    app: App, clock: Clock
) -> None:
    first = Lease(app.db, ttl=20, clock=clock, holder="one")
    second = Lease(app.db, ttl=20, clock=clock, holder="two")
    assert first.hold() and not second.hold()
    clock.advance(seconds=10)
    assert first.hold()  # renewed
    clock.advance(seconds=15)
    assert not second.hold()  # still within the renewed lease
    clock.advance(seconds=6)  # the first stopped renewing: it died
    assert second.hold() and not first.hold()
    second.release()
    assert first.hold()


def test_the_work_runs_while_leading_and_stops_on_shutdown(app: App, clock: Clock) -> None:
    events: list[str] = []

    async def work(resign: asyncio.Event) -> None:
        events.append("start")
        await resign.wait()
        events.append("stop")

    async def run() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(lead(Lease(app.db, clock=clock), work, stop, renew=0.01))
        while not events:
            await asyncio.sleep(0.01)
        stop.set()
        await task

    asyncio.run(run())
    assert events == ["start", "stop"]
    assert Lease(app.db, clock=clock, holder="next").hold()  # released on the way out


def test_a_process_that_loses_the_lease_stops_its_work(app: App, clock: Clock) -> None:
    events: list[str] = []
    ahead = Clock()
    ahead.advance(seconds=21)  # the other process's view: this one stalled past its lease
    other = Lease(app.db, ttl=20, clock=ahead, holder="other")

    async def work(resign: asyncio.Event) -> None:
        events.append("start")
        await resign.wait()
        events.append("stop")

    async def run() -> None:
        stop = asyncio.Event()
        mine = Lease(app.db, ttl=20, clock=clock, holder="mine")
        task = asyncio.create_task(lead(mine, work, stop, renew=0.01))
        while not events:
            await asyncio.sleep(0.01)
        assert await asyncio.to_thread(other.hold)
        while "stop" not in events:
            await asyncio.sleep(0.01)
        stop.set()
        await task

    asyncio.run(run())
    assert events == ["start", "stop"]
