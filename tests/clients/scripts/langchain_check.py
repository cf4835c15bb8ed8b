"""langchain-openai and langchain-anthropic against the gateway: plain, streamed and async
calls in both dialects, the Responses API, and ``with_structured_output`` (JSON schema, also
streamed, and function calling), routed to Claude too."""

from __future__ import annotations

from typing import Any

from check_kit import CLAUDE, MODEL, PROMPT, ROUTED_TASK, STRUCTURED_PROMPT, City, gateway_url, main
from langchain_anthropic import ChatAnthropic
from langchain_openai import ChatOpenAI

URL = gateway_url()


def openai_chat(**extra: Any) -> ChatOpenAI:
    return ChatOpenAI(model=MODEL, base_url=URL + "/v1", api_key="app-key", max_retries=0, **extra)


def anthropic_chat() -> ChatAnthropic:
    return ChatAnthropic(model=CLAUDE, base_url=URL, api_key="app-key", max_retries=0)


def stream_text(chat: ChatOpenAI | ChatAnthropic) -> str:
    return "".join(str(chunk.content) for chunk in chat.stream(PROMPT))


async def async_text(chat: ChatOpenAI | ChatAnthropic) -> str:
    return str((await chat.ainvoke(PROMPT)).content)


def structured(method: str = "json_schema", **extra: Any) -> Any:
    chat = openai_chat(**extra).with_structured_output(City, method=method)  # type: ignore[arg-type]
    return chat.invoke(STRUCTURED_PROMPT)


def structured_stream(**extra: Any) -> Any:
    *_, last = openai_chat(**extra).with_structured_output(City).stream(STRUCTURED_PROMPT)
    return last


def responses_text() -> str:
    return str(openai_chat(use_responses_api=True).invoke(PROMPT).text)


main(
    {
        "openai_plain": lambda: str(openai_chat().invoke(PROMPT).content),
        "openai_stream": lambda: stream_text(openai_chat()),
        "openai_async": lambda: async_text(openai_chat()),
        "openai_structured": structured,
        "openai_structured_to_claude": lambda: structured(default_headers=ROUTED_TASK),
        "openai_structured_stream_to_claude": lambda: structured_stream(
            default_headers=ROUTED_TASK
        ),
        "openai_function_calling_to_claude": lambda: structured(
            "function_calling", default_headers=ROUTED_TASK
        ),
        "openai_responses_api": responses_text,
        "anthropic_plain": lambda: str(anthropic_chat().invoke(PROMPT).content),
        "anthropic_stream": lambda: stream_text(anthropic_chat()),
        "anthropic_async": lambda: async_text(anthropic_chat()),
    }
)
