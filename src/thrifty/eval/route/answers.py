"""What a cascade can read in a cheap answer's text: the final answer (for agreement between
answers) and a few signs of a wrong one (arithmetic that does not check out, a final number
that is not whole, hedging, prompt numbers left unused).  Text in, numbers out; no labels.
"""

from __future__ import annotations

import ast
import math
import operator
import re
from collections.abc import Callable

_CHOICE = re.compile(r"\s*\(?([A-E])(?:\)|\.|:|\s|$)")
_CHOICE_STATED = re.compile(r"answer(?: is)?:?\s*\(?([A-E])\b", re.IGNORECASE)
_HASHES = re.compile(r"####\s*\$?\s*(-?[\d,]*\.?\d+)")
_NUMBER = re.compile(r"-?\d[\d,]*\.?\d*")
_CALCULATOR = re.compile(r"<<([^<>=]{1,80})=([^<>]{1,40})>>")
_WRITTEN = re.compile(
    r"(\d[\d,]*\.?\d*(?:\s*[-+*/x×÷]\s*\d[\d,]*\.?\d*)+)\s*=\s*\$?\s*(-?\d[\d,]*\.?\d*)"
)
_HEDGES = re.compile(
    r"\b(approximately|assum\w*|not sure|cannot|can't|unclear|estimate|roughly|however)\b",
    re.IGNORECASE,
)
_BINARY: dict[type[ast.operator], Callable[[float, float], float]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
}
FEATURE_NAMES = (
    "log_chars",
    "log_lines",
    "has_final",
    "final_not_whole",
    "checked_sums",
    "wrong_sums",
    "wrong_share",
    "hedges",
    "prompt_numbers_unused",
    "is_choice",
)


def _number(text: str) -> float | None:
    cleaned = text.replace(",", "").rstrip(".")
    try:
        value = float(cleaned)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _canonical(value: float) -> str:
    return str(int(value)) if value == int(value) and abs(value) < 1e15 else f"{value:.6g}"


def final_answer(text: str) -> str:
    """The answer a response settles on: a choice letter, else the number after ``####``,
    else the last number, else the whitespace-normalised text (for agreement checks)."""
    if match := _CHOICE.match(text) or _CHOICE_STATED.search(text):
        return match.group(1)
    numbers = [m.group(1) for m in _HASHES.finditer(text)] or _NUMBER.findall(text)
    for raw in reversed(numbers):
        if (value := _number(raw)) is not None:
            return _canonical(value)
    return " ".join(text.lower().split())[:500]


def safe_arithmetic(expression: str) -> float | None:
    """The value of a small ``+ - * /`` expression of numbers, or ``None`` for anything
    else (names, calls, huge or malformed input)."""
    expression = expression.replace(",", "").replace("x", "*").replace("×", "*")
    expression = expression.replace("÷", "/").replace("$", "").strip()
    if len(expression) > 80:
        return None
    try:
        tree = ast.parse(expression, mode="eval")
    except SyntaxError:
        return None

    def value(node: ast.AST) -> float:
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
            return float(node.value)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -value(node.operand)
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            return _BINARY[type(node.op)](value(node.left), value(node.right))
        raise ValueError("not arithmetic")

    try:
        result = value(tree.body)
    except (ValueError, ZeroDivisionError, OverflowError):
        return None
    return result if math.isfinite(result) else None


def arithmetic_checks(text: str) -> tuple[int, int]:
    """How many ``a op b = c`` statements (and ``<<a*b=c>>`` calculator notes) the text has,
    and how many of them are wrong."""
    checked = wrong = 0
    pairs = [(m.group(1), m.group(2)) for m in _CALCULATOR.finditer(text)]
    bare = _CALCULATOR.sub(" ", text)  # a calculator note is not counted twice
    pairs += [(m.group(1), m.group(2)) for m in _WRITTEN.finditer(bare)]
    for expression, stated in pairs:
        computed, claimed = safe_arithmetic(expression), _number(stated.strip().lstrip("$"))
        if computed is None or claimed is None:
            continue
        checked += 1
        if abs(computed - claimed) > 1e-6 * max(1.0, abs(computed)) + 0.011:
            wrong += 1
    return checked, wrong


def text_features(prompt: str, response: str) -> list[float]:
    """:data:`FEATURE_NAMES`, in that order."""
    answer = final_answer(response)
    value = _number(answer)
    checked, wrong = arithmetic_checks(response)
    prompt_numbers = {
        _canonical(v) for n in _NUMBER.findall(prompt) if (v := _number(n)) is not None
    }
    response_numbers = {
        _canonical(v) for n in _NUMBER.findall(response) if (v := _number(n)) is not None
    }
    unused = len(prompt_numbers - response_numbers) / len(prompt_numbers) if prompt_numbers else 0.0
    return [
        math.log1p(len(response)),
        math.log1p(response.count("\n")),
        float(bool(response.strip())),
        float(value is not None and value != int(value)),
        math.log1p(checked),
        float(wrong),
        wrong / checked if checked else 0.0,
        float(len(_HEDGES.findall(response))),
        unused,
        float(len(answer) == 1 and answer in "ABCDE"),
    ]
