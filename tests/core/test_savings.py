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

    named = {"openai": ("openai", False), "local": (None, True)}
    return Accountant(PriceBook(), upstream_of, named.get)


def request(model: str, sent: str | None = None) -> ChatRequest:
    """The app asked for ``model``; routing sent ``sent`` (default: the same)."""
    return ChatRequest(dialect="openai", body={}, model=sent or model, requested_model=model)


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
        served=request("gpt-4o", sent="gpt-4o-mini"),
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
        served=request("gpt-4o", sent="llama3"),
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
        served=request("gpt-4o", sent="mystery-model"),
    )
    savings = accountant().settle(request("gpt-4o"), response)
    assert response.cost is not None and response.cost.usd is None
    assert not response.cost.priced
    assert savings == {}


def test_dated_snapshot_name_is_priced_and_is_not_a_saving() -> None:
    """The upstream reports a dated model name; with no lever, baseline is the cost."""
    response = ChatResponse(
        dialect="openai", model="gpt-4o-2024-05-13", provider="openai", usage=USAGE
    )
    savings = accountant().settle(request("gpt-4o"), response)
    # gpt-4o-2024-05-13 list price: $5/M input, $15/M output -> 0.005 + 0.003
    assert response.cost is not None and response.cost.usd == Decimal("0.008")
    assert response.baseline == response.cost
    assert savings == {}


def test_local_provider_answering_with_another_name_is_still_free() -> None:
    """A local server that reports 'llama3:latest' for 'llama3' is priced by its provider."""
    response = ChatResponse(
        dialect="openai",
        model="llama3:latest",
        provider="local",
        usage=USAGE,
        served=request("gpt-4o", sent="llama3"),
    )
    savings = accountant().settle(request("gpt-4o"), response)
    assert savings == {}  # no step claimed it; the whole $0.0045 is baseline - actual
    assert response.cost is not None and response.cost.usd == Decimal(0)


def test_missing_usage_is_unpriced_never_zero() -> None:
    response = ChatResponse(
        dialect="openai", model="gpt-4o", provider="openai", usage_reported=False
    )
    savings = accountant().settle(request("gpt-4o"), response)
    assert response.cost is not None and response.cost.usd is None
    assert response.cost.source == "no_usage"
    assert savings == {}
