"""The shadow samples store: what is kept, bounded, summed and read back."""

from __future__ import annotations

from pathlib import Path

from thrifty.levers.cheaper.shadow.samples import (
    MAX_NAME,
    MAX_TEXT,
    ShadowSample,
    ShadowSamples,
    SqliteShadowSamples,
)


def sample(agreed: bool | None, ts: float = 100.0, **fields: object) -> ShadowSample:
    values: dict[str, object] = {
        "ts": ts,
        "task": "qa",
        "tenant": "acme",
        "request_id": "r1",
        "served_model": "gpt-4o-mini",
        "shadow_model": "gpt-4o",
        "comparator": "exact",
        "agreed": agreed,
        "prompt": "What is 2 + 2?",
        "served_answer": "4",
        "shadow_answer": "4",
        "served_cost_pusd": 270_000_000,
        "shadow_cost_pusd": 4_500_000_000,
        **fields,
    }
    return ShadowSample(**values)  # type: ignore[arg-type]


async def test_samples_are_kept_and_summed_per_task_and_pair(tmp_path: Path) -> None:
    async with SqliteShadowSamples(tmp_path / "shadow.db") as store:
        assert isinstance(store, ShadowSamples)
        await store.add(sample(True))
        await store.add(sample(False, ts=200.0))
        await store.add(sample(None, ts=300.0, shadow_cost_pusd=None, error="upstream: 500"))
        await store.add(sample(True, task="other", judge_cost_pusd=7))
        pairs = await store.summary()
        qa = next(p for p in pairs if p.task == "qa")
        assert (qa.samples, qa.agreed, qa.disagreed, qa.unjudged) == (3, 1, 1, 1)
        assert qa.served_cost_pusd == 3 * 270_000_000 and qa.served_cost_unknown == 0
        assert qa.shadow_cost_pusd == 2 * 4_500_000_000 and qa.shadow_cost_unknown == 1
        other = next(p for p in pairs if p.task == "other")
        assert other.judge_cost_pusd == 7
        listed = await store.samples(task="qa")
        assert [s.agreed for s in listed] == [True, False, None]
        assert listed[0] == sample(True)
        assert listed[2].error == "upstream: 500"


async def test_time_windows_and_limits(tmp_path: Path) -> None:
    async with SqliteShadowSamples(tmp_path / "shadow.db") as store:
        for ts in (100.0, 200.0, 300.0):
            await store.add(sample(True, ts=ts))
        assert [s.ts for s in await store.samples(since=150.0, until=300.0)] == [200.0]
        assert len(await store.samples(limit=2)) == 2
        (pair,) = await store.summary(since=250.0)
        assert pair.samples == 1


async def test_every_text_is_bounded(tmp_path: Path) -> None:
    huge = "x" * (MAX_TEXT * 3)
    async with SqliteShadowSamples(tmp_path / "shadow.db") as store:
        await store.add(
            sample(
                True,
                prompt=huge,
                served_answer=huge,
                shadow_answer=huge,
                task="t" * 1000,
                error="e" * 10_000,
            )
        )
        (kept,) = await store.samples()
    assert len(kept.prompt) == MAX_TEXT
    assert kept.served_answer is not None and len(kept.served_answer) == MAX_TEXT
    assert kept.task is not None and len(kept.task) == MAX_NAME
    assert kept.error is not None and len(kept.error) == 500


async def test_samples_survive_a_reopen(tmp_path: Path) -> None:
    path = tmp_path / "shadow.db"
    async with SqliteShadowSamples(path) as store:
        await store.add(sample(True))
    async with SqliteShadowSamples(path) as store:
        assert len(await store.samples()) == 1
