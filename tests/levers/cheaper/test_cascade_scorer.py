"""The learned scorer: fitted by ``thrifty eval route --fit-cascade``, read back by the
stage, and deciding as the evaluated strategy (``Cascade.decide_one``) does."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.eval.route.conftest import synthetic_records
from tests.levers.cheaper.cascade_kit import open_store, plans, run
from thrifty.errors import ConfigError
from thrifty.eval.route.cascades import Cascade
from thrifty.eval.route.command import main as eval_main
from thrifty.eval.route.records import write_records
from thrifty.eval.route.table import OutcomeTable, QueryView
from thrifty.ledger import LedgerStore
from thrifty.levers.cheaper.cascade.answers import TierAnswer
from thrifty.levers.cheaper.cascade.fit import fit_document
from thrifty.levers.cheaper.cascade.plan import Plans
from thrifty.levers.cheaper.cascade.scorer import ScorerCheck, load_scorer
from thrifty.levers.cheaper.cascade.signals import SignalError
from thrifty.testing import reply, request_for
from thrifty.types import ChatRequest, ChatResponse


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[LedgerStore]:
    async for ledger in open_store(tmp_path):
        yield ledger


def tables() -> tuple[OutcomeTable, OutcomeTable]:
    train = OutcomeTable.from_records(synthetic_records(90, "train"))
    test = OutcomeTable.from_records(synthetic_records(45, "test", offset=1000), train.models)
    return train, test


@pytest.fixture(scope="module")
def fitted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    records = synthetic_records(90, "train") + synthetic_records(45, "test", offset=1000)
    data = tmp_path_factory.mktemp("fit") / "records.jsonl"
    write_records(data, records)
    out = data.parent / "cascade.json"
    targets = ["--target-quality", "0.95", "--target-quality", "1"]
    code = eval_main(
        ["route", "--records", str(data), "--fit-cascade", "small", *targets, "--out", str(out)]
    )
    assert code == 0
    return out


def test_the_fitted_file_replays_its_test_rows(fitted: Path) -> None:
    document = json.loads(fitted.read_text())
    assert (document["cheap_models"], document["strong_model"]) == (["small"], "large")
    assert set(document["thresholds"]) == {"0.95", "1"}
    # easy prompts: small is right; hard ones (every third): only large is
    test = document["test"]["1"]
    assert test["rows"] == 45 and test["decisions_unlike_evaluated_strategy"] == 0
    assert test["quality_pct"] == 100.0
    assert test["escalation_rate"] == round(15 / 45, 4)
    # small costs 0.001 on every row, large 0.010 on the 15 escalated: (45 + 150) / 450
    assert test["cost_pct"] == round(100 * (45 * 0.001 + 15 * 0.010) / (45 * 0.010), 2)


def test_the_stage_decides_as_the_evaluated_strategy(fitted: Path) -> None:
    train, test = tables()
    scorer = load_scorer(fitted)
    cascade = Cascade("1", learned=True, tier=["small"])
    level = float(train.scores[:, train.strongest()].mean())
    cascade.fit(train, {"1": level})
    threshold = scorer.threshold_for(1.0)
    assert threshold == pytest.approx(cascade.thresholds["1"])
    check, small = ScorerCheck(scorer, threshold), test.index("small")
    request = request_for("large")
    for i, prompt in enumerate(test.prompts):
        text = test.responses[i][small]
        live = check.judge(request, TierAnswer("small", prompt, text, None)).accept
        evaluated = cascade.decide_one(QueryView(prompt, (("small", text),)), threshold) == small
        assert live == evaluated
        assert live == ("easy" in prompt)


async def test_the_scorer_drives_the_stage(fitted: Path, store: LedgerStore) -> None:
    def answer(req: ChatRequest) -> ChatResponse:
        return reply(req, "I think the answer is " + ("A" if req.model == "large" else "B"))

    cascade = plans(tiers=("small", "large"), scorer_path=str(fitted), target_quality=1.0)
    hard = request_for("large", "hard proof of theorem number 3", task="impact")
    response, row, upstream, _ = await run(store, cascade, answer, hard)
    assert [r.model for r in upstream.requests] == ["small", "large"]
    assert response.headers["cascade"] == "escalated-tier-1"
    assert row.detail is not None and "scorer 0." in row.detail


def test_a_target_that_was_not_fitted_is_a_start_up_error(fitted: Path) -> None:
    with pytest.raises(ConfigError, match=r"target_quality 0\.9 was not fitted"):
        plans(tiers=("small", "large"), scorer_path=str(fitted), target_quality=0.9)
    with pytest.raises(ConfigError, match="set target_quality"):
        plans(tiers=("small", "large"), scorer_path=str(fitted))
    with pytest.raises(ConfigError, match="fitted on small's answers, but tier 0 is medium"):
        plans(tiers=("medium", "large"), scorer_path=str(fitted), target_quality=1.0)
    # a one-model scorer with an agreement check beside it is fine
    plans(
        tiers=("small", "large"),
        scorer_path=str(fitted),
        target_quality=1.0,
        agreement=True,
        agreement_model="medium",
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json", "scorer"),
        ('{"format": "other"}', "not a cascade scorer"),
        ('{"format": "thrifty-cascade-scorer", "version": 9}', "version 9"),
        ('{"format": "thrifty-cascade-scorer", "version": 1}', "malformed scorer"),
    ],
)
def test_a_bad_scorer_file_is_refused(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "cascade.json"
    path.write_text(content)
    with pytest.raises(SignalError, match=message):
        load_scorer(path)


def test_weights_that_do_not_match_the_features_are_refused(fitted: Path, tmp_path: Path) -> None:
    document = json.loads(fitted.read_text())
    document["scorer"]["weights"] = document["scorer"]["weights"][:-1]
    path = tmp_path / "cascade.json"
    path.write_text(json.dumps(document))
    with pytest.raises(SignalError, match="do not match"):
        load_scorer(path)


def test_fitting_refuses_what_it_cannot_fit() -> None:
    train, test = tables()
    with pytest.raises(ValueError, match="not a model of the records"):
        fit_document(train, test, ["nope"], [0.95])
    with pytest.raises(ValueError, match="is the strongest model"):
        fit_document(train, test, ["large"], [0.95])
    with pytest.raises(ValueError, match="one or two different cheap models"):
        fit_document(train, test, ["small", "small"], [0.95])
    with pytest.raises(ValueError, match="one or two different cheap models"):
        fit_document(train, test, [], [0.95])


def test_the_command_refuses_bad_targets(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "records.jsonl"
    write_records(data, synthetic_records(40, "train") + synthetic_records(10, "test", 500))
    args = ["route", "--records", str(data), "--fit-cascade", "small", "--out", str(tmp_path / "o")]
    assert eval_main([*args, "--target-quality", "1.5"]) == 2
    assert "--target-quality must be in (0, 1]" in capsys.readouterr().err
    missing = str(tmp_path / "none.jsonl")
    assert eval_main(["route", "--records", missing, "--fit-cascade", "x"]) == 2


def pair_plans(path: Path, second: str) -> Plans:
    """small, then large, with ``second`` called beside small and the scorer in ``path``."""
    return plans(
        tiers=("small", "large"),
        scorer_path=str(path),
        target_quality=1.0,
        agreement=True,
        agreement_model=second,
    )


def cheap_models(path: Path) -> list[str]:
    return list(json.loads(path.read_text())["cheap_models"])


@pytest.fixture(scope="module")
def fitted_pair(tmp_path_factory: pytest.TempPathFactory) -> Path:
    train, test = tables()
    document = fit_document(train, test, ["medium", "small"], [1.0])
    out = tmp_path_factory.mktemp("pair") / "pair.json"
    out.write_text(json.dumps(document))
    return out


def test_a_pair_scorer_reads_both_answers_as_the_evaluated_strategy(fitted_pair: Path) -> None:
    document = json.loads(fitted_pair.read_text())
    assert sorted(document["cheap_models"]) == ["medium", "small"]
    result = document["test"]["1"]
    assert result["decisions_unlike_evaluated_strategy"] == 0
    assert result["quality_pct"] == 100.0 and result["escalation_rate"] == round(15 / 45, 4)
    # both cheap models on every row (0.001 + 0.003), large on the 15 hard ones
    assert result["cost_pct"] == round(100 * (45 * 0.004 + 15 * 0.010) / (45 * 0.010), 2)


async def test_a_pair_scorer_drives_the_stage(fitted_pair: Path, store: LedgerStore) -> None:
    def answer(req: ChatRequest) -> ChatResponse:
        hard = "hard" in str(req.body["messages"])
        said = {"small": "B", "medium": "C"}.get(req.model, "A") if hard else "A"
        return reply(req, f"I think the answer is {said}")

    cascade = pair_plans(fitted_pair, "medium")
    easy = request_for("large", "easy sum of numbers number 4", task="impact")
    response, row, upstream, _ = await run(store, cascade, answer, easy)
    assert sorted(r.model for r in upstream.requests) == ["medium", "small"]
    assert response.headers["cascade"] == "accepted-tier-0"
    assert [c.call.lever for c in row.calls] == ["cascade", None]  # the spare answer, the served
    assert row.model == cheap_models(fitted_pair)[0]  # both said A: the tie goes to the first
    with pytest.raises(ConfigError, match=r"fitted on .* but tier 0 is small$"):
        plans(tiers=("small", "large"), scorer_path=str(fitted_pair), target_quality=1.0)
    with pytest.raises(ConfigError, match="tier 0 is small with agreement from large"):
        pair_plans(fitted_pair, "large")


async def test_a_pair_scorer_escalates_when_the_pair_disagrees(
    fitted_pair: Path, store: LedgerStore
) -> None:
    def answer(req: ChatRequest) -> ChatResponse:
        said = {"small": "B", "medium": "C"}.get(req.model, "A")
        return reply(req, f"I think the answer is {said}")

    cascade = pair_plans(fitted_pair, "medium")
    hard = request_for("large", "hard proof of theorem number 3", task="impact")
    response, row, _, _ = await run(store, cascade, answer, hard)
    assert response.headers["cascade"] == "escalated-tier-1"
    assert [c.call.lever for c in row.calls] == ["cascade", "cascade", None]
    assert row.model == "large"


def test_the_file_gives_the_hindsight_bound_beside_the_fitted_threshold(fitted: Path) -> None:
    """Hindsight: the cheapest threshold on the test rows reaching the target, chosen with
    their labels (what ``thrifty eval route``'s frontier reads).  45 test rows, large right
    on all of them, small on the 30 easy ones: at 100% it is the fitted result (every hard
    row escalated); at 95% it may keep small's answer on k hard rows while 100 (45 - k) / 45
    stays >= 95, so k <= 2, each saving large's $0.010."""
    document = json.loads(fitted.read_text())
    full = document["test"]["1"]
    assert full["hindsight"]["quality_pct"] == 100.0
    assert full["hindsight"]["cost_pct"] == full["cost_pct"]
    bound = document["test"]["0.95"]["hindsight"]
    kept_wrong = round(45 - bound["quality_pct"] * 45 / 100)
    assert 0 <= kept_wrong <= 2
    assert bound["quality_pct"] == round(100 * (45 - kept_wrong) / 45, 2)
    assert bound["cost_pct"] == round(100 * (45 * 0.001 + (15 - kept_wrong) * 0.010) / 0.45, 2)
    assert bound["cost_pct"] <= document["test"]["0.95"]["cost_pct"]


def test_hindsight_escalating_everything_is_always_there_and_no_rows_give_none() -> None:
    """Escalating every row reaches any target up to 100% of the strong model (the
    threshold above every score); a table with no rows has no bound."""
    from thrifty.levers.cheaper.cascade.fit import hindsight
    from thrifty.levers.cheaper.cascade.scorer import FittedScorer, scorer_state

    train, test = tables()
    document = fit_document(train, None, ["small"], [0.95])
    scorer = FittedScorer(("small",), "large", {}, scorer_state(document["scorer"]))
    assert hindsight(scorer, test, 1.0)["quality_pct"] == 100.0
    assert hindsight(scorer, test, 1.01)["cost_pct"] is None  # above the strong model: never
    empty = hindsight(scorer, test.subset([]), 0.95)
    assert empty == {"threshold": None, "quality_pct": None, "cost_pct": None}
