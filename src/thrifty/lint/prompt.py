"""``lint_prompt``: a prompt's text checked for what invites long answers.

* PRM001: asks for detail ("explain in detail", "step by step", "be thorough");
* PRM002: asks for the reasoning in the answer ("explain your reasoning", "show your
  work", "justify your answer");
* PRM003: asks for confidence in words ("how confident are you") with no scale;
* PRM004: an instruction repeated (paid for on every call; compression removes it).

Each finding names its line.  Code blocks and quoted text are not instructions and are
skipped.
"""

from __future__ import annotations

import re
from bisect import bisect_left

from thrifty.levers.fewer_tokens.compress.dedupe import Deduper
from thrifty.levers.fewer_tokens.compress.spans import code_and_quotes
from thrifty.lint.findings import Finding

_DETAIL = re.compile(
    r"(?i)\b(explain (?:\w+ ){0,3}in (?:great |full |more )?detail|in (?:great|full) detail|"
    r"as much detail as possible|step[- ]by[- ]step|be (?:as )?thorough|elaborate on|"
    r"comprehensive(?:ly)?|at length|walk (?:me|us) through|think out loud)\b"
)
_REASONING = re.compile(
    r"(?i)\b(explain your (?:reasoning|answer|thinking|choice|decision)|show your work|"
    r"justify your (?:answer|choice|decision)|include (?:your |an? |the )?"
    r"(?:reasoning|rationale|explanation|justification))\b"
)
_CONFIDENCE = re.compile(r"(?i)\b(how (?:confident|sure) you are|how confident|confidence level)\b")
_SCALE = re.compile(r"(?i)(low|medium|high|\b0\b|\b1\b|\d+ ?%|scale|between)")


def lint_prompt(text: str, *, source: str | None = None) -> list[Finding]:
    """Findings for the prompt ``text``, by line."""
    # Code and quoted text are not instructions: blanked out (lines kept) before reading.
    blanked = list(text)
    for start, end in code_and_quotes(text):
        blanked[start:end] = [c if c == "\n" else " " for c in text[start:end]]
    findings: list[Finding] = []
    for number, line in enumerate("".join(blanked).split("\n"), start=1):
        where = f"line {number}"
        for match in _DETAIL.finditer(line):
            findings.append(
                Finding(
                    "PRM001",
                    where,
                    f'"{match.group(0)}" asks for a long answer, paid per output token',
                    'ask for what you will use, with a bound ("in at most 3 sentences")',
                    source,
                )
            )
        for match in _REASONING.finditer(line):
            findings.append(
                Finding(
                    "PRM002",
                    where,
                    f'"{match.group(0)}" puts the reasoning in the answer, on every call',
                    "ask for the answer only; if reasoning is needed, use a reasoning model's "
                    "effort setting or a field with a maxLength",
                    source,
                )
            )
        confidence = _CONFIDENCE.search(line)
        if confidence and not _SCALE.search(line):
            findings.append(
                Finding(
                    "PRM003",
                    where,
                    f'"{confidence.group(0)}" with no scale: the model answers in words',
                    'give a scale ("low, medium or high")',
                    source,
                )
            )
    findings.extend(_repeated(text, source))
    return sorted(findings, key=lambda f: (int(f.path.split()[1]), f.code))


def _repeated(text: str, source: str | None) -> list[Finding]:
    deduper = Deduper()
    deduper.text(text, "the prompt")
    out: list[Finding] = []
    searched = 0
    # Line numbers by bisection over the line breaks, and each repeated text's first place
    # found once: counting the breaks from the start for each repeat cost time in the
    # square of the prompt's length on a prompt of many repeats.
    breaks = [i for i, c in enumerate(text) if c == "\n"] if deduper.removals else []
    firsts: dict[str, int] = {}
    for removal in deduper.removals:
        needle = removal.removed.removesuffix("...")
        first = firsts.get(needle)
        if first is None:
            first = firsts[needle] = text.find(needle)
        again = text.find(needle, max(first + 1, searched))
        searched = again + 1
        out.append(
            Finding(
                "PRM004",
                f"line {bisect_left(breaks, again) + 1}",
                f"repeats line {bisect_left(breaks, first) + 1}: paid for on every call",
                "say it once (the compression lever removes repeats: [levers.compress])",
                source,
            )
        )
    return out
