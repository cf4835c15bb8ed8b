"""Real client libraries against the gateway (each in ``.venv-clients``, driven by
``scripts/<library>_check.py``): every call answers with the right type, and the ledger has
one priced row per call, on the endpoint the library is known to use, with the model that
answered (Claude where a routing rule sent an OpenAI-dialect structured request there)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest

from tests.clients import conftest
from tests.clients.conftest import CLAUDE, ROUTED_TASK, SCRIPT_SECONDS, Summary, run_check
from tests.gateway.conftest import Gateway

CHAT, MESSAGES = "/v1/chat/completions", "/v1/messages"
RESPONSES, COMPLETIONS = "/v1/responses", "/v1/completions"
GPT, INSTRUCT = "gpt-4o-mini", "gpt-3.5-turbo-instruct"

pytestmark = pytest.mark.timeout(SCRIPT_SECONDS + 60)


@dataclass(frozen=True)
class Expect:
    """One call a check script makes: where it lands, what answers, what the app gets."""

    endpoint: str
    answer: str = "str"  # "str" (non-empty text), "City" (the structured model), "dict"
    stream: bool = False
    model: str = GPT
    routed: bool = False  # sent with x-thrifty-task for the Claude routing rule

    @property
    def dialect(self) -> str:
        return "anthropic" if self.endpoint == MESSAGES else "openai"


def to_claude(endpoint: str, answer: str) -> Expect:
    return Expect(endpoint, answer, model=CLAUDE, routed=True)


def claude(stream: bool = False) -> Expect:
    return Expect(MESSAGES, stream=stream, model=CLAUDE)


EXPECTED: dict[str, dict[str, Expect]] = {
    "langchain": {
        "openai_plain": Expect(CHAT),
        "openai_stream": Expect(CHAT, stream=True),
        "openai_async": Expect(CHAT),
        "openai_structured": Expect(CHAT, "City"),
        "openai_structured_to_claude": to_claude(CHAT, "City"),
        "openai_structured_stream_to_claude": Expect(CHAT, "City", True, CLAUDE, routed=True),
        "openai_function_calling_to_claude": to_claude(CHAT, "City"),
        "openai_responses_api": Expect(RESPONSES),
        "anthropic_plain": claude(),
        "anthropic_stream": claude(stream=True),
        "anthropic_async": claude(),
    },
    "instructor": {
        "tools": Expect(CHAT, "City"),
        "json": Expect(CHAT, "dict"),
        "json_schema": Expect(CHAT, "City"),
        "json_async": Expect(CHAT, "dict"),
        "json_stream": Expect(CHAT, "dict", stream=True),
        "json_to_claude": to_claude(CHAT, "dict"),
        "json_schema_to_claude": to_claude(CHAT, "City"),
        "json_schema_stream_to_claude": Expect(CHAT, "City", True, CLAUDE, routed=True),
    },
    "litellm": {
        "openai_plain": Expect(CHAT),
        "openai_stream": Expect(CHAT, stream=True),
        "openai_async": Expect(CHAT),
        "openai_structured": Expect(CHAT, "City"),
        "openai_structured_to_claude": to_claude(CHAT, "City"),
        "openai_responses": Expect(RESPONSES),
        "anthropic_plain": claude(),
        "anthropic_stream": claude(stream=True),
        "anthropic_async": claude(),
    },
    "pydantic_ai": {
        "responses_plain": Expect(RESPONSES),
        "responses_stream": Expect(RESPONSES, stream=True),
        "responses_async": Expect(RESPONSES),
        "responses_native_output": Expect(RESPONSES, "City"),
        "chat_plain": Expect(CHAT),
        "chat_stream": Expect(CHAT, stream=True),
        "chat_native_output": Expect(CHAT, "City"),
        "chat_native_output_to_claude": to_claude(CHAT, "City"),
        "chat_tool_output": Expect(CHAT, "City"),
        "chat_tool_output_to_claude": to_claude(CHAT, "City"),
        "anthropic_plain": claude(),
        "anthropic_stream": claude(stream=True),
    },
    "openai_agents": {
        "responses_plain": Expect(RESPONSES),
        "responses_stream": Expect(RESPONSES, stream=True),
        "responses_async": Expect(RESPONSES),
        "responses_output_type": Expect(RESPONSES, "City"),
        "chat_plain": Expect(CHAT),
        "chat_output_type_to_claude": to_claude(CHAT, "City"),
    },
    "llama_index": {
        "completions_plain": Expect(COMPLETIONS, model=INSTRUCT),
        "completions_stream": Expect(COMPLETIONS, stream=True, model=INSTRUCT),
        "completions_async": Expect(COMPLETIONS, model=INSTRUCT),
        "chat_plain": Expect(CHAT),
        "openai_structured": Expect(CHAT, "City"),
    },
}


def assert_answers(summary: Summary, expected: dict[str, Expect]) -> None:
    errors = {case["case"]: case["error"] for case in summary.cases if "error" in case}
    assert not errors, errors
    assert [case["case"] for case in summary.cases] == list(expected)
    for case in summary.cases:
        kind, value = expected[case["case"]].answer, case["value"]
        assert case["type"] == kind, case
        if kind == "str":
            assert value.strip(), case
        elif kind == "City":
            assert isinstance(value["name"], str) and value["name"], case
            assert isinstance(value["population"], int), case
        else:
            assert isinstance(value, dict), case


def assert_ledger(gateway: Gateway, expected: dict[str, Expect]) -> None:
    rows = sorted(gateway.rows(), key=lambda row: row.ts)
    assert len(rows) == len(expected), [(row.endpoint, row.model) for row in rows]
    for (name, want), row in zip(expected.items(), rows, strict=True):
        seen = (row.endpoint, row.dialect, row.model, row.stream, row.status, row.task)
        task = ROUTED_TASK if want.routed else None
        assert seen == (want.endpoint, want.dialect, want.model, want.stream, 200, task), name
        assert row.error is None and row.failure is None, (name, row.error)
        assert row.price_source == "genai-prices", (name, row.price_source)
        assert row.cost_usd is not None and row.cost_usd > Decimal(0), (name, row.cost_usd)
        assert row.usage.input_tokens > 0 and row.usage.output_tokens > 0, (name, row.usage)


@pytest.mark.parametrize("library", list(EXPECTED))
async def test_library_calls_answer_and_are_booked(
    library: str, gateway: Gateway, tmp_path: Path
) -> None:
    summary = await run_check(library, gateway, tmp_path)
    assert summary.outbound == [], f"{library} tried to leave loopback: {summary.outbound}"
    assert_answers(summary, EXPECTED[library])
    assert_ledger(gateway, EXPECTED[library])


async def test_a_missing_clients_venv_fails_naming_the_script_that_builds_it(
    gateway: Gateway, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(conftest, "CLIENTS_PYTHON", tmp_path / "nowhere" / "bin" / "python")
    with pytest.raises(pytest.fail.Exception, match=r"run scripts/clients-venv\.sh"):
        await run_check("langchain", gateway, tmp_path)
