"""llama-index against the gateway: ``OpenAILike`` with its default legacy completions path
(plain, streamed, async), ``OpenAILike`` as a chat model, and ``OpenAI`` structured
prediction."""

from __future__ import annotations

from check_kit import MODEL, PROMPT, STRUCTURED_PROMPT, City, gateway_url, main
from llama_index.core.llms import ChatMessage
from llama_index.core.prompts import PromptTemplate
from llama_index.llms.openai import OpenAI
from llama_index.llms.openai_like import OpenAILike

URL = gateway_url()
INSTRUCT = "gpt-3.5-turbo-instruct"  # a completions model the gateway prices


def like(model: str = INSTRUCT, **extra: bool) -> OpenAILike:
    return OpenAILike(model=model, api_base=URL + "/v1", api_key="app-key", max_retries=0, **extra)


def openai_llm() -> OpenAI:
    return OpenAI(model=MODEL, api_base=URL + "/v1", api_key="app-key", max_retries=0)


def streamed() -> str:
    return "".join(part.delta or "" for part in like().stream_complete(PROMPT))


async def asynchronous() -> str:
    return (await like().acomplete(PROMPT)).text


def chat() -> str:
    reply = like(MODEL, is_chat_model=True).chat([ChatMessage(role="user", content=PROMPT)])
    return str(reply.message.content)


def structured() -> City:
    return openai_llm().structured_predict(City, PromptTemplate(STRUCTURED_PROMPT))


main(
    {
        "completions_plain": lambda: like().complete(PROMPT).text,
        "completions_stream": streamed,
        "completions_async": asynchronous,
        "chat_plain": chat,
        "openai_structured": structured,
    }
)
