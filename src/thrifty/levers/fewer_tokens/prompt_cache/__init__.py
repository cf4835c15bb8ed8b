"""The prompt-cache planner: Anthropic breakpoints and lifetimes, an OpenAI prefix kept
byte-stable, and what it saved booked from the provider's cache counts
(docs/levers/fewer-tokens.md, "Prompt caching")."""

from thrifty.levers.fewer_tokens.prompt_cache.stage import (
    PromptCachePlanner,
    build,
    prompt_cache_stage,
)

__all__ = ["PromptCachePlanner", "build", "prompt_cache_stage"]
