"""``thrifty sim`` as a real process: both wire formats, and the added latency."""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from tests.cli.conftest import HOST, clean_env, pick_port, thrifty_process

LATENCY_MS = 30.0


def test_sim_process_answers_both_dialects_with_latency(tmp_path: Path) -> None:
    port = pick_port()
    args = ["sim", "--host", HOST, "--port", str(port), "--latency-ms", str(int(LATENCY_MS))]
    with (
        thrifty_process(args, port=port, cwd=tmp_path, env=clean_env()) as sim,
        httpx.Client(base_url=sim.url, timeout=10.0) as client,
    ):
        assert "simulator on" in sim.stderr()

        started = time.perf_counter()
        openai = client.post(
            "/v1/chat/completions",
            headers={"authorization": "Bearer anything"},
            json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}]},
        )
        openai_ms = (time.perf_counter() - started) * 1000
        assert openai.status_code == 200, openai.text
        body = openai.json()
        assert body["object"] == "chat.completion"
        assert body["choices"][0]["message"]["content"]
        assert body["usage"]["prompt_tokens"] > 0
        assert openai_ms >= LATENCY_MS

        started = time.perf_counter()
        anthropic = client.post(
            "/v1/messages",
            headers={"x-api-key": "anything", "anthropic-version": "2023-06-01"},
            json={
                "model": "claude-sonnet-4-6",
                "max_tokens": 50,
                "messages": [{"role": "user", "content": "Hi"}],
            },
        )
        anthropic_ms = (time.perf_counter() - started) * 1000
        assert anthropic.status_code == 200, anthropic.text
        message = anthropic.json()
        assert message["type"] == "message"
        assert message["content"][0]["text"]
        assert message["usage"]["input_tokens"] > 0
        assert anthropic_ms >= LATENCY_MS

        stats = client.get("/_sim/stats").json()
        assert stats["requests"] == 2


def test_sim_process_without_latency_is_fast(tmp_path: Path) -> None:
    """The control for the test above: the latency comes from the flag."""
    port = pick_port()
    args = ["sim", "--host", HOST, "--port", str(port)]
    with (
        thrifty_process(args, port=port, cwd=tmp_path, env=clean_env()) as sim,
        httpx.Client(base_url=sim.url, timeout=10.0) as client,
    ):
        best = float("inf")
        for _ in range(5):
            started = time.perf_counter()
            response = client.post(
                "/v1/chat/completions",
                json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}]},
            )
            best = min(best, (time.perf_counter() - started) * 1000)
            assert response.status_code == 200
        assert best < LATENCY_MS
