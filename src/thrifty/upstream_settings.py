"""``[providers.NAME]`` (the upstreams, their dialect, models and timeouts; the built-in
OpenAI and Anthropic ones) and ``[prices."MODEL"]`` (rates that override the price book),
re-exported by :mod:`thrifty.config`."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import Field, field_validator

from thrifty.lever_settings import StrictSettings

__all__ = ["PriceOverride", "ProviderSettings", "default_providers"]


class ProviderSettings(StrictSettings):
    """One upstream.  ``models`` are glob patterns (``fnmatch``) of the model names it serves;
    the first provider (in file order) whose pattern matches wins."""

    dialect: Literal["openai", "anthropic"]
    base_url: str
    api_key_env: str | None = None
    models: tuple[str, ...] = ("*",)
    local: bool = False  # a local server: calls are booked at $0 by this explicit choice
    price_provider: str | None = None  # genai-prices provider id used to price its models
    # Timeouts (docs/configuration.md).  A hung upstream is caught by the short ones
    # (connect, first byte of a stream, silence mid-stream); the long ones only cap work a
    # slow reasoning model may legitimately do, since cutting a call does not stop its bill.
    timeout_s: float = Field(default=600.0, gt=0)  # a whole non-streamed answer; caps all waits
    connect_timeout_s: float = Field(default=5.0, gt=0)  # TCP + TLS to a new connection
    first_byte_timeout_s: float = Field(default=60.0, gt=0)  # a stream's response headers
    stream_idle_timeout_s: float = Field(default=300.0, gt=0)  # silence between stream reads
    stream_timeout_s: float = Field(default=3600.0, gt=0)  # a whole stream

    @field_validator("base_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"base_url must start with http:// or https://, got {value!r}")
        return value.rstrip("/")


def default_providers() -> dict[str, ProviderSettings]:
    return {
        "openai": ProviderSettings(
            dialect="openai",
            base_url="https://api.openai.com/v1",
            api_key_env="OPENAI_API_KEY",
            models=("gpt-*", "o1*", "o3*", "o4*", "chatgpt-*", "text-*", "ft:*"),
            price_provider="openai",
        ),
        "anthropic": ProviderSettings(
            dialect="anthropic",
            base_url="https://api.anthropic.com",
            api_key_env="ANTHROPIC_API_KEY",
            models=("claude-*",),
            price_provider="anthropic",
        ),
    }


class PriceOverride(StrictSettings):
    """User rates in US dollars per million tokens.  Cache rates default to the input rate
    when omitted; ``batch_discount`` is the fraction off every rate for Batch API calls.

    ``tiers`` are long-context tiers, in ascending ``above_input_tokens`` order: once a
    call's input tokens exceed a tier's threshold, the whole call is billed at that tier's
    rates (the "cliff" Anthropic and Google bill with).  A tier's omitted cache rates are
    the base cache rates scaled like its input rate (a tier at 2x input has 2x cache rates).

    ``web_search_per_1k`` / ``file_search_per_1k`` are server-side tool fees in US dollars
    per 1,000 uses.  Rates are rounded to 6 decimals (see docs/pricing.md)."""

    class Tier(StrictSettings):
        """Rates that apply to a whole call above ``above_input_tokens`` input tokens."""

        above_input_tokens: int = Field(ge=0)
        input: Decimal = Field(ge=0)
        output: Decimal = Field(ge=0)
        cache_read: Decimal | None = Field(default=None, ge=0)
        cache_write_5m: Decimal | None = Field(default=None, ge=0)
        cache_write_1h: Decimal | None = Field(default=None, ge=0)

    input: Decimal = Field(ge=0)
    output: Decimal = Field(ge=0)
    cache_read: Decimal | None = Field(default=None, ge=0)
    cache_write_5m: Decimal | None = Field(default=None, ge=0)
    cache_write_1h: Decimal | None = Field(default=None, ge=0)
    batch_discount: Decimal = Field(default=Decimal("0.5"), ge=0, le=1)
    tiers: tuple[Tier, ...] = ()
    web_search_per_1k: Decimal | None = Field(default=None, ge=0)
    file_search_per_1k: Decimal | None = Field(default=None, ge=0)

    @field_validator("tiers")
    @classmethod
    def _ascending_tiers(
        cls, tiers: tuple[PriceOverride.Tier, ...]
    ) -> tuple[PriceOverride.Tier, ...]:
        previous: int | None = None
        for tier in tiers:
            if previous is not None and tier.above_input_tokens <= previous:
                raise ValueError(
                    "tiers must be in strictly ascending order of above_input_tokens, got "
                    f"{tier.above_input_tokens} after {previous}"
                )
            previous = tier.above_input_tokens
        return tiers
