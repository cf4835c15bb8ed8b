"""Shadow comparators: the semantic cache's text comparators and the shared LLM judge
(the judge itself: tests/levers/test_judge.py)."""

from __future__ import annotations

import pytest

from thrifty.errors import UpstreamError
from thrifty.levers.cheaper.shadow.compare import LlmJudge, TextComparator
from thrifty.levers.judge import JUDGE_SYSTEM
from thrifty.testing import FakeUpstream, reply, request_for
from thrifty.types import ChatRequest, ChatResponse

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


async def test_the_llm_judge_asks_its_model_and_returns_its_call_as_the_shadow_s() -> None:
    upstream = FakeUpstream(lambda req: reply(req, "DIFFERENT"))
    judge = LlmJudge("gpt-4o-mini", upstream)
    verdict, calls = await judge("What is 2 + 2?", "4", "5", REQUEST)
    assert verdict is False
    asked = upstream.requests[0]
    assert isinstance(asked, ChatRequest)
    assert asked.model == "gpt-4o-mini" and asked.task == "qa"
    assert asked.endpoint == REQUEST.endpoint  # the shadow request's (endpoint "shadow")
    system, user = asked.body["messages"]
    assert system["content"] == JUDGE_SYSTEM
    # the strong model's answer is answer A, the served one answer B
    assert "<answer_a>\n4\n</answer_a>\n<answer_b>\n5\n</answer_b>" in user["content"]
    assert [(c.model, c.lever) for c in calls] == [("gpt-4o-mini", "shadow")]


async def test_the_llm_judge_agrees_on_the_same_words_without_a_call() -> None:
    upstream = FakeUpstream(lambda req: reply(req, "DIFFERENT"))
    verdict, calls = await LlmJudge("gpt-4o-mini", upstream)("q", "Four.", "four", REQUEST)
    assert verdict is True and calls == [] and upstream.requests == []


async def test_a_judge_reply_that_is_not_a_verdict_gives_none_and_keeps_the_call() -> None:
    upstream = FakeUpstream(lambda req: reply(req, '{"verdict": "agree"}'))
    verdict, calls = await LlmJudge("gpt-4o-mini", upstream)("q", "a", "b", REQUEST)
    assert verdict is None and len(calls) == 1


async def test_a_failed_judge_call_is_no_verdict_booked_with_an_unknown_cost() -> None:
    def fails(req: ChatRequest) -> ChatResponse:
        error = UpstreamError("judge down", status=503, provider="openai")
        error.reached_upstream = True
        raise error

    verdict, calls = await LlmJudge("gpt-4o-mini", FakeUpstream(fails))("q", "a", "b", REQUEST)
    assert verdict is None
    assert [(c.lever, c.usage_reported) for c in calls] == [("shadow", False)]
