"""instructor over the openai SDK against the gateway: its default TOOLS mode and JSON_SCHEMA
mode (full City), JSON mode (sync, async, streamed partials; any JSON object, see
``AnyObject``), and both JSON modes routed to Claude (JSON_SCHEMA streamed too)."""

from __future__ import annotations

from typing import Any

import instructor
from check_kit import MODEL, ROUTED_TASK, STRUCTURED_PROMPT, AnyObject, City, gateway_url, main
from openai import AsyncOpenAI, OpenAI

URL = gateway_url()
MESSAGES: Any = [{"role": "user", "content": STRUCTURED_PROMPT}]


def client(mode: instructor.Mode, headers: dict[str, str] | None = None) -> Any:
    sdk = OpenAI(base_url=URL + "/v1", api_key="app-key", max_retries=0, default_headers=headers)
    return instructor.from_openai(sdk, mode=mode)


def extract(mode: instructor.Mode, headers: dict[str, str] | None = None) -> Any:
    target = AnyObject if mode is instructor.Mode.JSON else City
    answer = client(mode, headers).chat.completions.create(
        model=MODEL, response_model=target, messages=MESSAGES, max_retries=0
    )
    return answer.model_dump() if mode is instructor.Mode.JSON else answer


async def extract_async() -> dict[str, Any]:
    sdk = AsyncOpenAI(base_url=URL + "/v1", api_key="app-key", max_retries=0)
    async_client = instructor.from_openai(sdk, mode=instructor.Mode.JSON)
    answer = await async_client.chat.completions.create(
        model=MODEL, response_model=AnyObject, messages=MESSAGES, max_retries=0
    )
    return answer.model_dump()


def extract_streamed() -> dict[str, Any]:
    partials = client(instructor.Mode.JSON).chat.completions.create_partial(
        model=MODEL, response_model=AnyObject, messages=MESSAGES, max_retries=0
    )
    *_, last = partials
    return dict(last.model_dump())


def extract_streamed_from_claude() -> City:
    """The forced tool's input streamed back as content deltas of the OpenAI stream."""
    partials = client(instructor.Mode.JSON_SCHEMA, ROUTED_TASK).chat.completions.create_partial(
        model=MODEL, response_model=City, messages=MESSAGES, max_retries=0
    )
    *_, last = partials
    return City.model_validate(last.model_dump())


main(
    {
        "tools": lambda: extract(instructor.Mode.TOOLS),
        "json": lambda: extract(instructor.Mode.JSON),
        "json_schema": lambda: extract(instructor.Mode.JSON_SCHEMA),
        "json_async": extract_async,
        "json_stream": extract_streamed,
        "json_to_claude": lambda: extract(instructor.Mode.JSON, ROUTED_TASK),
        "json_schema_to_claude": lambda: extract(instructor.Mode.JSON_SCHEMA, ROUTED_TASK),
        "json_schema_stream_to_claude": extract_streamed_from_claude,
    }
)
