"""What a batch input file would cost, interactively and at batch rates, before sending.

Prompt tokens are estimated offline from the request's text (a quarter of its UTF-8 bytes,
plus 4 a message: the usual rule of thumb, within about 20% for English prose; exact
counts are not worth 30 s on 100,000 lines).  Output tokens are unknowable before the
answer: each line counts ``assumed_output_tokens`` (default 300), or its own
``max_tokens`` when that is lower.  Identical lines are counted once, as they are sent
once.  A line whose model has no known price is named, never counted as $0.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from thrifty.batch.lines import BadLine, BatchItem, ParsedInput
from thrifty.dialects.view import RequestView
from thrifty.pricing import PriceBook
from thrifty.types import JSON, Usage

ASSUMED_OUTPUT_TOKENS = 300
TOKENS_PER_MESSAGE = 4
BYTES_PER_TOKEN = 4
SKIPPED_KEYS = frozenset({"role", "type", "cache_control", "id", "tool_use_id"})

PriceProvider = Callable[[str], str | None]  # model -> genai-prices provider id


@dataclass(slots=True)
class Estimate:
    lines: int = 0
    sent: int = 0  # lines sent after identical ones are merged
    input_tokens: int = 0
    output_tokens: int = 0
    interactive_usd: Decimal = Decimal(0)
    batch_usd: Decimal = Decimal(0)
    unpriced: list[BatchItem] = field(default_factory=list)
    bad: list[BadLine] = field(default_factory=list)

    @property
    def saved_usd(self) -> Decimal:
        return self.interactive_usd - self.batch_usd

    def to_json(self) -> JSON:
        return {
            "lines": self.lines,
            "sent": self.sent,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "interactive_usd": str(self.interactive_usd),
            "batch_usd": str(self.batch_usd),
            "saved_usd": str(self.saved_usd),
            "unpriced": [{"line": i.line, "custom_id": i.custom_id, "model": i.model}
                         for i in self.unpriced],
            "rejected": [b.to_json() for b in self.bad],
        }  # fmt: skip

    def render(self) -> str:
        from thrifty.ledger.money import usd_text

        lines = [
            f"{self.lines} valid lines ({self.sent} sent: identical lines go once), "
            f"~{self.input_tokens:,} input and ~{self.output_tokens:,} output tokens (estimated)",
            f"  interactive: ${usd_text(self.interactive_usd)}",
            f"  batch:       ${usd_text(self.batch_usd)}",
            f"  saved:       ${usd_text(self.saved_usd)}",
        ]
        if self.unpriced:
            lines.append(f"  {len(self.unpriced)} lines have no known price (not counted above):")
            lines.extend(f"    line {i.line} ({i.custom_id}): {i.model}" for i in self.unpriced)
        if self.bad:
            lines.append(f"  {len(self.bad)} lines rejected (not counted):")
            lines.extend(f"    line {b.line}: {b.reason}" for b in self.bad)
        return "\n".join(lines)


def _text_bytes(value: object) -> int:
    if isinstance(value, str):
        return len(value.encode("utf-8"))
    if isinstance(value, list):
        return sum(_text_bytes(v) for v in value)
    if isinstance(value, dict):
        return sum(_text_bytes(v) for k, v in value.items() if k not in SKIPPED_KEYS)
    return 0


def prompt_tokens(body: JSON) -> int:
    """The estimated prompt tokens of a chat body (either dialect)."""
    messages = body.get("messages")
    count = len(messages) if isinstance(messages, list) else 0
    text = _text_bytes(messages) + _text_bytes(body.get("system")) + _text_bytes(body.get("tools"))
    return -(-text // BYTES_PER_TOKEN) + TOKENS_PER_MESSAGE * count


def estimate(
    parsed: ParsedInput,
    prices: PriceBook,
    price_provider: PriceProvider,
    *,
    assumed_output_tokens: int = ASSUMED_OUTPUT_TOKENS,
) -> Estimate:
    """Price ``parsed``'s items at interactive and batch rates (see the module docstring)."""
    result = Estimate(lines=len(parsed.items), bad=list(parsed.bad))
    seen: set[str] = set()
    for item in parsed.items:
        view = RequestView.of(item.request)
        key = view.cache_key()
        if key in seen:
            continue
        seen.add(key)
        result.sent += 1
        body = item.request.body
        cap = view.max_output_tokens
        output = min(assumed_output_tokens, cap) if cap else assumed_output_tokens
        usage = Usage(input_tokens=prompt_tokens(body), output_tokens=output)
        result.input_tokens += usage.input_tokens
        result.output_tokens += output
        provider = price_provider(item.model)
        interactive = prices.cost(usage, item.model, provider=provider)
        batch = prices.cost(usage, item.model, provider=provider, batch=True)
        if interactive.usd is None or batch.usd is None:
            result.unpriced.append(item)
            continue
        result.interactive_usd += interactive.usd
        result.batch_usd += batch.usd
    return result
