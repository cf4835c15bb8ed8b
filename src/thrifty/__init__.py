"""thrifty: cut what you pay for LLM calls without cutting quality."""

from typing import Any

from thrifty.types import ChatRequest, ChatResponse, Cost, Step, StreamEvent, Usage

__all__ = [
    "ChatRequest",
    "ChatResponse",
    "Cost",
    "Step",
    "StreamEvent",
    "Usage",
    "count_tokens",
    "lint_schema",
    "select_context",
]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    # Imported on first use, so that `import thrifty` stays cheap.
    if name == "lint_schema":
        from thrifty.lint import lint_schema

        return lint_schema
    if name == "count_tokens":
        from thrifty.tokens import count_tokens

        return count_tokens
    if name == "select_context":
        from thrifty.context import select_context

        return select_context
    raise AttributeError(f"module 'thrifty' has no attribute {name!r}")
