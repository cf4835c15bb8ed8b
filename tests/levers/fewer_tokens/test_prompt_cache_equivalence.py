"""The planner's faster paths against the code they replaced (kept here): the volatile-line
split, which reads only the lines that hold a date's tail when none can move, and the
prefix hashes and ``prompt_cache_key``, computed from one serialisation of the tools and
the system prompt instead of one per use."""

from __future__ import annotations

import hashlib
import re
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.levers.fewer_tokens.prompt_cache_kit import COUNTER
from thrifty.levers.fewer_tokens.prompt_cache.anthropic import AnthropicPlanner
from thrifty.levers.fewer_tokens.prompt_cache.openai import KEY_PREFIX, OpenAIPlanner
from thrifty.levers.fewer_tokens.prompt_cache.prefix import (
    ToolForms,
    chain,
    chain_json,
    json_bytes,
    stable_digest,
)
from thrifty.levers.fewer_tokens.prompt_cache.reuse import ReuseTracker, TtlPolicy
from thrifty.levers.fewer_tokens.prompt_cache.volatile import (
    MAX_LINE_CHARS,
    MAX_VOLATILE_LINES,
    VolatileSplit,
    split_volatile,
)

# -- the code replaced ------------------------------------------------------------------

_OLD_ISO = re.compile(
    r"(?<![\w-])\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])"
    r"(?:[T ](?:[01]\d|2[0-3]):[0-5]\d(?::[0-5]\d(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?(?![\w-])"
)


def _old_is_volatile(line: str) -> bool:
    may_hold = "-0" in line or "-1" in line
    return len(line) <= MAX_LINE_CHARS and may_hold and _OLD_ISO.search(line) is not None


def old_split_volatile(text: str) -> VolatileSplit | None:
    if not ("-0" in text or "-1" in text):
        return None
    lines = text.split("\n")
    volatile: list[int] = []
    fenced = False
    for index, line in enumerate(lines):
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        if not fenced and _old_is_volatile(line):
            volatile.append(index)
    if not volatile or len(volatile) > MAX_VOLATILE_LINES:
        return None
    moved = set(volatile)
    stable = [line for i, line in enumerate(lines) if i not in moved]
    while stable and not stable[-1].strip():
        stable.pop()
    if not any(line.strip() for line in stable):
        return None
    after_first = range(volatile[0], len(lines))
    if all(i in moved or not lines[i].strip() for i in after_first):
        return None
    return VolatileSplit(
        stable="\n".join(stable),
        volatile="\n".join(lines[i] for i in volatile),
        first_line=volatile[0],
    )


def old_stable_digest(*segments: Any) -> str:
    hasher = hashlib.sha256()
    for segment in segments:
        hasher.update(json_bytes(segment))
        hasher.update(b"\0")
    return hasher.hexdigest()


# -- volatile lines ---------------------------------------------------------------------

_PIECES = [
    "2026-11-30",
    "2026-01-05T10:00:00Z",
    "2026-12-31 23:59",
    "12026-11-305",
    "2026-13-01",
    "-0",
    "-1",
    "-12-31",
    "```",
    "  ```py",
    "\u00a0```",
    "Today: ",
    "x" * 130,
    " ",
    "\t",
    "\r",
    "\x1c",
    "You help.",
    "é",
    "\n",
    "\n\n",
]
texts = st.lists(st.sampled_from(_PIECES), max_size=24).map("".join)


@settings(max_examples=1500, deadline=None)
@given(texts)
def test_volatile_split_is_the_old_one(text: str) -> None:
    assert split_volatile(text) == old_split_volatile(text)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="0123456789-T:Z \n`x", max_size=200))
def test_volatile_split_is_the_old_one_on_date_like_noise(text: str) -> None:
    assert split_volatile(text) == old_split_volatile(text)


# -- one serialisation ------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=8,
)


@settings(max_examples=200, deadline=None)
@given(st.lists(json_values, min_size=1, max_size=4), st.text(max_size=6))
def test_hashes_of_serialised_segments_are_the_old_ones(segments: list[Any], start: str) -> None:
    assert stable_digest(*map(json_bytes, segments)) == old_stable_digest(*segments)
    assert chain_json(start, json_bytes(segments[0])) == chain(start, segments[0])


tool_lists = st.lists(
    st.fixed_dictionaries({"name": st.sampled_from("abcd")}, optional={"x": json_values}),
    min_size=1,
    max_size=3,
)


@settings(max_examples=200, deadline=None)
@given(st.lists(tool_lists, min_size=1, max_size=6))
def test_tool_forms_give_the_bytes_of_the_form_they_return(sets: list[list[Any]]) -> None:
    forms, again = ToolForms(3), ToolForms(3)
    for tools in sets:
        form, form_json = forms.stable_json(tools)
        assert form is again.stable_json(tools)[0]
        assert form_json == json_bytes(form)


systems = st.one_of(
    st.none(),
    st.sampled_from(["You help.", "You help.\nToday: 2026-11-30\nBe brief.", "é" * 40]),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.none() | tool_lists, systems), min_size=1, max_size=5))
def test_openai_key_and_prefix_are_the_old_ones(requests: list[tuple[Any, Any]]) -> None:
    planner = OpenAIPlanner(ToolForms(10), COUNTER)
    for tools, system in requests:
        messages: list[Any] = [{"role": "user", "content": "hi"}]
        if system is not None:
            messages.insert(0, {"role": "system", "content": system})
        body: dict[str, Any] = {"model": "gpt-4o", "messages": messages}
        if tools is not None:
            body["tools"] = tools
        plan = planner.plan(body, "gpt-4o", move_volatile=True, set_key=True)
        sent_tools = plan.body.get("tools") or []
        stable_system = system if not plan.moved_volatile else split_volatile(system).stable  # type: ignore[arg-type, union-attr]
        old_key = chain(chain(chain("openai", "gpt-4o"), sent_tools), stable_system)
        assert plan.stable_key == old_key
        digest = old_stable_digest("gpt-4o", sent_tools, stable_system)
        assert plan.body["prompt_cache_key"] == KEY_PREFIX + digest[:24]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.none() | tool_lists, systems), min_size=1, max_size=5))
def test_anthropic_prefix_and_counts_are_the_old_ones(requests: list[tuple[Any, Any]]) -> None:
    tracker = ReuseTracker(100)
    planner = AnthropicPlanner(tracker, ToolForms(10), COUNTER)
    reference = ToolForms(10)  # the forms the planner's own sees
    for now, (tools, system) in enumerate(requests):
        body: dict[str, Any] = {"messages": [{"role": "user", "content": "hi"}]}
        if tools is not None:
            body["tools"] = tools
        if system is not None:
            body["system"] = system
        plan = planner.plan(body, "claude-sonnet-4-6", float(now), TtlPolicy(), 4, True)
        sent_tools = reference.stable_json(tools)[0] if tools else []  # before any breakpoint
        blocks: list[Any] = [] if not system else [{"type": "text", "text": system}]
        split = split_volatile(system) if system else None
        if split is not None:  # the key is the stable part's (moved or not, in the end)
            blocks = [{"type": "text", "text": split.stable}]
        at_tools = chain(chain("anthropic", "claude-sonnet-4-6"), sent_tools)
        at_system = chain(at_tools, blocks)
        assert plan.stable_key == at_system
        # Each segment counted (or bounded) from the same text as before: its JSON.
        for key, segment in ((at_tools, sent_tools), (at_system, blocks)):
            seen = tracker.get(key)
            if seen is None or seen.segment_tokens is None:
                continue
            text = json_bytes(segment).decode()
            exact = COUNTER.count_text("claude-sonnet-4-6", text).tokens
            # A bound (of the whole text, or of its leading part once that was enough:
            # the breakpoints are those of counting everything, test_prompt_cache_bounds).
            assert (
                seen.segment_tokens == exact
                if seen.segment_exact
                else 0 <= seen.segment_tokens <= exact
            )
