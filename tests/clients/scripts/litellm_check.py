"""litellm as a client of the gateway: plain, streamed and async completions in the OpenAI
and Anthropic dialects, a ``response_format`` structured call (also routed to Claude), and
the Responses API."""

from __future__ import annotations

from typing import Any

import litellm
from check_kit import (
    CLAUDE,
    MODEL,
    PROMPT,
    ROUTED_TASK,
    STRUCTURED_PROMPT,
    City,
    gateway_url,
    main,
)

URL = gateway_url()
OPENAI: dict[str, Any] = {"model": "openai/" + MODEL, "api_base": URL + "/v1", "api_key": "k"}
ANTHROPIC: dict[str, Any] = {"model": "anthropic/" + CLAUDE, "api_base": URL, "api_key": "k"}


def messages(prompt: str = PROMPT) -> list[dict[str, str]]:
    return [{"role": "user", "content": prompt}]


def plain(target: dict[str, Any]) -> str:
    return str(litellm.completion(messages=messages(), **target).choices[0].message.content)


def streamed(target: dict[str, Any]) -> str:
    chunks = litellm.completion(messages=messages(), stream=True, **target)
    return "".join(chunk.choices[0].delta.content or "" for chunk in chunks)


async def asynchronous(target: dict[str, Any]) -> str:
    response = await litellm.acompletion(messages=messages(), **target)
    return str(response.choices[0].message.content)


def structured(headers: dict[str, str] | None = None) -> City:
    response = litellm.completion(
        messages=messages(STRUCTURED_PROMPT), response_format=City, extra_headers=headers, **OPENAI
    )
    return City.model_validate_json(response.choices[0].message.content)


def responses() -> str:
    response = litellm.responses(input=PROMPT, **OPENAI)
    return "".join(
        part.text for item in response.output if item.type == "message" for part in item.content
    )


main(
    {
        "openai_plain": lambda: plain(OPENAI),
        "openai_stream": lambda: streamed(OPENAI),
        "openai_async": lambda: asynchronous(OPENAI),
        "openai_structured": structured,
        "openai_structured_to_claude": lambda: structured(ROUTED_TASK),
        "openai_responses": responses,
        "anthropic_plain": lambda: plain(ANTHROPIC),
        "anthropic_stream": lambda: streamed(ANTHROPIC),
        "anthropic_async": lambda: asynchronous(ANTHROPIC),
    }
)
