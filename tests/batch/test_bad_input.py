"""Bad lines are refused before anything is uploaded, each named with its reason; the valid
lines stay submittable on their own."""

from __future__ import annotations

import orjson
import pytest

from tests.batch.conftest import Harness, anthropic_line, openai_line, submissions
from thrifty.batch import Batches, limits
from thrifty.batch.lines import parse_lines
from thrifty.errors import BadRequest

BAD = [
    openai_line("ok1", "fine"),
    b"{not json",
    b"[1, 2]",
    orjson.dumps({"method": "POST", "body": {}}),  # no custom_id
    openai_line("ok1", "same id again"),
    openai_line("m", "x", model="gpt-nonexistent-9").replace(b"gpt-", b"zz-"),
    openai_line("s", "x", stream=True),
    orjson.dumps({"custom_id": "u", "method": "POST", "url": "/v1/embeddings", "body": {}}),
    orjson.dumps({"custom_id": "g", "method": "GET", "url": "/v1/chat/completions", "body": {}}),
    orjson.dumps({"custom_id": "e", "body": {"model": "gpt-4o", "messages": "hi"}}),
    openai_line("d", "x", model="claude-haiku-4-5"),  # an Anthropic model in OpenAI shape
    b"",  # blank: skipped, still counted as a line
    anthropic_line("ok2", "fine too"),
]


async def test_each_bad_line_is_named_with_why_and_valid_ones_are_sent(harness: Harness) -> None:
    async with harness.runtime() as thrifty, Batches.of(thrifty) as batches:
        parsed = batches.check(BAD)
        assert [i.custom_id for i in parsed.items] == ["ok1", "ok2"]
        found = {b.line: b.reason for b in parsed.bad}
        assert sorted(found) == [2, 3, 4, 5, 6, 7, 8, 9, 10, 11]
        assert found[2].startswith("malformed JSON")
        assert found[3] == "not a JSON object"
        assert "custom_id" in found[4]
        assert found[5] == "duplicate custom_id"
        assert found[6].startswith("unknown model 'zz-nonexistent-9'")
        assert found[7] == "stream is not supported in a batch"
        assert "chat completions only" in found[8]
        assert found[9] == "method must be POST"
        assert found[10].startswith("invalid request:")
        assert "anthropic dialect" in found[11]
        assert parsed.report().splitlines()[0].startswith("line 2: malformed JSON")
        assert submissions(harness.sim) == 0  # checking sends nothing
        submitted = await batches.submit(BAD)
        assert submitted.handle is not None and len(submitted.parsed.bad) == 10
        items = await submitted.handle.wait(0.01)
        assert [(i.custom_id, i.state) for i in items] == [
            ("ok1", "succeeded"),
            ("ok2", "succeeded"),
        ]
        assert len(thrifty.ledger.rows()) == 2


async def test_a_file_of_bad_lines_submits_nothing(harness: Harness) -> None:
    async with harness.runtime() as thrifty, Batches.of(thrifty) as batches:
        submitted = await batches.submit([b"{", b"nope"])
        assert submitted.handle is None and len(submitted.parsed.bad) == 2
        await batches.runner.step()
    assert submissions(harness.sim) == 0


def test_a_request_over_the_provider_limit_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    small = limits.JobLimits("OpenAI Batch API", 50_000, 200)
    monkeypatch.setitem(limits.LIMITS, "openai", small)
    parsed = parse_lines(
        [openai_line("big", "x" * 500), openai_line("small", "x")],
        lambda model: ("openai", "openai"),
    )
    assert [i.custom_id for i in parsed.items] == ["small"]
    assert (
        parsed.bad[0].reason.startswith("request of") and "OpenAI Batch API" in parsed.bad[0].reason
    )


def test_lines_past_the_submission_bounds_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("thrifty.batch.lines.MAX_SUBMISSION_LINES", 2)
    parsed = parse_lines(
        [openai_line(f"r{i}", "x") for i in range(4)], lambda model: ("openai", "openai")
    )
    assert len(parsed.items) == 2
    assert [(b.line, b.reason) for b in parsed.bad] == [
        (3, "past the submission's size limits"),
        (4, "past the submission's size limits"),
    ]


def test_jobs_are_cut_within_lines_and_bytes() -> None:
    class Sized:
        def __init__(self, size: int) -> None:
            self.size = size

    cut = limits.JobLimits("test", 3, 2000)
    sizes = [100, 100, 100, 100, 600, 600, 10]
    jobs = list(limits.chunks([Sized(s) for s in sizes], cut))
    # with 256 bytes of wrapping a line: 3 x 356 (the count bound), 356 + 856 (the next
    # 856 would pass 2000 bytes), 856 + 266
    assert [[s.size for s in job] for job in jobs] == [[100, 100, 100], [100, 600], [600, 10]]
    for job in jobs:
        assert len(job) <= 3 and sum(s.size + limits.LINE_OVERHEAD for s in job) <= 2000


async def test_task_and_tenant_must_be_labels(harness: Harness) -> None:
    async with harness.runtime() as thrifty, Batches.of(thrifty) as batches:
        for bad in ({"task": "no spaces"}, {"tenant": "x" * 500}):
            with pytest.raises(BadRequest):
                await batches.submit([openai_line("a", "x")], **bad)
    assert submissions(harness.sim) == 0
