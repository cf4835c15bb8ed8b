"""What a batch input file would cost, interactively and at batch rates, before sending.

Prompt tokens are estimated offline: a quarter of the bytes of the request's messages,
system prompt and tools as compact JSON (the usual four bytes a token for English prose;
the JSON punctuation stands in for the few tokens each message's framing costs).  Exact
counts take about 0.3 ms a line here, half a minute on 100,000 lines, for a figure whose
larger unknown is the output anyway.  Output tokens are unknowable before the answer:
each line counts ``assumed_output_tokens`` (default 300), or its own ``max_tokens`` when
that is lower.  Identical lines (the same body, keys in any order) are counted once, as
they are sent once.  A line whose model has no known price is named, never counted as $0.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

import orjson

from thrifty.batch.lines import BadLine, BatchItem, ParsedInput
from thrifty.pricing import PriceBook
from thrifty.types import JSON, Usage

ASSUMED_OUTPUT_TOKENS = 300
BYTES_PER_TOKEN = 4

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


def prompt_tokens(body: JSON) -> int:
    """The estimated prompt tokens of a chat body (either dialect)."""
    text = orjson.dumps([body.get("messages"), body.get("system"), body.get("tools")])
    return -(-len(text) // BYTES_PER_TOKEN)


def _output_cap(body: JSON) -> int | None:
    """The body's own cap on output tokens (either dialect's spelling)."""
    for name in ("max_completion_tokens", "max_tokens"):
        value = body.get(name)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def estimate(
    parsed: ParsedInput,
    prices: PriceBook,
    price_provider: PriceProvider,
    *,
    assumed_output_tokens: int = ASSUMED_OUTPUT_TOKENS,
) -> Estimate:
    """Price ``parsed``'s items at interactive and batch rates (see the module docstring)."""
    result = Estimate(lines=len(parsed.items), bad=list(parsed.bad))
    seen: set[bytes] = set()
    # (model, input, output) -> (interactive, batch): prices are looked up once per
    # distinct count, and prompt lengths repeat a great deal in a batch file.
    priced: dict[tuple[str, int, int], tuple[Decimal | None, Decimal | None]] = {}
    for item in parsed.items:
        body = item.request.body
        key = orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
        if key in seen:
            continue
        seen.add(key)
        result.sent += 1
        cap = _output_cap(body)
        output = min(assumed_output_tokens, cap) if cap else assumed_output_tokens
        tokens = prompt_tokens(body)
        result.input_tokens += tokens
        result.output_tokens += output
        found = priced.get((item.model, tokens, output))
        if found is None:
            usage = Usage(input_tokens=tokens, output_tokens=output)
            provider = price_provider(item.model)
            found = (
                prices.cost(usage, item.model, provider=provider).usd,
                prices.cost(usage, item.model, provider=provider, batch=True).usd,
            )
            priced[(item.model, tokens, output)] = found
        interactive, batch = found
        if interactive is None or batch is None:
            result.unpriced.append(item)
            continue
        result.interactive_usd += interactive
        result.batch_usd += batch
    return result
