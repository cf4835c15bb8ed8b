"""BoundedMemo: a text-keyed memo bounded by its keys' characters, least recent out first."""

from __future__ import annotations

import pytest

from thrifty.bounded_memo import BoundedMemo


def test_a_kept_value_is_found_and_a_missing_key_is_none() -> None:
    memo: BoundedMemo[int] = BoundedMemo(max_chars=10)
    memo.put("abc", 3)
    assert memo.get("abc") == 3
    assert memo.get("abd") is None
    assert len(memo) == 1 and memo.held_chars == 3


def test_the_oldest_entries_leave_when_the_keys_exceed_the_budget() -> None:
    memo: BoundedMemo[str] = BoundedMemo(max_chars=10)
    memo.put("aaaa", "a")  # 4
    memo.put("bbbb", "b")  # 8
    memo.put("ccc", "c")  # 11 > 10: "aaaa" leaves, 7 held
    assert "aaaa" not in memo
    assert memo.get("bbbb") == "b" and memo.get("ccc") == "c"
    assert memo.held_chars == 7


def test_a_key_read_again_is_recent_and_outlives_an_older_one() -> None:
    memo: BoundedMemo[int] = BoundedMemo(max_chars=9)
    memo.put("aaa", 1)
    memo.put("bbb", 2)
    memo.put("ccc", 3)  # 9 held: full
    assert memo.get("aaa") == 1  # now the most recent: "bbb" is the oldest
    memo.put("dd", 4)  # 11 > 9: "bbb" leaves, 8 held
    assert "bbb" not in memo
    assert list(memo) == ["ccc", "aaa", "dd"]  # least recent first
    assert [memo.get(k) for k in ("aaa", "ccc", "dd")] == [1, 3, 4]
    assert memo.held_chars == 8


def test_membership_does_not_make_a_key_recent() -> None:
    memo: BoundedMemo[int] = BoundedMemo(max_chars=6)
    memo.put("aaa", 1)
    memo.put("bbb", 2)
    assert "aaa" in memo
    memo.put("c", 3)  # 7 > 6: "aaa" is still the oldest
    assert "aaa" not in memo and "bbb" in memo


def test_a_key_longer_than_the_budget_is_not_kept_and_evicts_nothing() -> None:
    memo: BoundedMemo[int] = BoundedMemo(max_chars=5)
    memo.put("ab", 1)
    memo.put("x" * 6, 2)
    assert "x" * 6 not in memo
    assert memo.get("ab") == 1 and memo.held_chars == 2
    memo.put("y" * 5, 3)  # exactly the budget: kept, "ab" leaves
    assert memo.get("y" * 5) == 3 and "ab" not in memo and memo.held_chars == 5


def test_putting_a_kept_key_again_replaces_its_value_and_counts_it_once() -> None:
    memo: BoundedMemo[int] = BoundedMemo(max_chars=6)
    memo.put("aaa", 1)
    memo.put("bbb", 2)
    memo.put("aaa", 10)  # replaced, now the most recent; still 6 held
    assert memo.held_chars == 6 and len(memo) == 2
    memo.put("c", 3)  # 7 > 6: "bbb" (the oldest) leaves, not "aaa"
    assert memo.get("aaa") == 10 and "bbb" not in memo


def test_a_none_value_is_kept_and_made_recent() -> None:
    memo: BoundedMemo[int | None] = BoundedMemo(max_chars=4)
    memo.put("aa", None)
    memo.put("bb", 1)
    assert "aa" in memo and memo.get("aa") is None  # read: now the most recent
    memo.put("c", 2)  # 5 > 4: "bb" leaves
    assert "aa" in memo and "bb" not in memo


def test_a_zero_budget_keeps_only_the_empty_key_and_a_negative_one_is_refused() -> None:
    memo: BoundedMemo[int] = BoundedMemo(max_chars=0)
    memo.put("a", 1)
    memo.put("", 2)
    assert len(memo) == 1 and memo.get("") == 2
    with pytest.raises(ValueError, match="at least 0"):
        BoundedMemo(max_chars=-1)
