"""The shadow lever's daily budget per task: a shared counter per task and UTC day, an
estimate reserved before a shadow call (the strong model's price of the served call's
tokens, and the judge's) and settled with the actual cost after it."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from thrifty.ledger.accounting import Accountant
from thrifty.ledger.money import optional_usd_to_pico
from thrifty.levers.cheaper.shadow.rules import TaskShadow
from thrifty.levers.judge import MAX_VERDICT_TOKENS
from thrifty.types import Call, Usage

if TYPE_CHECKING:
    from thrifty.store.protocols import Counters

__all__ = ["ShadowBudget", "budget_key"]

log = logging.getLogger("thrifty.shadow")
WINDOW_S = 2 * 86_400.0  # a day's counter outlives its UTC day
JUDGE_PROMPT_TOKENS = 300  # the judge prompt's own tokens, for the budget estimate
JUDGE_ANSWER_TOKENS = MAX_VERDICT_TOKENS


def budget_key(task: str | None, now: float) -> str:
    """The counter of ``task``'s budget on the UTC day of ``now``."""
    day = datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%d")
    name = task or ""
    if len(name) > 64:  # a task name comes from a header: bounded before it is a key
        name = hashlib.sha256(name.encode("utf-8")).hexdigest()
    return f"shadow:{day}:{name}"


class ShadowBudget:
    """Prices shadow calls and keeps each task's day within ``TaskShadow.budget_pusd``;
    ``provider_of`` names the provider that serves a model (for pricing)."""

    def __init__(
        self,
        counters: Counters,
        accountant: Accountant,
        provider_of: Callable[[str], str | None],
    ) -> None:
        self._counters = counters
        self._accountant = accountant
        self._provider_of = provider_of

    def estimate(self, rules: TaskShadow, usage: Usage) -> int | None:
        """The strong model's price of the served call's tokens (and the judge's), pusd;
        ``None`` when a model has no known price."""
        plain = Usage(input_tokens=usage.input_tokens, output_tokens=usage.output_tokens)
        asks = [(rules.model, plain)]
        if rules.judge_model is not None:
            judged = Usage(
                input_tokens=usage.input_tokens + 2 * usage.output_tokens + JUDGE_PROMPT_TOKENS,
                output_tokens=JUDGE_ANSWER_TOKENS,
            )
            asks.append((rules.judge_model, judged))
        total = Decimal(0)
        for model, tokens in asks:
            provider = self._provider_of(model) or ""
            cost = self._accountant.price_call(Call(model=model, provider=provider, usage=tokens))
            if cost.usd is None:
                return None
            total += cost.usd
        return optional_usd_to_pico(total)

    async def reserve(self, key: str, rules: TaskShadow, estimate: int) -> bool:
        """Reserve ``estimate`` on ``key``; ``False`` (nothing reserved) when the day's
        budget would be exceeded."""
        spent = await self._counters.incr(key, estimate, window_s=WINDOW_S)
        if spent <= rules.budget_pusd:
            return True
        await self._counters.incr(key, -estimate, window_s=WINDOW_S)
        log.info("shadow: the day's budget is spent; sample skipped")
        return False

    async def settle(self, key: str, estimate: int, actual: int | None) -> None:
        """Replace the reserved ``estimate`` with the ``actual`` cost, when known."""
        if actual is not None and actual != estimate:
            await self._counters.incr(key, actual - estimate, window_s=WINDOW_S)

    def call_cost(self, call: Call | None) -> int | None:
        """A call's cost in pusd (``None``: no call, or no known price)."""
        return None if call is None else optional_usd_to_pico(self._accountant.price_call(call).usd)
