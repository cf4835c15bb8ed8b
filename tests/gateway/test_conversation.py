"""Conversations the gateway keeps (``x-thrifty-conversation``), with the official SDKs
against the simulator: the app sends only its new message, the provider gets the whole
conversation (as many input tokens as a stateless resend of it), per tenant, in both
dialects and for streams; a failed turn stores nothing; a store outage degrades to
stateless with a warning header."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest

from tests.gateway.conftest import Gateway, make_settings, running_gateway

HISTORY = {"enabled": True, "policy": "last_n", "max_turns": 100, "step_turns": 10}


@pytest.fixture
async def gateway(tmp_path: Path) -> AsyncIterator[Gateway]:
    settings = make_settings(tmp_path, levers={"history": HISTORY})
    async with running_gateway(settings) as running:
        yield running


def conv(conversation_id: str, tenant: str = "acme") -> dict[str, Any]:
    return {
        "extra_headers": {"x-thrifty-conversation": conversation_id, "x-thrifty-tenant": tenant}
    }


async def test_openai_turns_are_kept_and_sent_whole(
    gateway: Gateway, oai: openai.AsyncOpenAI
) -> None:
    system = {"role": "system", "content": "Answer in one short sentence."}
    first = {"role": "user", "content": "What is the capital of France?"}
    one = await oai.chat.completions.with_raw_response.create(
        model="gpt-4o", messages=[system, first], **conv("c-1")
    )
    assert one.headers["x-thrifty-conversation"] == "0 stored messages before this turn"
    answer = one.parse().choices[0].message.content
    second = {"role": "user", "content": "And of Italy?"}
    two = await oai.chat.completions.with_raw_response.create(
        model="gpt-4o", messages=[second], **conv("c-1")
    )
    assert two.headers["x-thrifty-conversation"] == "2 stored messages before this turn"
    # The same conversation resent whole, without an id: the provider saw the same prompt.
    whole = [system, first, {"role": "assistant", "content": answer}, second]
    await oai.chat.completions.create(model="gpt-4o", messages=whole)  # type: ignore[arg-type]
    rows = gateway.rows()
    assert len(rows) == 3
    assert rows[1].usage.input_tokens == rows[2].usage.input_tokens
    assert rows[1].usage.input_tokens > rows[0].usage.input_tokens


async def test_another_tenant_never_sees_the_conversation(
    gateway: Gateway, oai: openai.AsyncOpenAI
) -> None:
    message = {"role": "user", "content": "Remember the number 42."}
    await oai.chat.completions.create(model="gpt-4o", messages=[message], **conv("shared"))  # type: ignore[list-item]
    other = await oai.chat.completions.with_raw_response.create(
        model="gpt-4o",
        messages=[{"role": "user", "content": "Which number?"}],
        **conv("shared", tenant="rival"),
    )
    assert other.headers["x-thrifty-conversation"] == "0 stored messages before this turn"
    rows = gateway.rows()
    assert rows[1].tenant == "rival"
    assert rows[1].usage.input_tokens < rows[0].usage.input_tokens + 10


async def test_anthropic_stream_is_stored_at_its_end(
    gateway: Gateway, ant: anthropic.AsyncAnthropic
) -> None:
    await ant.messages.create(
        model="claude-sonnet-4-6",
        max_tokens=50,
        system="Be brief.",
        messages=[{"role": "user", "content": "Name a colour."}],
        **conv("a-1"),
    )
    async with ant.messages.stream(
        model="claude-sonnet-4-6",
        max_tokens=50,
        messages=[{"role": "user", "content": "Another one."}],
        **conv("a-1"),
    ) as stream:
        streamed = await stream.get_final_message()
    assert streamed.content
    third = await ant.messages.with_raw_response.create(
        model="claude-sonnet-4-6",
        max_tokens=50,
        messages=[{"role": "user", "content": "And a third."}],
        **conv("a-1"),
    )
    assert third.headers["x-thrifty-conversation"] == "4 stored messages before this turn"
    assert [r.failure for r in gateway.rows()] == [None, None, None]


async def test_a_failed_turn_stores_nothing(gateway: Gateway, oai: openai.AsyncOpenAI) -> None:
    await oai.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "Hello."}], **conv("f-1")
    )
    with pytest.raises(openai.InternalServerError):
        await oai.chat.completions.create(
            model="gpt-4o",
            messages=[{"role": "user", "content": "Fail now [[sim:fault=500]]"}],
            **conv("f-1"),
        )
    after = await oai.chat.completions.with_raw_response.create(
        model="gpt-4o", messages=[{"role": "user", "content": "Still there?"}], **conv("f-1")
    )
    assert after.headers["x-thrifty-conversation"] == "2 stored messages before this turn"


async def test_a_streamed_failure_stores_nothing(
    gateway: Gateway, ant: anthropic.AsyncAnthropic
) -> None:
    with pytest.raises(anthropic.APIStatusError):
        async with ant.messages.stream(
            model="claude-sonnet-4-6",
            max_tokens=50,
            messages=[{"role": "user", "content": "Fail [[sim:fault=529]]"}],
            **conv("f-2"),
        ) as stream:
            await stream.get_final_message()
    after = await ant.messages.with_raw_response.create(
        model="claude-sonnet-4-6",
        max_tokens=50,
        messages=[{"role": "user", "content": "Hello?"}],
        **conv("f-2"),
    )
    assert after.headers["x-thrifty-conversation"] == "0 stored messages before this turn"


@pytest.mark.parametrize("bad", ["x" * 129, "has space", ""])
async def test_a_bad_conversation_id_is_a_400(
    gateway: Gateway, oai: openai.AsyncOpenAI, bad: str
) -> None:
    with pytest.raises(openai.BadRequestError, match="x-thrifty-conversation"):
        await oai.chat.completions.create(
            model="gpt-4o",
            messages=[{"role": "user", "content": "Hi."}],
            extra_headers={"x-thrifty-conversation": bad},
        )
    assert gateway.rows()[0].status == 400


async def test_an_id_of_128_characters_is_accepted(
    gateway: Gateway, oai: openai.AsyncOpenAI
) -> None:
    answer = await oai.chat.completions.with_raw_response.create(
        model="gpt-4o", messages=[{"role": "user", "content": "Hi."}], **conv("y" * 128)
    )
    assert answer.headers["x-thrifty-conversation"] == "0 stored messages before this turn"


async def test_a_store_outage_degrades_to_stateless(tmp_path: Path) -> None:
    blocked = tmp_path / "not-a-file"
    blocked.mkdir()  # SQLite cannot open a directory: every store call fails
    history = {**HISTORY, "conversations_path": str(blocked)}
    settings = make_settings(tmp_path, levers={"history": history})
    async with (
        running_gateway(settings) as running,
        openai.AsyncOpenAI(base_url=running.url + "/v1", api_key="k", max_retries=0) as sdk,
    ):
        for _ in range(2):
            answer = await sdk.chat.completions.with_raw_response.create(
                model="gpt-4o", messages=[{"role": "user", "content": "Hi."}], **conv("o-1")
            )
            assert answer.parse().choices[0].message.content
            assert answer.headers["x-thrifty-conversation-warning"] == (
                "store unavailable: sent without stored turns"
            )
        assert [r.status for r in running.rows()] == [200, 200]


async def test_an_openai_stream_is_stored_at_its_end(
    gateway: Gateway, oai: openai.AsyncOpenAI
) -> None:
    stream = await oai.chat.completions.create(
        model="gpt-4o",
        messages=[{"role": "user", "content": "Count to three."}],
        stream=True,
        **conv("s-1"),
    )
    text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    assert text
    after = await oai.chat.completions.with_raw_response.create(
        model="gpt-4o", messages=[{"role": "user", "content": "Again."}], **conv("s-1")
    )
    assert after.headers["x-thrifty-conversation"] == "2 stored messages before this turn"


async def test_the_history_policy_trims_a_kept_conversation(tmp_path: Path) -> None:
    history = {"enabled": True, "policy": "last_n", "max_turns": 4, "step_turns": 4}
    settings = make_settings(tmp_path, levers={"history": history})
    async with (
        running_gateway(settings) as running,
        openai.AsyncOpenAI(base_url=running.url + "/v1", api_key="k", max_retries=0) as sdk,
    ):
        headers = []
        for n in range(5):
            answer = await sdk.chat.completions.with_raw_response.create(
                model="gpt-4o",
                messages=[{"role": "user", "content": f"Question {n}: " + "more words " * 10}],
                **conv("h-1"),
            )
            headers.append(answer.headers["x-thrifty-history"])
        # the fifth request: 8 stored messages and the new one; the cut drops 4
        assert headers[-1] == "last_n: dropped 4 of 9 turns"
        assert headers[:-1] == [f"last_n: kept all {n} turns" for n in (1, 3, 5, 7)]
        last = running.rows()[-1]
        assert last.savings["history"] is not None and last.savings["history"] > 0
