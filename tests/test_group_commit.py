"""Sent marks of many chats share a transaction (`GroupCommit`), and each chat still waits for
its own mark to be committed before its next reply goes."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from bot.outgoing import GroupCommit


class HeldWrites:
    """Commits that wait for the test to let them through, one at a time."""

    def __init__(self) -> None:
        self.written: list[list[int]] = []
        self.go = asyncio.Semaphore(0)
        self.fail_next = False

    def write(self, items: list[int]) -> None:
        if self.fail_next:
            self.fail_next = False
            raise RuntimeError("database gone")
        self.written.append(items)

    async def run(self, write: Callable[[list[int]], None], items: list[int]) -> None:
        await self.go.acquire()
        write(items)


async def test_what_arrives_during_a_commit_goes_in_the_next_one_together() -> None:
    held = HeldWrites()
    marks = GroupCommit(held.write, held.run)
    first = asyncio.create_task(marks.add(0))
    await asyncio.sleep(0)  # the first commit is on its way, held
    rest = [asyncio.create_task(marks.add(n)) for n in range(1, 10)]
    await asyncio.sleep(0)
    assert not first.done() and not any(t.done() for t in rest)
    held.go.release()
    await first
    assert held.written == [[0]]
    assert not any(t.done() for t in rest)  # not committed yet: they wait
    held.go.release()
    await asyncio.gather(*rest)
    assert held.written == [[0], list(range(1, 10))]


async def test_a_failed_commit_fails_each_of_its_items_and_the_next_commit_goes_on() -> None:
    held = HeldWrites()
    marks = GroupCommit(held.write, held.run)
    held.fail_next = True
    failing = [asyncio.create_task(marks.add(n)) for n in range(3)]
    await asyncio.sleep(0)
    held.go.release()
    for task in failing:
        with pytest.raises(RuntimeError):
            await task
    held.go.release()
    await marks.add(3)
    assert held.written == [[3]]
