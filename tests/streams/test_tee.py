"""StreamTee: one upstream, many consumers, each with its own response."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from tests.streams.fakes import (
    ESTIMATED_USAGE,
    FINAL_USAGE,
    batch,
    complete,
    names,
    set_model,
    streamed,
)
from thrifty.streams import StreamTee, TeeClosed, observe
from thrifty.types import ChatResponse, Step, StreamEvent, Usage

TIMEOUT = 5  # no test may hang: a consumer that would wait forever fails instead


class Seen:
    """What one consumer saw: each batch with its own response's facts at that moment."""

    def __init__(self) -> None:
        self.batches: list[Sequence[StreamEvent]] = []
        self.complete_at: list[bool] = []
        self.models: list[str] = []


async def consume(view: ChatResponse, seen: Seen, stop_after: int | None = None) -> None:
    assert view.stream is not None
    async for got in view.stream:
        seen.batches.append(got)
        seen.complete_at.append(view.stream_complete)
        seen.models.append(view.model)
        if stop_after is not None and len(seen.batches) == stop_after:
            await getattr(view.stream, "aclose")()  # noqa: B009
            return


async def test_three_consumers_see_every_batch_and_the_final_facts() -> None:
    gate = asyncio.Event()
    response, upstream = streamed(
        [set_model("m-2024"), batch("a"), gate, batch("b", "c"), complete, batch("d")]
    )
    tee = StreamTee(response)
    views = [tee.subscribe() for _ in range(3)]
    seen = [Seen() for _ in views]
    tasks = [asyncio.create_task(consume(v, s)) for v, s in zip(views, seen, strict=True)]
    await asyncio.sleep(0.01)
    gate.set()
    await asyncio.wait_for(asyncio.gather(*tasks), TIMEOUT)
    for view, s in zip(views, seen, strict=True):
        assert names(s.batches) == ["a", "b", "c", "d"]
        assert s.complete_at == [False, False, True]
        assert s.models == ["m-2024"] * 3
        assert view.usage == FINAL_USAGE and view.usage_reported
        assert view.stream_complete and view.model == "m-2024"
    assert views[0].stream is not views[1].stream
    assert upstream.pulls == 4 and upstream.closed == 1  # one upstream read for all


async def test_a_consumer_leaving_early_does_not_disturb_the_others() -> None:
    gate = asyncio.Event()
    response, upstream = streamed([batch("a"), gate, batch("b"), complete, batch("c")])
    tee = StreamTee(response)
    leaver, stayer1, stayer2 = (tee.subscribe() for _ in range(3))
    left, s1, s2 = Seen(), Seen(), Seen()
    await asyncio.wait_for(consume(leaver, left, stop_after=1), TIMEOUT)
    assert upstream.closed == 0 and not upstream.cancelled
    tasks = [asyncio.create_task(consume(stayer1, s1)), asyncio.create_task(consume(stayer2, s2))]
    gate.set()
    await asyncio.wait_for(asyncio.gather(*tasks), TIMEOUT)
    assert names(left.batches) == ["a"]
    assert names(s1.batches) == names(s2.batches) == ["a", "b", "c"]
    assert stayer1.usage == stayer2.usage == FINAL_USAGE
    assert upstream.closed == 1 and not upstream.cancelled


async def test_a_cancelled_consumer_does_not_cancel_the_upstream() -> None:
    gate = asyncio.Event()
    response, upstream = streamed([batch("a"), gate, complete, batch("b")])
    tee = StreamTee(response)
    doomed, survivor = tee.subscribe(), tee.subscribe()
    s_doomed, s_survivor = Seen(), Seen()
    doomed_task = asyncio.create_task(consume(doomed, s_doomed))
    survivor_task = asyncio.create_task(consume(survivor, s_survivor))
    await upstream.waiting.wait()  # the upstream is now waiting inside its read
    await asyncio.sleep(0)
    doomed_task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await doomed_task
    assert not upstream.cancelled and upstream.closed == 0
    gate.set()
    await asyncio.wait_for(survivor_task, TIMEOUT)
    assert names(s_doomed.batches) == ["a"]
    assert names(s_survivor.batches) == ["a", "b"]
    assert survivor.stream_complete and survivor.usage == FINAL_USAGE
    assert upstream.closed == 1 and not upstream.cancelled


async def test_late_subscriber_replays_from_the_start_with_each_batch_facts() -> None:
    response, upstream = streamed([batch("a"), batch("b"), complete, batch("c")])
    tee = StreamTee(response)
    first = tee.subscribe()
    await asyncio.wait_for(consume(first, Seen()), TIMEOUT)
    assert tee.done and upstream.closed == 1
    late = tee.subscribe()
    # The late view starts as the upstream did, not as it ended.
    assert not late.stream_complete and not late.usage_reported and late.usage == Usage()
    seen = Seen()
    await asyncio.wait_for(consume(late, seen), TIMEOUT)
    assert names(seen.batches) == ["a", "b", "c"]
    assert seen.complete_at == [False, False, True]  # never complete on an earlier batch
    assert late.usage == FINAL_USAGE and late.stream_complete
    assert upstream.pulls == 4  # the late subscriber read no upstream


async def test_a_slow_consumer_is_not_told_complete_before_its_last_batch() -> None:
    response, _ = streamed([batch("a"), batch("b"), complete, batch("c")])
    tee = StreamTee(response)
    fast, slow = tee.subscribe(), tee.subscribe()
    await asyncio.wait_for(consume(fast, Seen()), TIMEOUT)
    assert response.stream_complete  # the upstream is done; the slow one has read nothing
    seen = Seen()
    await asyncio.wait_for(consume(slow, seen), TIMEOUT)
    assert seen.complete_at == [False, False, True]


async def test_upstream_failure_reaches_every_consumer_after_its_batches() -> None:
    gate = asyncio.Event()
    boom = RuntimeError("upstream cut the stream")
    response, upstream = streamed([batch("a"), gate, boom])
    tee = StreamTee(response)
    views = [tee.subscribe() for _ in range(3)]
    seen = [Seen() for _ in views]
    tasks = [asyncio.create_task(consume(v, s)) for v, s in zip(views, seen, strict=True)]
    await asyncio.sleep(0.01)
    gate.set()
    results = await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), TIMEOUT)
    assert all(r is boom for r in results)
    assert all(names(s.batches) == ["a"] for s in seen)
    assert upstream.closed == 1
    late = tee.subscribe()  # a late subscriber gets the same story
    seen_late = Seen()
    with pytest.raises(RuntimeError) as raised:
        await asyncio.wait_for(consume(late, seen_late), TIMEOUT)
    assert raised.value is boom and names(seen_late.batches) == ["a"]


async def test_every_consumer_leaving_closes_the_upstream_and_the_tee() -> None:
    gate = asyncio.Event()
    response, upstream = streamed([batch("a"), gate, complete, batch("b")])
    tee = StreamTee(response)
    one, two = tee.subscribe(), tee.subscribe()
    await asyncio.wait_for(consume(one, Seen(), stop_after=1), TIMEOUT)
    assert upstream.closed == 0
    await asyncio.wait_for(consume(two, Seen(), stop_after=1), TIMEOUT)
    assert upstream.closed == 1 and upstream.cancelled  # its read was interrupted
    # The last to leave ended the call: it gets the usage the close settled, to book.
    assert two.usage == ESTIMATED_USAGE and two.usage_estimated
    assert one.usage == Usage() and not one.usage_estimated
    assert not tee.joinable
    with pytest.raises(TeeClosed):
        tee.subscribe()


async def test_the_only_subscriber_closing_before_start_closes_the_upstream() -> None:
    response, upstream = streamed([batch("a"), complete])
    tee = StreamTee(response)
    view = tee.subscribe()
    assert view.stream is not None
    await getattr(view.stream, "aclose")()  # noqa: B009
    assert upstream.closed == 1 and upstream.pulls == 0
    assert tee.done and not tee.joinable


async def test_aclose_before_the_pump_ran_still_closes_the_upstream() -> None:
    response, upstream = streamed([batch("a"), complete])
    tee = StreamTee(response)
    view = tee.subscribe()
    seen = Seen()
    task = asyncio.create_task(consume(view, seen))
    await asyncio.sleep(0)  # the consumer ran once: it created the pump, which has not run
    await tee.aclose()  # directly: wait_for would give the pump its turn first
    assert upstream.closed == 1 and upstream.pulls == 0
    with pytest.raises(TeeClosed):
        await asyncio.wait_for(task, TIMEOUT)
    assert seen.batches == []


async def test_aclose_mid_stream_ends_readers_with_tee_closed() -> None:
    gate = asyncio.Event()
    response, upstream = streamed([batch("a"), gate, complete])
    tee = StreamTee(response)
    view = tee.subscribe()
    seen = Seen()
    task = asyncio.create_task(consume(view, seen))
    await upstream.waiting.wait()
    await tee.aclose()
    with pytest.raises(TeeClosed):
        await asyncio.wait_for(task, TIMEOUT)
    assert names(seen.batches) == ["a"] and upstream.closed == 1


async def test_aclose_with_an_error_ends_readers_with_that_error() -> None:
    gate = asyncio.Event()
    response, upstream = streamed([batch("a"), gate, complete])
    tee = StreamTee(response)
    views = [tee.subscribe(), tee.subscribe()]
    seen = [Seen(), Seen()]
    tasks = [asyncio.create_task(consume(v, s)) for v, s in zip(views, seen, strict=True)]
    await upstream.waiting.wait()
    why = LookupError("replaced by a newer request")
    await tee.aclose(why)
    for task in tasks:
        with pytest.raises(LookupError) as caught:
            await asyncio.wait_for(task, TIMEOUT)
        assert caught.value is why
    assert [names(s.batches) for s in seen] == [["a"], ["a"]] and upstream.closed == 1
    assert all(v.usage == ESTIMATED_USAGE for v in views)  # what closing settled, to book


async def test_each_consumer_observed_books_before_its_final_batch() -> None:
    # The coalescing shape: every request's own ledger observes its own view.
    response, upstream = streamed([batch("a"), complete, batch("b")])
    tee = StreamTee(response)
    logs: list[list[str]] = []
    views = []
    for _ in range(2):
        view = tee.subscribe()
        log: list[str] = []

        async def on_complete(view: ChatResponse = view, log: list[str] = log) -> None:
            assert view.usage == FINAL_USAGE
            log.append("complete")

        async def on_abort(
            exc: BaseException | None, handed_on: bool, log: list[str] = log
        ) -> None:
            log.append("abort")

        observe(view, on_complete=on_complete, on_abort=on_abort)
        logs.append(log)
        views.append(view)

    async def drain(view: ChatResponse, log: list[str]) -> None:
        assert view.stream is not None
        async for got in view.stream:
            log.extend(names([got]))

    await asyncio.wait_for(
        asyncio.gather(*(drain(v, lg) for v, lg in zip(views, logs, strict=True))), TIMEOUT
    )
    assert logs == [["a", "complete", "b"]] * 2
    assert upstream.closed == 1


async def test_views_are_independent_responses() -> None:
    response, _ = streamed([complete, batch("a")])
    response.steps.append(Step(lever="coalesce", detail="shared"))
    response.server_tools["web_search"] = 1
    tee = StreamTee(response)
    one, two = tee.subscribe(), tee.subscribe()
    one.steps[0].detail = "changed"
    one.steps.append(Step(lever="memo", detail="mine"))
    one.server_tools["web_search"] = 5
    assert [s.detail for s in two.steps] == ["shared"]
    assert two.server_tools == {"web_search": 1}
    for view in (one, two):
        await asyncio.wait_for(consume(view, Seen()), TIMEOUT)
    assert two.server_tools == {"web_search": 1}


async def test_non_stream_subscribers_get_copies_of_the_body() -> None:
    body = {"id": "chatcmpl-1", "choices": [{"message": {"content": "hi"}}]}
    response = ChatResponse(dialect="openai", model="m", provider="p", usage=FINAL_USAGE, body=body)
    tee = StreamTee(response)
    one, two = tee.subscribe(), tee.subscribe()
    assert one.body == two.body == body
    assert one.body is not body and two.body is not one.body
    assert one.body is not None and two.body is not None
    one.body["choices"][0]["message"]["content"] = "changed"
    assert two.body["choices"][0]["message"]["content"] == "hi"
    assert one.stream is None and one.usage == FINAL_USAGE
