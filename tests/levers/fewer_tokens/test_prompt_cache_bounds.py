"""The Anthropic planner decides "long enough to cache" from a proven lower bound on the
tokens when it suffices, and counts only when it does not: the same breakpoints as with
every prefix counted."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.levers.fewer_tokens.prompt_cache_kit import anthropic_request, breakpoints, long_text
from tests.tokens.spy import Spy
from thrifty.config import PromptCacheSettings
from thrifty.levers.fewer_tokens.prompt_cache import PromptCachePlanner, prompt_cache_stage
from thrifty.testing import FakeUpstream
from thrifty.tokens import TokenCounter


class CountsEverything(TokenCounter):
    """The planner as it was: no lower bound, every prefix counted."""

    def least_text(self, model: str, text: str, enough: int | None = None) -> int:
        return 0


def _planner(counter: TokenCounter) -> tuple[Any, FakeUpstream]:
    upstream = FakeUpstream()
    settings = {None: PromptCacheSettings(enabled=True)}
    return prompt_cache_stage(PromptCachePlanner(settings, counter))(upstream), upstream


async def _breakpoints(counter: TokenCounter, system: str, turns: int = 3) -> list[Any]:
    handler, upstream = _planner(counter)
    messages: list[Any] = []
    found = []
    for turn in range(turns):
        messages = [*messages, {"role": "user", "content": f"Question {turn}?"}]
        await handler(anthropic_request(system=system, messages=messages, at=turn * 30.0))
        found.append(breakpoints(upstream.requests[-1].body))
        messages = [*messages, {"role": "assistant", "content": f"Answer {turn}."}]
    return found


async def test_a_long_system_prompt_is_not_counted() -> None:
    spy = Spy()
    counter = TokenCounter(loader=lambda name: spy)  # type: ignore[arg-type,return-value]
    system = long_text(2_400)  # ~3k tokens; its words alone are more than 1,024
    found = await _breakpoints(counter, system)
    assert found == await _breakpoints(CountsEverything(), system)
    assert found[-1]  # cached from its second sight on
    assert not any(system[:200] in text for text in spy.encoded), list(spy.encoded)[:3]


async def test_a_prompt_whose_bound_falls_short_is_counted() -> None:
    spy = Spy()
    counter = TokenCounter(loader=lambda name: spy)  # type: ignore[arg-type,return-value]
    system = " ".join(f"{n:08d}" for n in range(400))  # 400 chunks, 3 tokens each
    assert counter.least_text("claude-sonnet-4-6", system) < 1_024 * 0.9
    found = await _breakpoints(counter, system)
    assert found == await _breakpoints(CountsEverything(), system)
    assert found[-1]  # ~1,300 tokens counted: long enough
    assert any("00000001" in text for text in spy.encoded)


@pytest.mark.parametrize("words", [200, 500, 650, 700, 750, 800, 1_000, 3_000])
@pytest.mark.parametrize("numbers", [False, True])
async def test_the_same_breakpoints_as_counting_everything(words: int, numbers: bool) -> None:
    system = long_text(words) if not numbers else " ".join(f"{n:06d}." for n in range(words))
    found = await _breakpoints(TokenCounter(), system, turns=4)
    assert found == await _breakpoints(CountsEverything(), system, turns=4)


PIECES = st.sampled_from(
    ["word", "Words", "12345678", "x.", "--", "日本語", "/path", "\n", "\n/", "  ", "\x1c"]
)


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow], max_examples=40)
@given(st.lists(PIECES, min_size=200, max_size=1_600).map(" ".join))
async def test_any_system_prompt_gets_the_breakpoints_of_counting_everything(
    system: str,
) -> None:
    found = await _breakpoints(TokenCounter(), system, turns=3)
    assert found == await _breakpoints(CountsEverything(), system, turns=3)
