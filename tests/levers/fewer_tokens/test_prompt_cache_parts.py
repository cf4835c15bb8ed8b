"""The planner's parts: the TTL arithmetic, the reuse tracker's bounds, volatile lines,
tool forms and churn."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from thrifty.levers.fewer_tokens.prompt_cache.anthropic import minimum_cacheable_tokens
from thrifty.levers.fewer_tokens.prompt_cache.prefix import PrefixChurn, ToolForms, chain
from thrifty.levers.fewer_tokens.prompt_cache.reuse import ReuseTracker, TtlPolicy, choose_ttl
from thrifty.levers.fewer_tokens.prompt_cache.volatile import split_volatile

POLICY = TtlPolicy()


def ttl_after(gaps: list[float], policy: TtlPolicy = POLICY) -> str | None:
    tracker = ReuseTracker(10)
    now = 0.0
    before, after = tracker.observe("p", now)
    for gap in gaps:
        now += gap
        before, after = tracker.observe("p", now)
    return choose_ttl(before, after, now, policy)


@pytest.mark.parametrize(
    ("gaps", "ttl"),
    [
        ([], None),  # never seen before
        ([60], "5m"),
        ([300], "5m"),
        ([301], None),  # 5m would expire first; 1h must pay twice: wait
        ([1200, 1200], "1h"),  # seen twice before, 20 minutes apart
        ([3600, 3600], "1h"),
        ([3601, 3601], None),  # rarer than hourly: never pays
        ([30, 30, 3000], "1h"),  # smoothed gap 1515 s after 3 uses
        ([30, 30, 30, 9000], None),  # smoothed gap 4515 s: past the hour
    ],
)
def test_ttl_choice(gaps: list[float], ttl: str | None) -> None:
    assert ttl_after(gaps) == ttl


def test_first_sight_policy() -> None:
    assert ttl_after([], TtlPolicy(first_sight=True)) == "5m"


def test_a_live_entry_is_kept_and_refreshed_by_each_read() -> None:
    tracker = ReuseTracker(10)
    tracker.observe("p", 0)
    tracker.cached("p", 0, "1h")
    before, after = tracker.observe("p", 3_000)
    assert choose_ttl(before, after, 3_000, POLICY) == "1h"
    tracker.cached("p", 3_000, "1h")  # read at 3000: alive until 6600
    before, after = tracker.observe("p", 6_500)
    assert choose_ttl(before, after, 6_500, POLICY) == "1h"
    # expired (nothing placed at 6500) and now rarer than hourly on average: not cached
    before, after = tracker.observe("p", 6_500 + 7_300)
    assert choose_ttl(before, after, 13_800, POLICY) is None


def test_a_1h_entry_is_not_shortened_by_a_5m_read() -> None:
    tracker = ReuseTracker(10)
    tracker.observe("p", 0)
    tracker.cached("p", 0, "1h")
    tracker.cached("p", 10, "5m")
    found = tracker.get("p")
    assert found is not None and (found.ttl, found.cached_until) == ("1h", 3_610)


def test_the_tracker_is_bounded() -> None:
    tracker = ReuseTracker(3)
    for n in range(10):
        tracker.observe(f"p{n}", n)
    assert len(tracker) == 3
    assert tracker.get("p0") is None and tracker.get("p9") is not None
    with pytest.raises(ValueError):
        ReuseTracker(0)


def test_minimums_by_model() -> None:
    assert minimum_cacheable_tokens("claude-sonnet-4-6") == 1024
    assert minimum_cacheable_tokens("claude-opus-4-1") == 1024
    assert minimum_cacheable_tokens("claude-opus-4-5-20251101") == 4096
    assert minimum_cacheable_tokens("claude-haiku-4-5") == 4096
    assert minimum_cacheable_tokens("claude-3-5-haiku-latest") == 2048
    assert minimum_cacheable_tokens("anthropic/claude-3-haiku-20240307") == 2048


@pytest.mark.parametrize(
    ("text", "stable", "volatile"),
    [
        ("Date: 2026-11-30\nYou help.", "You help.", "Date: 2026-11-30"),
        (
            "You help.\nNow: 2026-11-30T10:00:00Z\nBe kind.",
            "You help.\nBe kind.",
            "Now: 2026-11-30T10:00:00Z",
        ),
        ("Now: 2026-11-30 10:00\nA\nB", "A\nB", "Now: 2026-11-30 10:00"),
    ],
)
def test_volatile_lines_move(text: str, stable: str, volatile: str) -> None:
    split = split_volatile(text)
    assert split is not None
    assert (split.stable, split.volatile) == (stable, volatile)


@pytest.mark.parametrize(
    "text",
    [
        "No dates here.",
        "You help.\nDate: 2026-11-30",  # already last
        "Date: 2026-11-30",  # nothing but the date
        "```\nrelease 2026-11-30\n```\nYou help.",  # inside code: never touched
        "Version 12026-11-305 of the rules.\nYou help.",  # not a date
        "Our policy since 2026-01-01 is long: " + "x" * 200 + "\nYou help.",  # a paragraph
        "2026-13-01 is not a month\nYou help.",
        "\n".join(f"Day {d}: 2026-11-0{d}" for d in range(1, 6)) + "\nYou help.",  # too many
    ],
)
def test_what_is_not_moved(text: str) -> None:
    assert split_volatile(text) is None


def test_tool_forms_keep_the_first_and_are_bounded() -> None:
    forms = ToolForms(2)
    a = [{"name": "a", "x": 1, "y": 2}, {"name": "b"}]
    assert forms.stable_json(a)[0] is a
    b = [{"name": "b"}, {"y": 2, "x": 1, "name": "a"}]
    assert forms.stable_json(b)[0] is a
    assert forms.stable_json([{"name": "c"}])[0] == [{"name": "c"}]
    assert forms.stable_json([{"name": "d"}])[0] == [{"name": "d"}]  # evicts a's set
    assert forms.stable_json(b)[0] is b


def test_churn_window_and_bound() -> None:
    churn = PrefixChurn(window=3, max_groups=2)
    assert [churn.unstable(("t", "m"), k) for k in "abc"] == [False, False, True]
    assert churn.unstable(("t", "m"), "a") is True  # b, c, a: all distinct
    assert churn.unstable(("t", "m"), "a") is False
    churn.unstable(("u", "m"), "x")
    churn.unstable(("v", "m"), "x")
    assert len(churn._recent) == 2


def test_chain_is_order_sensitive() -> None:
    assert chain(chain("s", "a"), "b") != chain(chain("s", "b"), "a")
    assert chain("s", {"k": 1}) == chain("s", {"k": 1})


def test_volatile_splits_are_remembered_within_their_bound() -> None:
    from thrifty.levers.fewer_tokens.prompt_cache.volatile import VolatileSplits, split_volatile

    prompts = [f"You help with orders.\nToday is 2026-11-{day:02d}.\nBe brief." for day in (1, 2)]
    splits = VolatileSplits(max_chars=len(prompts[0]) + 10)
    for prompt in [*prompts, *prompts, "No date here."]:
        assert splits(prompt) == split_volatile(prompt)
    assert splits._done.held_chars <= len(prompts[0]) + 10
    assert list(splits._done) == ["No date here."]  # the least recent ones went first
    assert splits(prompts[0] + "x" * 100) is not None  # longer than the bound: not kept
    assert prompts[0] + "x" * 100 not in splits._done


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(alphabet="0123456789-T:Z \n`x", max_size=80), max_size=6))
def test_volatile_splits_answer_as_split_volatile(prompts: list[str]) -> None:
    from thrifty.levers.fewer_tokens.prompt_cache.volatile import VolatileSplits, split_volatile

    splits = VolatileSplits(max_chars=120)
    for prompt in [*prompts, *reversed(prompts)]:
        assert splits(prompt) == split_volatile(prompt)


def test_tool_sets_whose_hashes_collide_keep_their_own_forms(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every hash the same (the worst collision): each caller still gets its own tools,
    never the first form of another set (the set was once keyed by a 64-bit hash)."""
    from thrifty.levers.fewer_tokens.prompt_cache import prefix

    monkeypatch.setattr(prefix, "hash", lambda value: 0, raising=False)
    forms = ToolForms(4)
    mine = [{"name": "refund", "parameters": {"type": "object"}}]
    theirs = [{"name": "delete_account", "parameters": {"type": "object"}}]
    assert forms.stable_json(mine)[0] is mine
    assert forms.stable_json(theirs)[0] is theirs
    assert forms.stable_json(list(reversed(mine)))[0] == mine
