"""The output lever: a per-task cap on the answer's length, built from the config."""

from __future__ import annotations

from thrifty.config import Settings
from thrifty.levers.fewer_tokens.output import output_stage
from thrifty.testing import FakeUpstream, request_for


def caps_from(settings: Settings) -> dict[str | None, int | None]:
    caps: dict[str | None, int | None] = {}
    for task in [None, *settings.tasks]:
        lever = settings.levers_for(task).output
        caps[task] = lever.max_output_tokens if lever.enabled else None
    return caps


SETTINGS = Settings(
    levers={"output": {"enabled": True, "max_output_tokens": 500}},
    tasks={
        "summarize": {"output": {"max_output_tokens": 100}},
        "free": {"output": {"enabled": False}},
    },
)


async def test_caps_lower_the_limit_per_task_in_both_dialects() -> None:
    upstream = FakeUpstream()
    handler = output_stage(caps_from(SETTINGS))(upstream)
    response = await handler(request_for("gpt-4o", task="summarize", max_tokens=4000))
    assert upstream.requests[0].body["max_tokens"] == 100
    assert [s.lever for s in response.steps] == ["output"]
    assert "4000 -> 100" in response.steps[0].detail

    await handler(request_for("claude-haiku-4-5", dialect="anthropic", task="other"))
    assert upstream.requests[1].body["max_tokens"] == 500  # the default cap (asked 1024)

    await handler(request_for("gpt-4o"))  # no limit asked: the cap is set
    assert upstream.requests[2].body["max_completion_tokens"] == 500


async def test_a_smaller_limit_and_a_disabled_task_are_left_alone() -> None:
    upstream = FakeUpstream()
    handler = output_stage(caps_from(SETTINGS))(upstream)
    request = request_for("gpt-4o", task="summarize", max_tokens=50)
    response = await handler(request)
    assert upstream.requests[0] is request and response.steps == []

    free = request_for("gpt-4o", task="free", max_tokens=9000)
    await handler(free)
    assert upstream.requests[1] is free
