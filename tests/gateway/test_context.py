"""Context selection through the gateway: documents in ``thrifty_context`` (the SDKs'
``extra_body``) are selected into the prompt the simulator gets (the field never reaches
it), booked, and a malformed field is a 400 in the app's dialect."""

from __future__ import annotations

from decimal import Decimal

import anthropic
import openai
import pytest

from tests.gateway.conftest import Gateway
from thrifty.tokens import TokenCounter

LONG = " ".join(f"w{i % 50}" for i in range(700))
DOCS = [
    {"id": "refund", "text": "Refunds are paid within 30 days. " + LONG},
    {"id": "jobs", "text": "We are hiring engineers. " + LONG.replace("w", "v")},
]


async def test_documents_are_selected_and_the_rest_booked(
    gateway: Gateway, oai: openai.AsyncOpenAI, ant: anthropic.AsyncAnthropic
) -> None:
    ask = [{"role": "user", "content": "How long do refunds take?"}]
    context = {"thrifty_context": {"documents": DOCS, "budget_tokens": 1600}}
    answer = await oai.chat.completions.with_raw_response.create(
        model="gpt-4o", messages=ask, extra_body=context
    )
    assert answer.headers["x-thrifty-context"].startswith("kept 1 of 2 documents")
    other = await ant.messages.with_raw_response.create(
        model="claude-sonnet-4-6", max_tokens=20, messages=ask, extra_body=context
    )
    assert other.headers["x-thrifty-context"].startswith("kept 1 of 2 documents")
    first, second = gateway.rows()
    left_out = TokenCounter().count_text("gpt-4o", DOCS[1]["text"]).tokens
    assert first.savings == {"context": left_out * Decimal("2.5") / 1_000_000}
    assert second.savings["context"] is not None and second.savings["context"] > 0


async def test_a_malformed_field_is_a_400(
    oai: openai.AsyncOpenAI, ant: anthropic.AsyncAnthropic
) -> None:
    ask = [{"role": "user", "content": "hi"}]
    with pytest.raises(openai.BadRequestError, match=r"thrifty_context\.documents must be a list"):
        await oai.chat.completions.create(
            model="gpt-4o", messages=ask, extra_body={"thrifty_context": {"documents": 1}}
        )
    with pytest.raises(anthropic.BadRequestError, match="thrifty_context must be an object"):
        await ant.messages.create(
            model="claude-sonnet-4-6",
            max_tokens=5,
            messages=ask,
            extra_body={"thrifty_context": []},
        )
