"""The ledger stage's accounting: baseline on the requested model, savings per lever."""

from __future__ import annotations

from decimal import Decimal

from thrifty.ledger.stage import Accountant
from thrifty.pricing import PriceBook
from thrifty.types import ChatRequest, ChatResponse, Step, Usage

M = Decimal(1_000_000)


def accountant() -> Accountant:
    def upstream_of(model: str) -> tuple[str | None, bool] | None:
        if model.startswith("gpt"):
            return ("openai", False)
        if model.startswith("llama"):
            return (None, True)  # a local server: $0 by explicit config
        return None

    return Accountant(PriceBook(), upstream_of)


def request(model: str) -> ChatRequest:
    return ChatRequest(dialect="openai", body={}, model=model, requested_model=model)


USAGE = Usage(input_tokens=1000, output_tokens=200)


def test_no_lever_means_baseline_equals_cost() -> None:
    response = ChatResponse(dialect="openai", model="gpt-4o", provider="openai", usage=USAGE)
    assert accountant().settle(request("gpt-4o"), response) == {}
    # 1000 x $2.50/M + 200 x $10/M = $0.0025 + $0.002
    assert response.cost is not None and response.cost.usd == Decimal("0.0045")
    assert response.baseline == response.cost


def test_routing_gets_the_remainder_after_stated_savings() -> None:
    response = ChatResponse(
        dialect="openai",
        model="gpt-4o-mini",
        provider="openai",
        usage=USAGE,
        steps=[
            Step(lever="prompt_cache", detail="x", saved_usd=Decimal("0.0001")),
            Step(lever="routing", detail="task t: gpt-4o -> gpt-4o-mini"),
        ],
    )
    savings = accountant().settle(request("gpt-4o"), response)
    cost = (1000 * Decimal("0.15") + 200 * Decimal("0.6")) / M  # $0.00027
    baseline = Decimal("0.0045")
    assert response.cost is not None and response.cost.usd == cost
    assert response.baseline is not None and response.baseline.usd == baseline
    assert savings == {
        "prompt_cache": Decimal("0.0001"),
        "routing": baseline - cost - Decimal("0.0001"),
    }
    assert sum(savings.values()) == baseline - cost


def test_local_model_is_free_and_saves_the_whole_baseline() -> None:
    response = ChatResponse(
        dialect="openai",
        model="llama3",
        provider="local",
        usage=USAGE,
        steps=[Step(lever="routing", detail="t")],
    )
    savings = accountant().settle(request("gpt-4o"), response)
    assert response.cost is not None and response.cost.usd == Decimal(0)
    assert response.cost.source == "local"
    assert savings == {"routing": Decimal("0.0045")}


def test_unpriced_model_books_no_saving_and_no_zero_cost() -> None:
    response = ChatResponse(
        dialect="openai",
        model="mystery-model",
        provider="x",
        usage=USAGE,
        steps=[Step(lever="routing", detail="t")],
    )
    savings = accountant().settle(request("gpt-4o"), response)
    assert response.cost is not None and response.cost.usd is None
    assert not response.cost.priced
    assert savings == {}
