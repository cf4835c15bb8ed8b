"""The Accountant: prices every upstream call, the baseline, and each lever's share.

Levers never price anything; they state facts (see :class:`~thrifty.types.Step` and
:class:`~thrifty.types.Call`) and the Accountant turns them into money, so every figure in
the ledger comes from one price book and one method (docs/ledger.md, "How savings are
formed"):

* **actual** = the sum of every upstream call the request made (the answering call and the
  calls levers made besides it), each priced on the model and provider that served it, at
  its service tier, batch or not, with its server-tool fees, at the time it was made.
* **baseline** = the app's original request with no lever: the model it asked for, and the
  token counts it would have sent and received.  For an answered request that is the
  answering call's usage with every lever's stated token change undone; for a request a
  lever answered without a call (cache hit, coalesced) it is the usage of the call it
  avoided.  The baseline is an estimate: nobody made that call.
* **savings**: a waterfall from baseline to actual, one link per lever, so the shares sum
  exactly to ``baseline - actual``:

  1. token levers, in pipeline order: the cost on the requested model before and after
     the lever's change;
  2. the model change (routing, cascade, learned routing, local tier): the final usage on
     the requested model minus the same usage on the model that served it;
  3. batch: the served call at interactive rates minus at batch rates;
  4. a call avoided entirely: its whole baseline;
  5. every call a lever made besides the answer: minus its cost (a negative saving).

Unknown stays unknown: a share whose either side cannot be priced is ``None``, never 0,
and so is the total when any call or the baseline is unknown.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from decimal import Decimal

from thrifty.pricing import PriceBook
from thrifty.types import UNPRICED, Call, ChatRequest, ChatResponse, Cost, Lever, Step, Usage

log = logging.getLogger("thrifty.ledger")

ZERO = Decimal(0)
UpstreamFacts = tuple[str | None, bool]  # (genai-prices provider id, local)
NO_USAGE = Cost(usd=None, source="no_usage")
NO_CALL = Cost(usd=ZERO, source="none")
MODEL_LEVERS: frozenset[Lever] = frozenset({"routing", "cascade", "learned_routing", "local"})


@dataclass(slots=True)
class Settlement:
    """What one request cost, what it would have cost, and who saved the difference."""

    cost: Cost
    baseline: Cost
    baseline_usage: Usage | None
    calls: list[tuple[Call, Cost]]
    savings: dict[str, Decimal | None] = field(default_factory=dict)
    estimated: bool = False  # some call's usage was estimated (a stream cut short)

    @property
    def saved(self) -> Decimal | None:
        """``baseline - actual`` as the sum of the shares; ``None`` if cost, baseline or
        any share is unknown."""
        if self.cost.usd is None or self.baseline.usd is None:
            return None
        return _sum(self.savings.values())


def _sum(values: Iterable[Decimal | None]) -> Decimal | None:
    total = ZERO
    for value in values:
        if value is None:
            return None
        total += value
    return total


def _minus(a: Decimal | None, b: Decimal | None) -> Decimal | None:
    return None if a is None or b is None else a - b


class Accountant:
    """Prices responses: actual cost, baseline, and per-lever savings."""

    def __init__(
        self,
        prices: PriceBook,
        upstream_of: Callable[[str], UpstreamFacts | None],
        upstream_named: Callable[[str], UpstreamFacts | None],
    ) -> None:
        self._prices = prices
        self._upstream_of = upstream_of  # model name -> the provider that would serve it
        self._upstream_named = upstream_named  # provider name -> its facts

    # -- pricing -------------------------------------------------------------------------

    def price_call(self, call: Call) -> Cost:
        """One billed call.  No usage reported: unknown, never $0."""
        if not call.usage_reported:
            return NO_USAGE
        facts = self._upstream_named(call.provider) or self._upstream_of(
            call.sent_model or call.model
        )
        provider, local = facts if facts is not None else (None, False)
        cost = self._prices.price_call(call, provider=provider, local=local)
        return replace(cost, estimated=True) if call.usage_estimated and cost.priced else cost

    def _price_requested(self, usage: Usage, requested: str, like: Call | None) -> Cost:
        """``usage`` on the requested model, with no lever: interactive rates, the tier and
        server-tool uses of the call that answered (if any), at that call's time."""
        facts = self._upstream_of(requested)
        provider, local = facts if facts is not None else (None, False)
        return self._prices.cost(
            usage,
            requested,
            provider=provider,
            local=local,
            service_tier=like.service_tier if like is not None else None,
            server_tools=like.server_tools if like is not None else (),
            at=like.at if like is not None else None,
        )

    # -- settling ------------------------------------------------------------------------

    def settle(self, request: ChatRequest, response: ChatResponse) -> Settlement:
        """Price ``response`` for the app's ``request``; set ``response.cost``,
        ``response.baseline`` and each step's ``saved_usd``."""
        served = response.served
        answer = response.answer_call()
        if (
            answer is not None
            and served is not None
            and not response.steps
            and not response.lever_calls
            and not answer.batch
            and served.model == served.requested_model
        ):
            # No lever touched the request (the common case): one call, its own baseline.
            cost = self.price_call(answer)
            saved = ZERO if cost.usd is not None and answer.usage_reported else None
            response.cost, response.baseline, response.saved = cost, cost, saved
            usage = answer.usage if answer.usage_reported else None
            return Settlement(cost, cost, usage, [(answer, cost)], {}, answer.usage_estimated)
        requested = (served or request).requested_model
        extras = [(call, self.price_call(call)) for call in response.lever_calls]
        calls = list(extras)
        answer_cost: Cost | None = None
        if answer is not None:
            answer_cost = self.price_call(answer)
            calls.append((answer, answer_cost))
        cost = self._total(calls, answer_cost)
        shares: list[tuple[int | Lever, Decimal | None]] = []  # step index or lever
        baseline_usage: Usage | None = None
        baseline = UNPRICED
        try:
            if answer is not None and answer_cost is not None:
                changed = served is not None and served.model != served.requested_model
                baseline, baseline_usage = self._answered(
                    response, answer, answer_cost, requested, shares, model_changed=changed
                )
            else:
                baseline, baseline_usage = self._avoided(response, request, requested, shares)
        except ValueError as exc:  # a lever stated a change that makes no valid usage
            log.warning("request %s: cannot form its baseline: %s", request.request_id, exc)
            baseline, baseline_usage, shares = UNPRICED, None, []
        for call, call_cost in extras:
            assert call.lever is not None
            shares.append((call.lever, None if call_cost.usd is None else -call_cost.usd))
        savings = self._distribute(response.steps, shares)
        response.cost, response.baseline = cost, baseline
        estimated = any(c.usage_estimated for c, _ in calls)
        settled = Settlement(cost, baseline, baseline_usage, calls, savings, estimated)
        response.saved = settled.saved
        return settled

    def _total(self, calls: list[tuple[Call, Cost]], answer_cost: Cost | None) -> Cost:
        if not calls:
            return NO_CALL
        total = _sum(k.usd for _, k in calls)
        source = (answer_cost or calls[-1][1]).source
        if total is None:
            unknown = next(k for _, k in calls if k.usd is None)
            return Cost(usd=None, source=unknown.source)
        return Cost(usd=total, source=source, estimated=any(k.estimated for _, k in calls))

    def _answered(
        self,
        response: ChatResponse,
        answer: Call,
        answer_cost: Cost,
        requested: str,
        shares: list[tuple[int | Lever, Decimal | None]],
        *,
        model_changed: bool,
    ) -> tuple[Cost, Usage | None]:
        if not answer.usage_reported:
            return NO_USAGE, None
        token_steps = [(i, s) for i, s in enumerate(response.steps) if s.tokens is not None]
        if not token_steps and not model_changed and not answer.batch:
            return answer_cost, answer.usage  # no lever touched the call: baseline = cost
        usage = answer.usage
        for _, step in reversed(token_steps):
            assert step.tokens is not None
            usage = step.tokens.apply(usage, sign=-1)
        baseline_usage = usage

        def on_requested(u: Usage) -> Cost:
            if model_changed:
                return self._price_requested(u, requested, answer)
            # Same model: price exactly as the call was priced (dated names, overrides).
            return self.price_call(replace(answer, usage=u, batch=False, usage_estimated=False))

        baseline = on_requested(baseline_usage)
        current = baseline.usd
        for index, step in token_steps:
            assert step.tokens is not None
            usage = step.tokens.apply(usage)
            after = on_requested(usage).usd
            shares.append((index, _minus(current, after)))
            current = after
        interactive = (
            self.price_call(replace(answer, batch=False)).usd if answer.batch else answer_cost.usd
        )
        if model_changed:
            lever = next((i for i, s in enumerate(response.steps) if s.lever in MODEL_LEVERS), None)
            shares.append((lever if lever is not None else "routing", _minus(current, interactive)))
        if answer.batch:
            shares.append(("batch", _minus(interactive, answer_cost.usd)))
        estimated = answer.usage_estimated
        return replace(baseline, estimated=estimated and baseline.priced), baseline_usage

    def _avoided(
        self,
        response: ChatResponse,
        request: ChatRequest,
        requested: str,
        shares: list[tuple[int | Lever, Decimal | None]],
    ) -> tuple[Cost, Usage | None]:
        index = next((i for i, s in enumerate(response.steps) if s.avoided is not None), None)
        if index is None:
            return UNPRICED, None  # answered without a call and without saying what it avoided
        usage = response.steps[index].avoided
        assert usage is not None
        like = Call(model=requested, provider="", usage=usage, at=request.received_at)
        baseline = self._price_requested(usage, requested, like)
        shares.append((index, baseline.usd))
        return baseline, usage

    @staticmethod
    def _distribute(
        steps: list[Step], shares: list[tuple[int | Lever, Decimal | None]]
    ) -> dict[str, Decimal | None]:
        """Credit each share to its step (a lever named without a step gets one), set the
        steps' ``saved_usd`` and return lever -> saving."""
        per_step: dict[int, Decimal | None] = {}
        for target, amount in shares:
            if isinstance(target, str):
                index = next((i for i, s in enumerate(steps) if s.lever == target), None)
                if index is None:
                    steps.append(Step(lever=target, detail=f"{target}: extra call"))
                    index = len(steps) - 1
            else:
                index = target
            before = per_step.get(index, ZERO)
            per_step[index] = None if before is None or amount is None else before + amount
        savings: dict[str, Decimal | None] = {}
        for index, step in enumerate(steps):
            if index not in per_step:
                step.saved_usd = None  # stated nothing the Accountant could price
                continue
            amount = per_step[index]
            step.saved_usd = amount
            before = savings.get(step.lever, ZERO)
            savings[step.lever] = None if before is None or amount is None else before + amount
        return savings
