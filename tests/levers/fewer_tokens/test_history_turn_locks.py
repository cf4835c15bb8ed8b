"""One turn at a time per kept conversation (:mod:`...history.turn_locks`): a second turn
waits or is refused, the map holds only conversations in flight (bounded), and every way
out (release, timeout, cancel) leaves it clean."""

from __future__ import annotations

import asyncio

import pytest

from thrifty.errors import ConversationBusy
from thrifty.levers.fewer_tokens.history.turn_locks import TurnLocks


def locks(*, limit: int = 10, wait: bool = True, wait_s: float = 5.0) -> TurnLocks:
    return TurnLocks(limit=limit, wait=wait, wait_s=wait_s)


async def test_a_second_turn_waits_for_the_first() -> None:
    turns = locks()
    first = await turns.acquire("k")
    waiting = asyncio.create_task(turns.acquire("k"))
    await asyncio.sleep(0.01)
    assert not waiting.done()
    first.release()
    second = await asyncio.wait_for(waiting, 1)
    assert len(turns) == 1
    second.release()
    assert len(turns) == 0


async def test_other_conversations_do_not_wait() -> None:
    turns = locks()
    first = await turns.acquire("a")
    other = await asyncio.wait_for(turns.acquire("b"), 1)
    assert len(turns) == 2
    first.release()
    other.release()
    assert len(turns) == 0


async def test_turns_come_in_arrival_order() -> None:
    turns = locks()
    order: list[int] = []
    held = await turns.acquire("k")

    async def turn(n: int) -> None:
        mine = await turns.acquire("k")
        order.append(n)
        mine.release()

    tasks = [asyncio.create_task(turn(n)) for n in range(3)]
    await asyncio.sleep(0.01)
    held.release()
    await asyncio.gather(*tasks)
    assert order == [0, 1, 2]
    assert len(turns) == 0


async def test_refuse_mode_is_a_conflict_at_once() -> None:
    turns = locks(wait=False)
    held = await turns.acquire("k")
    with pytest.raises(ConversationBusy, match="in flight") as caught:
        await turns.acquire("k")
    assert caught.value.status == 409 and caught.value.failure == "conversation_busy"
    held.release()
    (await turns.acquire("k")).release()  # free again once the first turn is done
    assert len(turns) == 0


async def test_a_wait_past_its_bound_is_a_conflict_and_leaves_no_entry_behind() -> None:
    turns = locks(wait_s=0.05)
    held = await turns.acquire("k")
    with pytest.raises(ConversationBusy, match=r"after 0\.05 s"):
        await turns.acquire("k")
    held.release()
    assert len(turns) == 0


async def test_a_cancelled_wait_leaves_the_lock_free() -> None:
    turns = locks()
    held = await turns.acquire("k")
    waiting = asyncio.create_task(turns.acquire("k"))
    await asyncio.sleep(0.01)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    held.release()
    assert len(turns) == 0
    (await asyncio.wait_for(turns.acquire("k"), 1)).release()


async def test_the_map_is_bounded() -> None:
    turns = locks(limit=2)
    held = [await turns.acquire("a"), await turns.acquire("b")]
    with pytest.raises(ConversationBusy, match="more than 2 conversations"):
        await turns.acquire("c")
    waiting = asyncio.create_task(turns.acquire("a"))  # a conversation in the map may wait
    await asyncio.sleep(0.01)
    held[0].release()
    (await asyncio.wait_for(waiting, 1)).release()
    held[1].release()
    assert len(turns) == 0
    (await turns.acquire("c")).release()


async def test_release_is_idempotent() -> None:
    turns = locks()
    first = await turns.acquire("k")
    first.release()
    first.release()
    second = await asyncio.wait_for(turns.acquire("k"), 1)
    first.release()  # a stale release must not free the second turn's lock
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(turns.acquire("k"), 0.05)
    second.release()
    assert len(turns) == 0


def test_bad_bounds_are_refused() -> None:
    with pytest.raises(ValueError):
        TurnLocks(limit=0, wait=True, wait_s=1)
    with pytest.raises(ValueError):
        TurnLocks(limit=1, wait=True, wait_s=0)
