"""The Accountant: actual cost over every call, baseline on the requested model, savings
per lever that sum exactly to baseline - actual (unknown stays unknown)."""

from __future__ import annotations

from decimal import Decimal

from thrifty.testing import accountant
from thrifty.types import ChatRequest, ChatResponse, Step, Usage

M = Decimal(1_000_000)


def request(model: str, sent: str | None = None) -> ChatRequest:
    """The app asked for ``model``; routing sent ``sent`` (default: the same)."""
    return ChatRequest(dialect="openai", body={}, model=sent or model, requested_model=model)


def answer(model: str, provider: str, sent: ChatRequest, **fields: object) -> ChatResponse:
    return ChatResponse(
        dialect="openai",
        model=model,
        provider=provider,
        served=sent,
        **fields,  # type: ignore[arg-type]
    )


USAGE = Usage(input_tokens=1000, output_tokens=200)


def test_no_lever_means_baseline_equals_cost() -> None:
    response = answer("gpt-4o", "openai", request("gpt-4o"), usage=USAGE)
    settled = accountant().settle(request("gpt-4o"), response)
    # 1000 x $2.50/M + 200 x $10/M = $0.0025 + $0.002
    assert settled.cost.usd == Decimal("0.0045")
    assert response.baseline == response.cost == settled.cost
    assert settled.savings == {} and settled.saved == 0 and response.saved == 0


def test_routing_gets_the_model_change() -> None:
    response = answer(
        "gpt-4o-mini",
        "openai",
        request("gpt-4o", sent="gpt-4o-mini"),
        usage=USAGE,
        steps=[Step(lever="routing", detail="task t: gpt-4o -> gpt-4o-mini")],
    )
    settled = accountant().settle(request("gpt-4o"), response)
    cost = (1000 * Decimal("0.15") + 200 * Decimal("0.6")) / M  # $0.00027
    assert settled.cost.usd == cost
    assert settled.baseline.usd == Decimal("0.0045")
    assert settled.savings == {"routing": Decimal("0.0045") - cost}
    assert response.steps[0].saved_usd == Decimal("0.0045") - cost


def test_local_model_is_free_and_saves_the_whole_baseline() -> None:
    response = answer(
        "llama3",
        "local",
        request("gpt-4o", sent="llama3"),
        usage=USAGE,
        steps=[Step(lever="routing", detail="t")],
    )
    settled = accountant().settle(request("gpt-4o"), response)
    assert settled.cost.usd == Decimal(0) and settled.cost.source == "local"
    assert settled.savings == {"routing": Decimal("0.0045")}


def test_unpriced_model_books_an_unknown_saving_and_no_zero_cost() -> None:
    response = answer(
        "mystery-model",
        "openai",
        request("gpt-4o", sent="mystery-model"),
        usage=USAGE,
        steps=[Step(lever="routing", detail="t")],
    )
    settled = accountant().settle(request("gpt-4o"), response)
    assert settled.cost.usd is None and not settled.cost.priced
    assert settled.baseline.usd == Decimal("0.0045")
    assert settled.savings == {"routing": None}
    assert settled.saved is None and response.saved is None


def test_dated_snapshot_name_is_priced_and_is_not_a_saving() -> None:
    """The upstream reports a dated model name; with no lever, baseline is the cost."""
    response = answer("gpt-4o-2024-05-13", "openai", request("gpt-4o"), usage=USAGE)
    settled = accountant().settle(request("gpt-4o"), response)
    # gpt-4o-2024-05-13 list price: $5/M input, $15/M output -> 0.005 + 0.003
    assert settled.cost.usd == Decimal("0.008")
    assert settled.baseline == settled.cost
    assert settled.savings == {}


def test_model_change_without_a_step_is_still_booked_to_routing() -> None:
    """A local server that reports 'llama3:latest' for 'llama3' is priced by its provider;
    a model change no step claimed is still a share (routing), so the sums hold."""
    response = answer("llama3:latest", "local", request("gpt-4o", sent="llama3"), usage=USAGE)
    settled = accountant().settle(request("gpt-4o"), response)
    assert settled.cost.usd == Decimal(0)
    assert settled.savings == {"routing": Decimal("0.0045")}
    assert [s.lever for s in response.steps] == ["routing"]


def test_missing_usage_is_unpriced_never_zero() -> None:
    response = answer("gpt-4o", "openai", request("gpt-4o"), usage_reported=False)
    settled = accountant().settle(request("gpt-4o"), response)
    assert settled.cost.usd is None and settled.cost.source == "no_usage"
    assert settled.baseline.usd is None and settled.saved is None


def test_a_step_that_states_nothing_claims_nothing() -> None:
    response = answer(
        "gpt-4o",
        "openai",
        request("gpt-4o"),
        usage=USAGE,
        steps=[Step(lever="output", detail="max output tokens 4096 -> 512")],
    )
    settled = accountant().settle(request("gpt-4o"), response)
    assert settled.savings == {} and settled.saved == 0
    assert response.steps[0].saved_usd is None


def test_a_lever_change_that_makes_no_valid_usage_leaves_the_baseline_unknown() -> None:
    from thrifty.types import TokenChange

    response = answer(
        "gpt-4o",
        "openai",
        request("gpt-4o"),
        usage=USAGE,
        steps=[Step(lever="compress", detail="bad", tokens=TokenChange(input_tokens=5000))],
    )
    settled = accountant().settle(request("gpt-4o"), response)
    assert settled.cost.usd == Decimal("0.0045")
    assert settled.baseline.usd is None and settled.saved is None


def test_an_override_for_the_sent_name_wins_over_the_dated_answer() -> None:
    """Defect: `gpt-4.1` overridden, answered as `gpt-4.1-2025-04-14`: the package's dated
    entry was used instead of the user's override."""
    from thrifty.config import PriceOverride
    from thrifty.pricing import PriceBook

    book = PriceBook({"gpt-4.1": PriceOverride(input=Decimal("1"), output=Decimal("2"))})
    response = answer("gpt-4.1-2025-04-14", "openai", request("gpt-4.1"), usage=USAGE)
    settled = accountant(book).settle(request("gpt-4.1"), response)
    assert settled.cost.usd == (1000 * Decimal(1) + 200 * Decimal(2)) / M
    assert settled.cost.source == "override"
    assert settled.baseline == settled.cost


def test_a_call_is_priced_at_the_prices_of_its_time() -> None:
    """Defect: prices were fixed when first looked up, so a long-running gateway kept the
    old rate after a price change.  o3 went from $10/$40 to $2/$8 on 2025-06-10."""
    import dataclasses
    from datetime import UTC, datetime

    def at(day: datetime) -> Decimal | None:
        sent = dataclasses.replace(request("o3"), received_at=day.timestamp())
        response = answer("o3", "openai", sent, usage=USAGE)
        return accountant().settle(sent, response).cost.usd

    assert at(datetime(2025, 6, 1, tzinfo=UTC)) == (1000 * Decimal(10) + 200 * Decimal(40)) / M
    assert at(datetime(2025, 7, 1, tzinfo=UTC)) == (1000 * Decimal(2) + 200 * Decimal(8)) / M
