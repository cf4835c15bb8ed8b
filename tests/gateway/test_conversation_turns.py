"""Kept conversations (``x-thrifty-conversation``) through the gateway, with both SDKs:
turns of one conversation sent together run one after the other (the default) or the
later one gets a 409 in its dialect (``conversation_busy = "refuse"``); a client that
leaves frees its turn; conversations work with the history lever off, and a gateway that
turns them off answers a 400."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest

from tests.gateway.conftest import Gateway, make_settings, running_gateway

SLOW = " [[sim:latency=1500]]"  # the simulator answers this turn 1.5 s late
SOON = 0.4  # seconds before the next turn is sent: the slow one is in flight by then
STORED = "x-thrifty-conversation"


def conv(conversation_id: str) -> dict[str, Any]:
    return {"extra_headers": {STORED: conversation_id}}


def said(text: str) -> list[Any]:
    return [{"role": "user", "content": text}]


@asynccontextmanager
async def clients(
    tmp_path: Path, **history: Any
) -> AsyncIterator[tuple[Gateway, openai.AsyncOpenAI, anthropic.AsyncAnthropic]]:
    settings = make_settings(tmp_path, levers={"history": history})
    async with (
        running_gateway(settings) as running,
        openai.AsyncOpenAI(base_url=running.url + "/v1", api_key="k", max_retries=0) as oai,
        anthropic.AsyncAnthropic(base_url=running.url, api_key="k", max_retries=0) as ant,
    ):
        yield running, oai, ant


async def later(seconds: float, coroutine: Any) -> Any:
    await asyncio.sleep(seconds)
    return await coroutine


async def test_openai_turns_sent_together_run_one_after_the_other(tmp_path: Path) -> None:
    async with clients(tmp_path) as (gateway, oai, _):
        create = oai.chat.completions.with_raw_response.create
        first, second = await asyncio.gather(
            create(model="gpt-4o", messages=said("First." + SLOW), **conv("o-1")),
            later(SOON, create(model="gpt-4o", messages=said("Second."), **conv("o-1"))),
        )
        # one waited for the other and was sent after it, with it (whichever came first)
        assert {first.headers[STORED], second.headers[STORED]} == {
            "0 stored messages before this turn",
            "2 stored messages before this turn",
        }
        third = await create(model="gpt-4o", messages=said("Third."), **conv("o-1"))
        assert third.headers[STORED] == "4 stored messages before this turn"
        assert [r.status for r in gateway.rows()] == [200, 200, 200]


async def test_an_anthropic_turn_waits_for_a_stream_in_flight(tmp_path: Path) -> None:
    async with clients(tmp_path) as (_, _, ant):

        async def streamed() -> str:
            async with ant.messages.stream(
                model="claude-sonnet-4-6",
                max_tokens=50,
                messages=said("Tell me a colour." + SLOW),
                **conv("a-1"),
            ) as stream:
                message = await stream.get_final_message()
            return str(message.content[0])

        second = ant.messages.with_raw_response.create(
            model="claude-sonnet-4-6", max_tokens=50, messages=said("Another."), **conv("a-1")
        )
        text, answer = await asyncio.gather(streamed(), later(SOON, second))
        assert text
        assert answer.headers[STORED] == "2 stored messages before this turn"  # it waited
        third = await ant.messages.with_raw_response.create(
            model="claude-sonnet-4-6", max_tokens=50, messages=said("Third."), **conv("a-1")
        )
        assert third.headers[STORED] == "4 stored messages before this turn"


@pytest.mark.parametrize("dialect", ["openai", "anthropic"])
async def test_refuse_mode_answers_a_409_in_the_dialect(tmp_path: Path, dialect: str) -> None:
    async with clients(tmp_path, conversation_busy="refuse") as (gateway, oai, ant):

        async def ask(text: str) -> Any:
            if dialect == "openai":
                return await oai.chat.completions.create(
                    model="gpt-4o", messages=said(text), **conv("r-1")
                )
            return await ant.messages.create(
                model="claude-sonnet-4-6", max_tokens=50, messages=said(text), **conv("r-1")
            )

        conflict = openai.ConflictError if dialect == "openai" else anthropic.ConflictError
        first = asyncio.create_task(ask("First." + SLOW))
        await asyncio.sleep(SOON)
        with pytest.raises(conflict, match="another turn of this conversation is in flight"):
            await ask("Second.")
        assert await first
        refused = [r for r in gateway.rows() if r.status == 409]
        assert len(refused) == 1
        assert refused[0].failure == "conversation_busy"
        assert refused[0].calls == () and refused[0].cost_usd == 0
        await ask("Third.")  # the conversation is free again


async def test_a_client_that_leaves_frees_its_turn(tmp_path: Path) -> None:
    async with clients(tmp_path, conversation_busy="refuse") as (_, oai, _):
        started = time.monotonic()
        with pytest.raises(openai.APITimeoutError):
            await oai.chat.completions.create(
                model="gpt-4o",
                messages=said("Slow one. [[sim:latency=8000]]"),
                timeout=0.3,
                **conv("d-1"),
            )
        while True:  # the gateway notices the disconnect, cancels the turn and frees it
            try:
                answer = await oai.chat.completions.with_raw_response.create(
                    model="gpt-4o", messages=said("Are you there?"), **conv("d-1")
                )
                break
            except openai.ConflictError:
                assert time.monotonic() - started < 6, "the turn was never released"
                await asyncio.sleep(0.05)
        assert answer.headers[STORED] == "0 stored messages before this turn"  # cut: not kept


@pytest.mark.parametrize("history", [{}, {"enabled": False}])
async def test_conversations_are_kept_with_the_history_lever_off(
    tmp_path: Path, history: dict[str, Any]
) -> None:
    async with clients(tmp_path, **history) as (gateway, oai, ant):
        create = oai.chat.completions.with_raw_response.create
        await create(model="gpt-4o", messages=said("Remember 42."), **conv("k-1"))
        again = await create(model="gpt-4o", messages=said("Which number?"), **conv("k-1"))
        assert again.headers[STORED] == "2 stored messages before this turn"
        assert "x-thrifty-history" not in again.headers  # nothing trimmed: the lever is off
        rows = gateway.rows()
        assert rows[1].usage.input_tokens > rows[0].usage.input_tokens
        await ant.messages.create(
            model="claude-sonnet-4-6", max_tokens=50, messages=said("Hi."), **conv("k-2")
        )
        kept = await ant.messages.with_raw_response.create(
            model="claude-sonnet-4-6", max_tokens=50, messages=said("Again."), **conv("k-2")
        )
        assert kept.headers[STORED] == "2 stored messages before this turn"


async def test_a_gateway_with_conversations_off_answers_a_400(tmp_path: Path) -> None:
    async with clients(tmp_path, conversations=False) as (gateway, oai, ant):
        with pytest.raises(openai.BadRequestError, match="conversations are off"):
            await oai.chat.completions.create(model="gpt-4o", messages=said("Hi."), **conv("n-1"))
        with pytest.raises(anthropic.BadRequestError, match="conversations are off"):
            await ant.messages.create(
                model="claude-sonnet-4-6", max_tokens=50, messages=said("Hi."), **conv("n-1")
            )
        assert [r.status for r in gateway.rows()] == [400, 400]
        assert await oai.chat.completions.create(model="gpt-4o", messages=said("No id."))


async def test_an_id_on_a_responses_request_is_said_to_be_ignored(tmp_path: Path) -> None:
    async with clients(tmp_path) as (_, oai, _):
        answer = await oai.responses.with_raw_response.create(
            model="gpt-4o", input="Hi.", **conv("x-1")
        )
        assert answer.parse().output_text
        assert answer.headers["x-thrifty-conversation-warning"] == (
            "ignored: kept for chat requests only, not responses"
        )
