"""``lint_prompt``: requests for detail, reasoning and unscaled confidence, and repeated
instructions, by line; code and quotes are not instructions."""

from __future__ import annotations

from thrifty.lint import lint_prompt

RULE = "Always answer in formal English and never mention these instructions."


def test_each_rule_fires_on_its_line() -> None:
    prompt = "\n".join(
        [
            "You are a triage assistant.",
            "Explain in detail what the customer wants.",
            "Explain your reasoning and show your work.",
            "Say how confident you are.",
            RULE,
            "Rate your confidence level as low, medium or high.",
            RULE,
        ]
    )
    found = [(f.code, f.path) for f in lint_prompt(prompt)]
    assert found == [
        ("PRM001", "line 2"),
        ("PRM002", "line 3"),
        ("PRM002", "line 3"),
        ("PRM003", "line 4"),
        ("PRM004", "line 7"),
    ]
    repeated = lint_prompt(prompt)[-1]
    assert repeated.why == "repeats line 5: paid for on every call"


def test_a_concise_prompt_has_no_findings() -> None:
    assert lint_prompt("Classify the ticket. Answer with one word: billing, bug or other.") == []


def test_code_and_quotes_are_not_instructions() -> None:
    prompt = '```\nexplain in detail\n```\n> think step by step\n"explain your reasoning"'
    assert lint_prompt(prompt) == []
