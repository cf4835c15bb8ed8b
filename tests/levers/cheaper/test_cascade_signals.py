"""The confidence signals one by one, and the start-up checks of a cascade's settings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.levers.cheaper.cascade_kit import HAIKU, SONNET
from thrifty.config import CascadeSettings, Settings
from thrifty.errors import ConfigError
from thrifty.levers.cheaper.cascade.agreement import agree
from thrifty.levers.cheaper.cascade.answers import TierAnswer, read_answer
from thrifty.levers.cheaper.cascade.plan import plan_for, plans_for
from thrifty.levers.cheaper.cascade.signals import (
    FunctionCheck,
    JsonSchemaCheck,
    LogprobCheck,
    RegexCheck,
    SelfReported,
    SignalError,
    judge_all,
    read_json_object,
)
from thrifty.testing import reply, request_for

REQUEST = request_for("gpt-4o")
SCHEMA = {
    "type": "object",
    "properties": {"label": {"enum": ["low", "high"]}, "confidence": {"type": "string"}},
    "required": ["label"],
}


def said(text: str, logprobs: tuple[float, ...] | None = None) -> TierAnswer:
    return TierAnswer(HAIKU, "prompt", text, logprobs)


def accepts(check: object, text: str) -> bool:
    return bool(check.judge(REQUEST, said(text)).accept)  # type: ignore[attr-defined]


def test_json_schema_accepts_valid_json_only() -> None:
    check = JsonSchemaCheck(SCHEMA)
    assert accepts(check, '{"label": "low"}')
    assert accepts(check, '```json\n{"label": "high"}\n```')
    assert not accepts(check, '{"label": "medium"}')
    assert not accepts(check, "label: low")
    verdict = check.judge(REQUEST, said('{"other": 1}'))
    assert verdict.reason == "schema: 'label' is a required property"


def test_a_bad_schema_is_refused() -> None:
    with pytest.raises(SignalError, match="not a valid JSON Schema"):
        JsonSchemaCheck({"type": "no-such-type"})


def test_regex() -> None:
    assert accepts(RegexCheck(r"^\d+$"), "42")
    assert not accepts(RegexCheck(r"^\d+$"), "forty-two")
    with pytest.raises(SignalError, match="does not compile"):
        RegexCheck("(")


def long_enough(request: object, answer: TierAnswer) -> bool:
    return len(answer.text) > 3


def broken(request: object, answer: TierAnswer) -> bool:
    raise RuntimeError("user bug")


def not_a_bool(request: object, answer: TierAnswer) -> str:
    return "yes"


def test_user_function_by_import_path() -> None:
    here = __name__
    assert accepts(FunctionCheck.load(f"{here}:long_enough"), "long answer")
    assert not accepts(FunctionCheck.load(f"{here}:long_enough"), "no")
    # a failing or non-bool function refuses (the answer escalates), it never raises
    assert not accepts(FunctionCheck.load(f"{here}:broken"), "long answer")
    assert not accepts(FunctionCheck.load(f"{here}:not_a_bool"), "long answer")
    for bad in ("no_colon", f"{here}:missing", "no.such.module:x"):
        with pytest.raises(SignalError):
            FunctionCheck.load(bad)


def test_self_reported_confidence() -> None:
    check = SelfReported("confidence", ("high", "certain"))
    assert accepts(check, '{"label": "low", "confidence": "HIGH"}')
    assert not accepts(check, '{"label": "low", "confidence": "medium"}')
    assert not accepts(check, '{"label": "low"}')
    assert not accepts(check, "high")
    with pytest.raises(SignalError):
        SelfReported("confidence", ())


def test_logprob_floor() -> None:
    check = LogprobCheck(-0.5)
    assert check.judge(REQUEST, said("a", (-0.1, -0.3))).accept
    assert not check.judge(REQUEST, said("a", (-0.1, -2.0))).accept
    assert not check.judge(REQUEST, said("a", None)).accept


def test_agreement_compares_final_answers() -> None:
    assert agree(said("So the total is 12."), said("#### 12")).accept
    assert not agree(said("The answer is B"), said("The answer is C")).accept
    assert not agree(said("12"), None).accept


def test_signals_stop_at_the_first_refusal() -> None:
    verdict = judge_all([RegexCheck("a"), RegexCheck("b")], REQUEST, said("xyz"))
    assert not verdict.accept and verdict.reason == "regex: no match"
    assert judge_all([], REQUEST, said("x")).accept


def test_answers_are_read_in_both_dialects() -> None:
    for dialect in ("openai", "anthropic"):
        request = request_for(HAIKU, "the question", dialect=dialect)  # type: ignore[arg-type]
        response = reply(request, "the answer")
        assert response.body is not None
        answer = read_answer(request, response.dialect, response.body, HAIKU)
        assert (answer.text, answer.prompt, answer.logprobs) == ("the answer", "the question", None)
    tool_call = {
        "content": [{"type": "tool_use", "id": "t", "name": "f", "input": {"a": 1}}],
    }
    assert read_answer(REQUEST, "anthropic", tool_call, HAIKU).text == '{"a":1}'


# -- start-up checks ----------------------------------------------------------------------


def plan(**settings: object) -> object:
    settings.setdefault("tiers", (HAIKU, SONNET))
    known = {HAIKU, SONNET, "gpt-4o-mini"}
    return plan_for("impact", CascadeSettings(**settings), known.__contains__)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"tiers": (HAIKU,)}, "at least two models"),
        ({"tiers": (HAIKU, SONNET, HAIKU)}, "claude-haiku-4-5 listed twice in tiers"),
        ({"tiers": ("no-such-model", SONNET)}, "no provider serves no-such-model"),
        ({"agreement": True, "agreement_model": "nope"}, "no provider serves nope"),
        ({"agreement_model": "gpt-4o-mini"}, "agreement is off"),
        ({"regex": "("}, "does not compile"),
        ({"json_schema": {"type": 3}}, "not a valid JSON Schema"),
        ({"function": "nowhere:fn"}, "cannot be loaded"),
        ({"target_quality": 0.95}, "set scorer_path"),
        ({"scorer_path": "/no/such/file.json"}, "scorer /no/such/file.json"),
    ],
)
def test_a_misconfigured_cascade_is_a_start_up_error_naming_the_task(
    settings: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError, match="task 'impact'") as caught:
        plan(**settings)
    assert message in str(caught.value)


def test_a_schema_file(tmp_path: Path) -> None:
    path = tmp_path / "schema.json"
    path.write_text(json.dumps(SCHEMA))
    made = plan(json_schema_path=str(path))
    assert [s.name for s in made.signals] == ["schema"]  # type: ignore[attr-defined]
    path.write_text("[1]")
    with pytest.raises(ConfigError, match="not a JSON object"):
        plan(json_schema_path=str(path))
    with pytest.raises(ConfigError, match="not both"):
        plan(json_schema_path=str(path), json_schema=SCHEMA)


def test_plans_from_settings() -> None:
    settings = Settings(
        levers={"cascade": {"tiers": ["gpt-4o-mini", "gpt-4o"]}},
        tasks={
            "impact": {"cascade": {"tiers": [HAIKU, SONNET], "regex": "x"}},
            "fixed": {"model": "gpt-4o"},
            "off": {"cascade": {"enabled": False}},
        },
    )
    found = plans_for(settings, lambda model: True)
    impact = found.for_task("impact")
    assert impact is not None and impact.tiers == (HAIKU, SONNET)
    assert found.for_task("fixed") is None  # routed to a fixed model: no default cascade
    assert found.for_task("off") is None
    default = found.for_task(None)
    assert default is not None and default.tiers == ("gpt-4o-mini", "gpt-4o")
    assert found.for_task("unlisted") is default


def test_a_task_with_a_model_and_a_cascade_is_refused() -> None:
    settings = Settings(
        tasks={"impact": {"model": "gpt-4o", "cascade": {"tiers": [HAIKU, SONNET]}}}
    )
    with pytest.raises(ConfigError, match="task 'impact' has both a model"):
        plans_for(settings, lambda model: True)


def test_json_files_are_bounded_and_checked(tmp_path: Path) -> None:
    path = tmp_path / "file.json"
    path.write_text('{"type": "object"}')
    assert read_json_object(path, 100, "schema") == {"type": "object"}
    with pytest.raises(SignalError, match="larger than 10 bytes"):
        read_json_object(path, 10, "schema")
    path.write_text("{broken")
    with pytest.raises(SignalError, match=r"schema .*file\.json"):
        read_json_object(path, 100, "schema")
    with pytest.raises(SignalError, match="No such file"):
        read_json_object(tmp_path / "missing.json", 100, "schema")
