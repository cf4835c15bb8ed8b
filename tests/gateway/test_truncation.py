"""Truncation through the gateway with no lever on, with the official SDKs: an answer cut by
its length limit gets ``x-thrifty-truncated: true`` (a stream: in its final SSE comment,
its head having left before the end), its row says so, ``thrifty report`` counts it per
task, and a replayed or coalesced answer keeps the fact."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx

from tests.gateway.conftest import Gateway
from tests.gateway.fewer_calls_kit import TIMEOUT, rows, running, sdks, upstream_calls
from thrifty.ledger import SqliteLedgerReader, build_report, report_to_json

ASK = [{"role": "user", "content": "Tell me about the weather in Paris in spring, at length."}]
LONG_INPUT = "Tell me about the weather in Paris in spring, at length, with many details."


def task(name: str) -> dict[str, str]:
    return {"x-thrifty-task": name}


async def sse_lines(gw: Gateway, path: str, body: dict[str, object], name: str) -> list[str]:
    headers = {"authorization": "Bearer app-key", **task(name)}
    if path == "/v1/messages":
        headers["anthropic-version"] = "2023-06-01"
    async with (
        httpx.AsyncClient(timeout=TIMEOUT) as http,
        http.stream("POST", gw.url + path, json=body, headers=headers) as answer,
    ):
        assert answer.status_code == 200
        if "x-thrifty-truncated" in answer.headers:  # the whole stream came in one read
            assert answer.headers["x-thrifty-truncated"] == "true"
        return [line async for line in answer.aiter_lines()]


async def test_truncation_is_flagged_and_counted_with_no_lever_on(tmp_path: Path) -> None:
    async with running(tmp_path) as gw:
        oai, ant = sdks(gw)
        async with oai, ant:
            cut = await oai.chat.completions.with_raw_response.create(
                model="gpt-4o-mini", messages=ASK, max_tokens=2, extra_headers=task("tight")
            )
            assert cut.headers["x-thrifty-truncated"] == "true"
            assert cut.parse().choices[0].finish_reason == "length"
            assert cut.headers["x-thrifty-levers"] == "none"
            whole = await oai.chat.completions.with_raw_response.create(
                model="gpt-4o-mini", messages=ASK, max_tokens=400, extra_headers=task("roomy")
            )
            assert "x-thrifty-truncated" not in whole.headers
            claude = await ant.messages.with_raw_response.create(
                model="claude-haiku-4-5", max_tokens=2, messages=ASK, extra_headers=task("tight")
            )
            assert claude.headers["x-thrifty-truncated"] == "true"
            assert (await claude.parse()).stop_reason == "max_tokens"
            # An OpenAI app served by Claude: the Anthropic upstream's word, translated.
            crossed = await oai.chat.completions.with_raw_response.create(
                model="claude-haiku-4-5", messages=ASK, max_tokens=2, extra_headers=task("tight")
            )
            assert crossed.headers["x-thrifty-truncated"] == "true"
            assert crossed.parse().choices[0].finish_reason == "length"
            responses = await oai.responses.with_raw_response.create(
                model="gpt-4o-mini",
                input=LONG_INPUT,
                max_output_tokens=16,
                extra_headers=task("tight"),
            )
            assert responses.headers["x-thrifty-truncated"] == "true"
            assert responses.parse().status == "incomplete"

        for path, body in [
            ("/v1/chat/completions", {"model": "gpt-4o-mini", "messages": ASK, "max_tokens": 2}),
            ("/v1/messages", {"model": "claude-haiku-4-5", "messages": ASK, "max_tokens": 2}),
            (
                "/v1/responses",
                {"model": "gpt-4o-mini", "input": LONG_INPUT, "max_output_tokens": 16},
            ),
        ]:
            lines = await sse_lines(gw, path, {**body, "stream": True}, "tight")
            comment = [line for line in lines if line.startswith(": thrifty")]
            assert comment and "truncated=true" in comment[-1], (path, lines[-3:])
        roomy = {"model": "gpt-4o-mini", "messages": ASK, "max_tokens": 400, "stream": True}
        lines = await sse_lines(gw, "/v1/chat/completions", roomy, "roomy")
        assert not any("truncated" in line for line in lines if line.startswith(":"))

        booked = await rows(gw, 9)
    tight, roomy = ("tight", True), ("roomy", False)
    assert [(r.task, r.truncated) for r in booked] == [tight, roomy, *[tight] * 6, roomy]
    assert [r.stream for r in booked] == [False] * 5 + [True] * 4
    report = await build_report(SqliteLedgerReader(tmp_path / "ledger.db"))
    assert report_to_json(report)["truncated_by_task"] == [
        {"task": "tight", "truncated": 7, "requests": 7}
    ]


async def test_a_replayed_answer_keeps_the_fact(tmp_path: Path) -> None:
    key = {"Idempotency-Key": "cut-1", **task("tight")}
    async with running(tmp_path) as gw:
        oai, _ = sdks(gw)
        async with oai:
            for _ in range(2):
                answer = await oai.chat.completions.with_raw_response.create(
                    model="gpt-4o-mini", messages=ASK, max_tokens=2, extra_headers=key
                )
                assert answer.headers["x-thrifty-truncated"] == "true"
            assert answer.headers["x-thrifty-idempotency"] == "replay"
            streamed_key = {**key, "Idempotency-Key": "cut-2"}
            for _ in range(2):
                stream = await oai.chat.completions.create(
                    model="gpt-4o-mini",
                    messages=ASK,
                    max_tokens=2,
                    stream=True,
                    extra_headers=streamed_key,
                )
                finishes = [c.choices[0].finish_reason async for c in stream if c.choices]
                assert "length" in finishes
        assert await upstream_calls(gw) == 2
        booked = await rows(gw, 4)
    assert [r.truncated for r in booked] == [True, True, True, True]
    assert [r.calls == () for r in booked] == [False, True, False, True]


async def test_coalesced_followers_keep_the_fact(tmp_path: Path) -> None:
    slow = [{"role": "user", "content": "[[sim:latency=800]] " + ASK[0]["content"]}]
    async with running(tmp_path) as gw:
        oai, _ = sdks(gw)
        async with oai:

            async def ask() -> Any:
                return await oai.chat.completions.with_raw_response.create(
                    model="gpt-4o-mini",
                    messages=slow,
                    max_tokens=2,
                    temperature=0,
                    extra_headers=task("tight"),
                )

            async def ask_streamed() -> list[str | None]:
                stream = await oai.chat.completions.create(
                    model="gpt-4o-mini",
                    messages=slow,
                    max_tokens=2,
                    temperature=0,
                    stream=True,
                    extra_headers=task("tight"),
                )
                return [c.choices[0].finish_reason async for c in stream if c.choices]

            answers = await asyncio.wait_for(asyncio.gather(*(ask() for _ in range(3))), TIMEOUT)
            assert await upstream_calls(gw) == 1
            assert [a.headers["x-thrifty-truncated"] for a in answers] == ["true"] * 3
            assert ["follower" in a.headers.get("x-thrifty-coalesce", "") for a in answers].count(
                True
            ) == 2
            streamed = await asyncio.wait_for(
                asyncio.gather(*(ask_streamed() for _ in range(3))), TIMEOUT
            )
            assert all("length" in finishes for finishes in streamed)
            assert await upstream_calls(gw) == 2
        booked = await rows(gw, 6)
    assert [r.truncated for r in booked] == [True] * 6
    assert sorted(len(r.calls) for r in booked) == [0, 0, 0, 0, 1, 1]
