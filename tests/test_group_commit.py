"""Sent marks of many chats share a transaction (`GroupCommit`), and each chat still waits for
its own mark to be committed before its next reply goes."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from bot.outgoing import GroupCommit


class HeldWrites:
    """Commits that wait for the test to let them through, one at a time."""

    def __init__(self, failures: int = 0) -> None:
        self.written: list[list[int]] = []
        self.go = asyncio.Semaphore(0)
        self.failures = failures  # how many commits fail before they work again
        self.tries = 0

    def write(self, items: list[int]) -> None:
        self.tries += 1
        if self.failures:
            self.failures -= 1
            raise RuntimeError("database gone")
        self.written.append(items)

    async def run(self, write: Callable[[list[int]], None], items: list[int]) -> None:
        await self.go.acquire()
        write(items)


def group(held: HeldWrites) -> GroupCommit[int]:
    marks = GroupCommit(held.write, held.run)
    marks.RETRIES = (0.0, 0.0)  # tried three times in all, without waiting in the test
    return marks


async def test_what_arrives_during_a_commit_goes_in_the_next_one_together() -> None:
    held = HeldWrites()
    marks = group(held)
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


async def test_a_commit_that_failed_once_is_tried_again_for_the_whole_batch() -> None:
    held = HeldWrites(failures=1)
    marks = group(held)
    for _ in range(5):
        held.go.release()
    await asyncio.gather(*(marks.add(n) for n in range(3)))
    assert held.written == [[0, 1, 2]] and held.tries == 2


async def test_a_commit_that_keeps_failing_fails_each_item_and_the_next_goes_on() -> None:
    held = HeldWrites(failures=3)
    marks = group(held)
    for _ in range(10):
        held.go.release()
    failing = [asyncio.create_task(marks.add(n)) for n in range(3)]
    for task in failing:
        with pytest.raises(RuntimeError):
            await task
    assert held.tries == 3
    await marks.add(3)
    assert held.written == [[3]]


def test_a_group_commit_goes_on_in_a_new_event_loop() -> None:
    """A sender kept across `asyncio.run` calls (the CLI and the tests do that)."""
    held = HeldWrites()
    marks = group(held)
    for _ in range(2):
        held.go.release()
    asyncio.run(marks.add(1))
    asyncio.run(marks.add(2))
    assert held.written == [[1], [2]]
