"""Lint schemas and prompts for what invites long (and costly) answers
(docs/levers/fewer-tokens.md, "Output control"): ``thrifty lint`` and these calls."""

from thrifty.lint.findings import CODES, Finding
from thrifty.lint.prompt import lint_prompt
from thrifty.lint.schema import lint_schema

__all__ = ["CODES", "Finding", "lint_prompt", "lint_schema"]
