"""pydantic-ai against the gateway: the default ``"openai:..."`` model (Responses API) plain,
streamed and async; the chat-completions model; native structured output and tool output
(both also routed to Claude); and the Anthropic model."""

from __future__ import annotations

import os
from typing import Any

from check_kit import CLAUDE, MODEL, PROMPT, ROUTED_TASK, STRUCTURED_PROMPT, City, gateway_url, main
from openai import AsyncOpenAI
from pydantic_ai import Agent, NativeOutput
from pydantic_ai.models.anthropic import AnthropicModel
from pydantic_ai.models.openai import OpenAIChatModel
from pydantic_ai.providers.anthropic import AnthropicProvider
from pydantic_ai.providers.openai import OpenAIProvider

URL = gateway_url()
os.environ["OPENAI_BASE_URL"] = URL + "/v1"  # how an app points "openai:..." at thrifty
os.environ["OPENAI_API_KEY"] = "app-key"


def chat_model(headers: dict[str, str] | None = None) -> OpenAIChatModel:
    sdk = AsyncOpenAI(base_url=URL + "/v1", api_key="app-key", default_headers=headers)
    return OpenAIChatModel(MODEL, provider=OpenAIProvider(openai_client=sdk))


def claude_model() -> AnthropicModel:
    return AnthropicModel(CLAUDE, provider=AnthropicProvider(base_url=URL, api_key="app-key"))


async def streamed(model: Any) -> str:
    async with Agent(model).run_stream(PROMPT) as result:
        return "".join([delta async for delta in result.stream_text(delta=True)])


async def asynchronous(model: Any) -> str:
    return (await Agent(model).run(PROMPT)).output


def native(model: Any) -> City:
    return Agent(model, output_type=NativeOutput(City)).run_sync(STRUCTURED_PROMPT).output


def tool_output(model: Any) -> City:
    return Agent(model, output_type=City).run_sync(STRUCTURED_PROMPT).output


main(
    {
        "responses_plain": lambda: Agent("openai:" + MODEL).run_sync(PROMPT).output,
        "responses_stream": lambda: streamed("openai:" + MODEL),
        "responses_async": lambda: asynchronous("openai:" + MODEL),
        "responses_native_output": lambda: native("openai:" + MODEL),
        "chat_plain": lambda: Agent(chat_model()).run_sync(PROMPT).output,
        "chat_stream": lambda: streamed(chat_model()),
        "chat_native_output": lambda: native(chat_model()),
        "chat_native_output_to_claude": lambda: native(chat_model(ROUTED_TASK)),
        "chat_tool_output": lambda: tool_output(chat_model()),
        "chat_tool_output_to_claude": lambda: tool_output(chat_model(ROUTED_TASK)),
        "anthropic_plain": lambda: Agent(claude_model()).run_sync(PROMPT).output,
        "anthropic_stream": lambda: streamed(claude_model()),
    }
)
