"""Usage normalisation: each regression test is named for the bug it guards."""

from __future__ import annotations

import copy

import pytest

from thrifty.providers.usage import (
    AnthropicStreamUsage,
    OpenAIStreamUsage,
    is_openai_search_model,
    openai_server_tools,
    server_tools_from_anthropic,
    service_tier,
    usage_from_anthropic,
    usage_from_openai,
)
from thrifty.types import Usage

from .wire_payloads import (
    ANTHROPIC_CACHE_READ_USAGE,
    ANTHROPIC_CACHED_MESSAGE,
    ANTHROPIC_STREAM_EVENTS,
    ANTHROPIC_WEB_SEARCH_STREAM,
    ANTHROPIC_WEB_SEARCH_USAGE,
    OPENAI_CACHED_COMPLETION,
    OPENAI_REASONING_USAGE,
    OPENAI_SEARCH_COMPLETION,
    OPENAI_STREAM_CHUNKS,
    OPENAI_STREAM_USAGE,
)


def test_openai_prompt_tokens_include_cached_tokens() -> None:
    usage = usage_from_openai(OPENAI_CACHED_COMPLETION["usage"])
    assert usage == Usage(input_tokens=2006, output_tokens=300, cache_read_tokens=1920)
    assert usage.uncached_input_tokens == 86


def test_openai_completion_tokens_include_reasoning_tokens() -> None:
    usage = usage_from_openai(OPENAI_REASONING_USAGE)
    assert usage.output_tokens == 1186
    assert usage.reasoning_tokens == 1024
    assert usage.total_tokens == 1261


def test_openai_missing_or_null_details_count_as_zero() -> None:
    bare = {"prompt_tokens": 10, "completion_tokens": 2, "total_tokens": 12}
    assert usage_from_openai(bare) == Usage(input_tokens=10, output_tokens=2)
    nulls = {**bare, "prompt_tokens_details": None, "completion_tokens_details": None}
    assert usage_from_openai(nulls) == Usage(input_tokens=10, output_tokens=2)
    inner_nulls = {
        **bare,
        "prompt_tokens_details": {"cached_tokens": None},
        "completion_tokens_details": {"reasoning_tokens": None},
    }
    assert usage_from_openai(inner_nulls) == Usage(input_tokens=10, output_tokens=2)


def test_anthropic_input_tokens_exclude_cache_tokens() -> None:
    usage = usage_from_anthropic(ANTHROPIC_CACHED_MESSAGE["usage"])
    assert usage == Usage(
        input_tokens=21 + 188086,
        output_tokens=393,
        cache_write_5m_tokens=188086,
    )
    assert usage.uncached_input_tokens == 21


def test_cache_reads_billed_as_full_input() -> None:
    # OpenAI: the cached part of prompt_tokens must be split out, not billed as input.
    openai = usage_from_openai(OPENAI_CACHED_COMPLETION["usage"])
    assert openai.cache_read_tokens == 1920
    assert openai.uncached_input_tokens == 2006 - 1920
    # Anthropic: cache reads are a separate field, and must land in cache_read_tokens.
    anthropic = usage_from_anthropic(ANTHROPIC_CACHE_READ_USAGE)
    assert anthropic.cache_read_tokens == 188086
    assert anthropic.uncached_input_tokens == 21
    assert anthropic.input_tokens == 188107


def test_cache_writes_counted_twice() -> None:
    # creation tokens appear both as cache_creation_input_tokens and in the breakdown:
    # they are ONE set of tokens, split by lifetime, not two additions to the input.
    u = {
        "input_tokens": 10,
        "cache_creation_input_tokens": 3000,
        "cache_read_input_tokens": 0,
        "cache_creation": {"ephemeral_5m_input_tokens": 1000, "ephemeral_1h_input_tokens": 2000},
        "output_tokens": 5,
    }
    usage = usage_from_anthropic(u)
    assert usage.input_tokens == 3010
    assert (usage.cache_write_5m_tokens, usage.cache_write_1h_tokens) == (1000, 2000)
    assert usage.cache_write_tokens == 3000
    # Streamed: message_start and a message_delta repeating the same cache fields.
    acc = AnthropicStreamUsage()
    acc.feed({"type": "message_start", "message": {"usage": {**u, "output_tokens": 1}}})
    acc.feed({"type": "message_delta", "delta": {}, "usage": u})
    assert acc.usage == usage


def test_anthropic_cache_creation_without_breakdown_is_all_5m() -> None:
    u = {"input_tokens": 4, "cache_creation_input_tokens": 50, "output_tokens": 1}
    usage = usage_from_anthropic(u)
    assert (usage.cache_write_5m_tokens, usage.cache_write_1h_tokens) == (50, 0)


def test_anthropic_thinking_tokens_are_reasoning() -> None:
    u = {"input_tokens": 4, "output_tokens": 100, "output_tokens_details": {"thinking_tokens": 60}}
    assert usage_from_anthropic(u).reasoning_tokens == 60


def test_cached_tokens_counted_twice_in_streamed_usage() -> None:
    # Real OpenAI stream: usage null on content chunks, then one usage-only chunk.
    acc = OpenAIStreamUsage()
    for chunk in OPENAI_STREAM_CHUNKS:
        if chunk is not None:
            acc.feed(chunk)
    assert acc.usage == usage_from_openai(OPENAI_STREAM_USAGE)
    assert acc.usage.input_tokens == 1117  # not 1117 + 1024
    # A compatible server repeating cumulative usage on every chunk: the last one wins.
    acc = OpenAIStreamUsage()
    for n in (1, 2, 3):
        chunk = copy.deepcopy(OPENAI_STREAM_CHUNKS[1])
        assert chunk is not None
        chunk["usage"] = {**OPENAI_STREAM_USAGE, "completion_tokens": n, "total_tokens": 1117 + n}
        assert acc.feed(chunk)
    assert acc.usage == Usage(input_tokens=1117, output_tokens=3, cache_read_tokens=1024)


def test_cache_tokens_left_out_of_streamed_totals() -> None:
    # message_delta only carries output_tokens: the message_start cache fields must survive.
    acc = AnthropicStreamUsage()
    for event in ANTHROPIC_STREAM_EVENTS:
        acc.feed(event)
    assert acc.usage == Usage(
        input_tokens=25 + 2048 + 300,
        output_tokens=15,
        cache_read_tokens=2048,
        cache_write_5m_tokens=100,
        cache_write_1h_tokens=200,
    )


def test_anthropic_stream_delta_output_is_cumulative_not_added() -> None:
    acc = AnthropicStreamUsage()
    acc.feed(ANTHROPIC_STREAM_EVENTS[0])
    for total in (5, 9, 15):
        acc.feed({"type": "message_delta", "delta": {}, "usage": {"output_tokens": total}})
    assert acc.usage.output_tokens == 15


def test_anthropic_stream_delta_repeating_input_fields_takes_latest() -> None:
    acc = AnthropicStreamUsage()
    acc.feed(ANTHROPIC_STREAM_EVENTS[0])
    acc.feed(
        {
            "type": "message_delta",
            "delta": {"stop_reason": "tool_use", "stop_sequence": None},
            "usage": {
                "input_tokens": 25,
                "cache_creation_input_tokens": 300,
                "cache_read_input_tokens": 2048,
                "output_tokens": 47,
            },
        }
    )
    assert acc.usage.input_tokens == 25 + 300 + 2048
    assert acc.usage.cache_write_1h_tokens == 200  # breakdown from message_start kept
    assert acc.usage.output_tokens == 47


def test_stream_accumulators_ignore_other_events() -> None:
    acc = AnthropicStreamUsage()
    assert not acc.feed({"type": "ping"})
    assert not acc.feed({"type": "content_block_delta", "delta": {}})
    assert acc.usage == Usage()
    oacc = OpenAIStreamUsage()
    assert not oacc.feed({"choices": [], "usage": None})
    assert not oacc.seen


# -- billing facts besides tokens --------------------------------------------------------


def test_service_tier_is_what_the_response_reports_lower_cased() -> None:
    assert service_tier(OPENAI_CACHED_COMPLETION["service_tier"]) == "default"
    assert service_tier(ANTHROPIC_CACHED_MESSAGE["usage"]["service_tier"]) == "standard"
    assert service_tier("Priority") == "priority"
    assert service_tier(None) is None
    assert service_tier("") is None
    assert service_tier(3) is None


def test_anthropic_server_tool_use_counts_web_searches() -> None:
    assert server_tools_from_anthropic(ANTHROPIC_WEB_SEARCH_USAGE) == {"web_search": 1}
    both = {"server_tool_use": {"web_search_requests": 3, "web_fetch_requests": 2}}
    assert server_tools_from_anthropic(both) == {"web_search": 3, "web_fetch": 2}
    zeros = {"server_tool_use": {"web_search_requests": 0, "web_fetch_requests": 0}}
    assert server_tools_from_anthropic(zeros) == {}
    assert server_tools_from_anthropic(ANTHROPIC_CACHED_MESSAGE["usage"]) == {}
    assert server_tools_from_anthropic({"server_tool_use": None}) == {}


def test_web_search_usage_does_not_change_token_counts() -> None:
    usage = usage_from_anthropic(ANTHROPIC_WEB_SEARCH_USAGE)
    assert usage == Usage(
        input_tokens=105 + 7123 + 7345,
        output_tokens=6039,
        cache_read_tokens=7123,
        cache_write_5m_tokens=7345,
    )


@pytest.mark.parametrize(
    ("model", "search"),
    [
        ("gpt-4o-search-preview", True),
        ("gpt-4o-search-preview-2025-03-11", True),
        ("gpt-4o-mini-search-preview", True),
        ("gpt-5-search-api", True),
        ("gpt-5-search-api-2025-10-14", True),
        ("openai/gpt-4o-search-preview", True),
        ("gpt-4o", False),
        ("gpt-5", False),
        ("gpt-4o-mini", False),
    ],
)
def test_openai_search_models(model: str, search: bool) -> None:
    assert is_openai_search_model(model) is search
    assert openai_server_tools(model) == ({"web_search": 1} if search else {})


def test_openai_search_counts_once_per_call_whichever_name_says_so() -> None:
    assert openai_server_tools("gpt-4o-search-preview-2025-03-11", "alias") == {"web_search": 1}
    assert openai_server_tools(None, "gpt-5-search-api") == {"web_search": 1}
    assert openai_server_tools(OPENAI_SEARCH_COMPLETION["model"]) == {"web_search": 1}


def test_openai_stream_notes_the_chunks_service_tier() -> None:
    stream = OpenAIStreamUsage()
    for chunk in OPENAI_STREAM_CHUNKS:
        if chunk is not None:
            stream.feed({**chunk, "service_tier": "Flex"})
    assert stream.service_tier == "flex"
    bare = OpenAIStreamUsage()
    bare.feed(OPENAI_STREAM_CHUNKS[0] or {})
    assert bare.service_tier is None


def test_anthropic_stream_usage_is_final_only_with_message_delta() -> None:
    stream = AnthropicStreamUsage()
    start, *middle, delta, _stop = ANTHROPIC_WEB_SEARCH_STREAM
    stream.feed(start)
    assert stream.started and not stream.final
    assert stream.usage.output_tokens == 3  # message_start's placeholder
    assert stream.service_tier == "priority"
    assert stream.server_tools == {}
    for event in middle:
        assert not stream.feed(event)
    stream.feed(delta)
    assert stream.final
    assert stream.usage == Usage(input_tokens=10682, output_tokens=510)
    assert stream.server_tools == {"web_search": 1}
    assert stream.service_tier == "priority"  # message_delta did not repeat it
