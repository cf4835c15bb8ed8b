"""``thrifty batch`` end to end: the simulator serves on loopback from its own thread, the
command runs in this one (``main([...])``), as a user would run it."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import orjson
import pytest

from tests.batch.conftest import anthropic_line, openai_line
from thrifty.cli import main
from thrifty.ledger import LedgerStore
from thrifty.sim import SimConfig, SimServer


@pytest.fixture
def sim_url() -> Iterator[str]:
    """A simulator in a thread of its own (the command runs its own event loop)."""
    ready = threading.Event()
    stop: list[asyncio.Event] = []
    urls: list[str] = []

    async def serve() -> None:
        async with SimServer(SimConfig(batch_duration_s=0.0)) as sim:
            urls.append(sim.base_url)
            stop.append(asyncio.Event())
            ready.set()
            await stop[0].wait()

    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
    thread.start()
    assert ready.wait(30)
    yield urls[0]
    loop.call_soon_threadsafe(stop[0].set)
    thread.join(30)
    loop.close()


@pytest.fixture
def config(tmp_path: Path, sim_url: str) -> Path:
    path = tmp_path / "thrifty.toml"
    path.write_text(
        f'openai_base_url = "{sim_url}/v1"\n'
        f'anthropic_base_url = "{sim_url}"\n'
        f'[ledger]\npath = "{tmp_path / "ledger.db"}"\n'
        "[batch]\npoll_interval_s = 0.01\n"
    )
    return path


def write(tmp_path: Path, *lines: bytes) -> Path:
    path = tmp_path / "requests.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def test_submit_status_results(
    tmp_path: Path, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    requests = write(
        tmp_path,
        openai_line("first", "one"),
        b"{broken",
        anthropic_line("second", "two"),
        openai_line("first", "dup id"),
    )
    assert main(["batch", "submit", str(requests), "--config", str(config)]) == 0
    out, err = capsys.readouterr()
    submission = out.strip()
    assert submission.startswith("tb_")
    assert "line 2: malformed JSON" in err and "line 4 (first): duplicate custom_id" in err
    assert main(["batch", "status", submission, "--wait", "--config", str(config)]) == 0
    out, _ = capsys.readouterr()
    assert "100%" in out and "2/2" in out and "succeeded 2" in out
    assert main(["batch", "results", submission, "--config", str(config)]) == 0
    out, _ = capsys.readouterr()
    lines = [orjson.loads(x) for x in out.splitlines()]
    assert [(x["custom_id"], x["status"]) for x in lines] == [
        ("first", "succeeded"),
        ("second", "succeeded"),
    ]
    assert lines[1]["response"]["type"] == "message"
    assert len(LedgerStore(tmp_path / "ledger.db").rows()) == 2
    assert main(["batch", "cancel", submission, "--config", str(config)]) == 0  # done: no-op
    assert main(["batch", "status", "tb_missing", "--config", str(config)]) == 2


def test_submit_of_only_bad_lines_fails(
    tmp_path: Path, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    requests = write(tmp_path, b"nope")
    assert main(["batch", "submit", str(requests), "--config", str(config)]) == 1
    assert "every line was rejected" in capsys.readouterr().err


def test_estimate_prints_both_prices_and_names_unpriced_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "thrifty.toml"
    config.write_text(
        '[providers.openai]\ndialect = "openai"\nbase_url = "http://127.0.0.1:9/v1"\n'
        'models = ["gpt-*", "mystery-*"]\nprice_provider = "openai"\n'
    )
    text = "word " * 400  # 2,000 bytes
    # messages, system, tools as compact JSON: the text plus 42 bytes of wrapping,
    # [[{"role":"user","content":"..."}],null,null], 2,042 bytes: 511 tokens at 4 a token
    wrapping = len('[[{"role":"user","content":""}],null,null]')
    assert wrapping == 42
    requests = write(
        tmp_path,
        openai_line("a", text, model="gpt-4o", max_tokens=100),
        openai_line("b", text, model="gpt-4o", max_tokens=100),  # identical: sent once
        openai_line("c", "x", model="mystery-model"),
        b"{",
    )
    assert main(["batch", "estimate", str(requests), "--json", "--config", str(config)]) == 0
    found = orjson.loads(capsys.readouterr().out)
    # one gpt-4o line of 511 input and 100 output tokens: 2.50/10 interactive, half batch
    interactive = (511 * Decimal("2.5") + 100 * Decimal(10)) / 1_000_000
    assert Decimal(found["interactive_usd"]) == interactive
    assert Decimal(found["batch_usd"]) == interactive / 2
    assert (found["lines"], found["sent"]) == (3, 2)
    assert found["unpriced"] == [{"line": 3, "custom_id": "c", "model": "mystery-model"}]
    assert found["rejected"][0]["line"] == 4
    assert main(["batch", "estimate", str(requests), "--config", str(config)]) == 0
    text_out = capsys.readouterr().out
    assert "interactive: $" in text_out and "line 3 (c): mystery-model" in text_out


def test_submit_on_the_built_in_simulator_says_to_wait(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "thrifty.toml"
    config.write_text(
        f'simulate = true\n[ledger]\npath = "{tmp_path / "ledger.db"}"\n'
        "[batch]\npoll_interval_s = 0.05\n"
    )
    requests = write(tmp_path, openai_line("a", "x"))
    assert main(["batch", "submit", str(requests), "--config", str(config)]) == 0
    out, err = capsys.readouterr()
    first = out.strip()
    assert "use --wait" in err
    assert main(["batch", "submit", str(requests), "--wait", "--config", str(config)]) == 0
    err = capsys.readouterr().err
    assert "use --wait" not in err and "100%" in err
    # The first submission's job died with its simulator: a later poller finds it unknown
    # (404) and sends its item again, to the simulator of the day.
    assert main(["batch", "status", first, "--wait", "--config", str(config)]) == 0
    rows = LedgerStore(tmp_path / "ledger.db").rows()
    assert len(rows) == 2 and all(r.status == 200 and r.cost_usd for r in rows)
