"""The gateway's own 400s on the OpenAI routes name the field at fault (``param``) and use
OpenAI's codes for the fault (``missing_required_parameter``, ``invalid_type``,
``empty_array``, ``integer_below_min_value``, ``invalid_value``), as the real API does: the
SDK hands both to the app (``BadRequestError.param`` / ``.code``).  Nothing is booked as a
paid call and no upstream is asked."""

from __future__ import annotations

from typing import Any

import httpx
import openai
import pytest

from tests.gateway.conftest import Gateway

USER = [{"role": "user", "content": "hi"}]

CHAT_CASES: dict[str, tuple[dict[str, Any], str | None, str]] = {
    "no model": ({"messages": USER}, "model", "missing_required_parameter"),
    "model not a string": ({"model": 5, "messages": USER}, "model", "invalid_type"),
    "model with a space": ({"model": "gpt 4o", "messages": USER}, "model", "invalid_value"),
    "model too long": (
        {"model": "g" * 300, "messages": USER},
        "model",
        "string_above_max_length",
    ),
    "no messages": ({"model": "gpt-4o-mini"}, "messages", "missing_required_parameter"),
    "messages not an array": (
        {"model": "gpt-4o-mini", "messages": "hi"},
        "messages",
        "invalid_type",
    ),
    "messages empty": ({"model": "gpt-4o-mini", "messages": []}, "messages", "empty_array"),
    "message not an object": (
        {"model": "gpt-4o-mini", "messages": [*USER, "hi"]},
        "messages[1]",
        "invalid_type",
    ),
    "role typo": (
        {"model": "gpt-4o-mini", "messages": [{"role": "usr", "content": "hi"}]},
        "messages[0].role",
        "invalid_value",
    ),
    "content part type": (
        {
            "model": "gpt-4o-mini",
            "messages": [{"role": "user", "content": [{"type": "txt", "text": "hi"}]}],
        },
        "messages[0].content[0].type",
        "invalid_value",
    ),
    "content a number": (
        {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": 5}]},
        "messages[0].content",
        "invalid_type",
    ),
    "stream a string": (
        {"model": "gpt-4o-mini", "messages": USER, "stream": "yes"},
        "stream",
        "invalid_type",
    ),
    "max_tokens 0": (
        {"model": "gpt-4o-mini", "messages": USER, "max_tokens": 0},
        "max_tokens",
        "integer_below_min_value",
    ),
    "max_tokens true": (
        {"model": "gpt-4o-mini", "messages": USER, "max_tokens": True},
        "max_tokens",
        "invalid_type",
    ),
    "n -1": ({"model": "gpt-4o-mini", "messages": USER, "n": -1}, "n", "integer_below_min_value"),
    "body an array": ([1], None, "invalid_type"),  # type: ignore[dict-item]
}

API_CASES: dict[str, tuple[str, dict[str, Any], str, str]] = {
    "responses no input": (
        "/v1/responses",
        {"model": "gpt-4o-mini"},
        "input",
        "missing_required_parameter",
    ),
    "responses input item": (
        "/v1/responses",
        {"model": "gpt-4o-mini", "input": ["hi"]},
        "input[0]",
        "invalid_type",
    ),
    "responses input item type": (
        "/v1/responses",
        {"model": "gpt-4o-mini", "input": [{"role": "user", "content": "hi"}, {"type": ""}]},
        "input[1].type",
        "invalid_value",
    ),
    "responses max_output_tokens": (
        "/v1/responses",
        {"model": "gpt-4o-mini", "input": "hi", "max_output_tokens": 0},
        "max_output_tokens",
        "integer_below_min_value",
    ),
    "embeddings empty input": (
        "/v1/embeddings",
        {"model": "text-embedding-3-small", "input": []},
        "input",
        "empty_array",
    ),
    "embeddings too many inputs": (
        "/v1/embeddings",
        {"model": "text-embedding-3-small", "input": ["a"] * 2049},
        "input",
        "array_above_max_length",
    ),
    "embeddings empty item": (
        "/v1/embeddings",
        {"model": "text-embedding-3-small", "input": ["a", "b", ""]},
        "input[2]",
        "invalid_value",
    ),
    "embeddings item of another type": (
        "/v1/embeddings",
        {"model": "text-embedding-3-small", "input": ["a", 3.5]},
        "input[1]",
        "invalid_type",
    ),
    "embeddings format": (
        "/v1/embeddings",
        {"model": "text-embedding-3-small", "input": "a", "encoding_format": "hex"},
        "encoding_format",
        "invalid_value",
    ),
    "completions no prompt": (
        "/v1/completions",
        {"model": "gpt-3.5-turbo-instruct"},
        "prompt",
        "missing_required_parameter",
    ),
    "completions max_tokens -1": (
        "/v1/completions",
        {"model": "gpt-3.5-turbo-instruct", "prompt": "x", "max_tokens": -1},
        "max_tokens",
        "integer_below_min_value",
    ),
}


@pytest.mark.parametrize("case", list(CHAT_CASES))
async def test_chat_400s_name_the_param_and_openai_code(
    gateway: Gateway, oai: openai.AsyncOpenAI, case: str
) -> None:
    body, param, code = CHAT_CASES[case]
    with pytest.raises(openai.BadRequestError) as raised:
        await oai.post("/chat/completions", body=body, cast_to=httpx.Response)
    assert (raised.value.param, raised.value.code) == (param, code)
    assert raised.value.response.headers["x-thrifty-error"] == "invalid_request"
    [row] = gateway.rows()
    assert (row.status, row.failure, row.cost_usd) == (400, "request", 0)


@pytest.mark.parametrize("case", list(API_CASES))
async def test_other_apis_400s_name_the_param_and_openai_code(gateway: Gateway, case: str) -> None:
    path, body, param, code = API_CASES[case]
    async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as http:
        response = await http.post(path, json=body)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert (error["param"], error["code"], error["type"]) == (param, code, "invalid_request_error")


async def test_anthropic_400s_keep_anthropics_shape(gateway: Gateway) -> None:
    """Anthropic's errors have no param or code: the type and the message say it."""
    async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as http:
        response = await http.post(
            "/v1/messages", json={"model": "claude-3-5-haiku-latest", "messages": USER}
        )
    assert response.status_code == 400
    assert response.json() == {
        "type": "error",
        "error": {
            "type": "invalid_request_error",
            "message": "missing required field 'max_tokens'",
        },
    }


@pytest.mark.parametrize(
    ("path", "body", "words"),
    [
        (
            "/v1/chat/completions",
            {"model": "claude-3-5-haiku-latest", "messages": USER, "tools": [5]},
            "from OpenAI's form to Anthropic's",
        ),
        (
            "/v1/messages",
            {"model": "gpt-4o-mini", "max_tokens": 20, "messages": USER, "tools": ["x"]},
            "from Anthropic's form to OpenAI's",
        ),
    ],
)
async def test_a_field_of_the_wrong_shape_is_told_in_words(
    gateway: Gateway, path: str, body: dict[str, Any], words: str
) -> None:
    """A body of the right JSON types with the wrong shape inside, met while translating it
    for the other dialect: a 400 that says so, not the Python error it caused."""
    async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as http:
        response = await http.post(path, json=body)
    assert response.status_code == 400, response.text
    message = response.json()["error"]["message"]
    assert words in message and "unexpected shape" in message
    assert "Error" not in message and "object has no attribute" not in message
    [row] = gateway.rows()
    assert (row.status, row.failure) == (400, "request")
