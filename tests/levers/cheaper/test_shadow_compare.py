"""Shadow comparators: the semantic cache's text comparators and the LLM judge."""

from __future__ import annotations

import pytest

from thrifty.levers.cheaper.shadow.compare import (
    JUDGE_SYSTEM,
    MAX_JUDGED_CHARS,
    LlmJudge,
    TextComparator,
    judge_request,
    verdict_of,
)
from thrifty.testing import FakeUpstream, reply, request_for
from thrifty.types import ChatRequest

REQUEST = request_for("gpt-4o", "What is 2 + 2?", task="qa")


@pytest.mark.parametrize(
    ("name", "reference", "candidate", "agreed"),
    [
        ("exact", "4", "4", True),
        ("exact", "4", "4.", False),
        ("normalised", "The answer is 4.", "the answer is  4", True),
        ("normalised", "4", "5", False),
        ("json", '{"a": 1, "b": 2}', '{"b": 2, "a": 1}', True),
        ("json", '{"a": 1}', "not json", False),
    ],
)
async def test_text_comparators(name: str, reference: str, candidate: str, agreed: bool) -> None:
    verdict, calls = await TextComparator(name)("q", reference, candidate, REQUEST)
    assert verdict is agreed and calls == []


async def test_the_json_comparator_compares_the_named_fields() -> None:
    compare = TextComparator("json", ["label"])
    same_label = await compare("q", '{"label": "x", "why": "a"}', '{"label": "x"}', REQUEST)
    assert same_label[0]
    assert not (await compare("q", '{"label": "x"}', '{"label": "y"}', REQUEST))[0]


def test_an_unknown_comparator_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown comparator"):
        TextComparator("cosine")


@pytest.mark.parametrize(
    ("text", "verdict"),
    [
        ('{"verdict": "agree"}', True),
        ('{"verdict": "disagree"}', False),
        ('{"verdict": "maybe"}', None),
        ('{"verdict": 1}', None),
        ("Yes, they agree.", True),
        ("NO", False),
        ("Disagree: the candidate is wrong", False),
        ("I think so", None),
        ("", None),
        (None, None),
        ("[1, 2]", None),
    ],
)
def test_the_judge_verdict_is_read_strictly(text: str | None, verdict: bool | None) -> None:
    assert verdict_of(text) is verdict


def test_the_judge_prompt_is_fixed_and_bounded() -> None:
    body = judge_request("gpt-4o-mini", "q" * 10_000, "r", "c")
    assert body["messages"][0] == {"role": "system", "content": JUDGE_SYSTEM}
    user = body["messages"][1]["content"]
    assert user.count("q") <= MAX_JUDGED_CHARS + 2
    assert body["response_format"]["json_schema"]["schema"]["required"] == ["verdict"]
    assert body["temperature"] == 0


async def test_the_llm_judge_asks_its_model_and_returns_its_call() -> None:
    upstream = FakeUpstream(lambda req: reply(req, '{"verdict": "disagree"}'))
    judge = LlmJudge("gpt-4o-mini", upstream)
    verdict, calls = await judge("What is 2 + 2?", "4", "5", REQUEST)
    assert verdict is False
    asked = upstream.requests[0]
    assert isinstance(asked, ChatRequest)
    assert asked.model == "gpt-4o-mini" and asked.task == "qa" and asked.endpoint == "shadow"
    assert "Reference answer:\n<<<\n4\n>>>" in asked.body["messages"][1]["content"]
    assert calls[0].model == "gpt-4o-mini"


async def test_a_judge_answer_that_is_not_text_gives_no_verdict() -> None:
    def tool_call(req: ChatRequest) -> object:
        response = reply(req, "x")
        assert response.body is not None
        response.body["choices"][0]["finish_reason"] = "tool_calls"
        return response

    judge = LlmJudge("gpt-4o-mini", FakeUpstream(tool_call))  # type: ignore[arg-type]
    verdict, calls = await judge("q", "a", "b", REQUEST)
    assert verdict is None and len(calls) == 1
