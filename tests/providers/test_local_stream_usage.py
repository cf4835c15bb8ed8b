"""A local server that streams without usage (llama-cpp-python ignores
``stream_options.include_usage``): its complete stream is booked with estimated counts,
since a local call is $0 whatever the count; a hosted one's stays unreported."""

from __future__ import annotations

from thrifty.providers import HttpPool, build_provider
from thrifty.providers.estimate import estimate_prompt_tokens

from .fake_upstream import KEY, FakeUpstream, Script, drain, openai_request, openai_settings
from .wire_payloads import OPENAI_STREAM_CHUNKS, openai_sse

NO_USAGE = [c for c in OPENAI_STREAM_CHUNKS if c is None or not c.get("usage")]


async def test_a_local_stream_without_usage_is_estimated(
    upstream: FakeUpstream, pool: HttpPool
) -> None:
    upstream.add(Script(chunks=[openai_sse(NO_USAGE)]))
    settings = openai_settings(upstream.url, local=True)
    request = openai_request(stream=True)
    response = await build_provider("llama", settings, pool, api_key=KEY)(request)
    assert response.stream is not None
    booked_at_the_end: list[bool] = []
    async for _ in response.stream:
        if response.stream_complete:  # the ledger books now, before the final batch goes on
            booked_at_the_end.append(response.usage_reported and response.usage_estimated)
    assert booked_at_the_end == [True]
    assert response.usage.input_tokens == estimate_prompt_tokens(request.body)
    assert response.usage.output_tokens > 0


async def test_a_hosted_stream_without_usage_stays_unreported(
    upstream: FakeUpstream, pool: HttpPool
) -> None:
    upstream.add(Script(chunks=[openai_sse(NO_USAGE)]))
    settings = openai_settings(upstream.url)
    response = await build_provider("openai", settings, pool, api_key=KEY)(
        openai_request(stream=True)
    )
    await drain(response)
    assert response.stream_complete
    assert not response.usage_reported and not response.usage_estimated


async def test_a_local_stream_with_usage_keeps_it(upstream: FakeUpstream, pool: HttpPool) -> None:
    upstream.add(Script(chunks=[openai_sse(OPENAI_STREAM_CHUNKS)]))
    settings = openai_settings(upstream.url, local=True)
    response = await build_provider("llama", settings, pool, api_key=KEY)(
        openai_request(stream=True)
    )
    await drain(response)
    assert response.usage_reported and not response.usage_estimated
