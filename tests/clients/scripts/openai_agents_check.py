"""openai-agents against the gateway: the default Responses model, plain (run_sync),
streamed and async, and ``output_type`` structured output; the chat-completions model plain
and with ``output_type`` routed to Claude (routing rules apply to chat completions only)."""

from __future__ import annotations

from typing import Any

from agents import (
    Agent,
    OpenAIChatCompletionsModel,
    Runner,
    set_default_openai_client,
    set_tracing_disabled,
)
from check_kit import MODEL, PROMPT, ROUTED_TASK, STRUCTURED_PROMPT, City, gateway_url, main
from openai import AsyncOpenAI

URL = gateway_url()
set_tracing_disabled(True)


def sdk(headers: dict[str, str] | None = None) -> AsyncOpenAI:
    return AsyncOpenAI(base_url=URL + "/v1", api_key="app-key", default_headers=headers)


def agent(model: Any = MODEL, **extra: Any) -> Agent[Any]:
    set_default_openai_client(sdk(), use_for_tracing=False)  # a new client in each event loop
    return Agent(name="check", instructions="Be brief.", model=model, **extra)


async def streamed() -> str:
    result = Runner.run_streamed(agent(), PROMPT)
    deltas = [
        event.data.delta
        async for event in result.stream_events()
        if event.type == "raw_response_event" and event.data.type == "response.output_text.delta"
    ]
    assert "".join(deltas) == result.final_output, "streamed deltas differ from the output"
    return str(result.final_output)


async def asynchronous() -> str:
    return str((await Runner.run(agent(), PROMPT)).final_output)


def structured(model: Any = MODEL) -> City:
    result = Runner.run_sync(agent(model, output_type=City), STRUCTURED_PROMPT)
    output: City = result.final_output
    return output


def chat_model(headers: dict[str, str] | None = None) -> OpenAIChatCompletionsModel:
    return OpenAIChatCompletionsModel(model=MODEL, openai_client=sdk(headers))


main(
    {
        "responses_plain": lambda: str(Runner.run_sync(agent(), PROMPT).final_output),
        "responses_stream": streamed,
        "responses_async": asynchronous,
        "responses_output_type": structured,
        "chat_plain": lambda: str(Runner.run_sync(agent(chat_model()), PROMPT).final_output),
        "chat_output_type_to_claude": lambda: structured(chat_model(ROUTED_TASK)),
    }
)
