"""OpenAI ``POST /v1/embeddings``: deterministic unit vectors, seeded by model and input.

A vector is drawn at the model's full size from a hash of (model, input) and, like the
``text-embedding-3`` models, a smaller ``dimensions`` takes its prefix, renormalised.
Plugs into the chat endpoint as a dialect (auth, faults and latency work the same).
"""

from __future__ import annotations

import base64
import hashlib
import math
import struct
from typing import Any

import orjson

from thrifty.sim.dialect import BadRequest, Caches, JSONObj, Prepared, PromptUsage, StreamParts
from thrifty.sim.openai_request import model_and_required
from thrifty.sim.openai_wire import OpenAIDialect
from thrifty.sim.tokens import Answer

_FULL_DIMENSIONS = {"text-embedding-3-large": 3072}
_DEFAULT_DIMENSIONS = 1536
_MAX_INPUTS = 2048


def full_dimensions(model: str) -> int:
    return _FULL_DIMENSIONS.get(model, _DEFAULT_DIMENSIONS)


def embed(model: str, item: str | list[int], dimensions: int | None = None) -> list[float]:
    """The unit vector of one input."""
    full = full_dimensions(model)
    key = orjson.dumps([model, item])
    raw = hashlib.shake_256(key).digest(2 * full)
    values = struct.unpack(f"<{full}h", raw)[: dimensions or full]
    norm = math.sqrt(math.fsum(v * v for v in values)) or 1.0
    return [v / norm for v in values]


def _inputs(value: Any) -> list[str | list[int]]:
    bad = BadRequest(
        "'$.input' is invalid. Please check the API reference: "
        "https://platform.openai.com/docs/api-reference.",
        param="input",
        code="invalid_value",
    )
    if isinstance(value, str):
        items: list[Any] = [value]
    elif isinstance(value, list) and value and all(isinstance(v, int) for v in value):
        items = [value]
    elif isinstance(value, list) and value:
        items = value
    else:
        raise bad
    if len(items) > _MAX_INPUTS:
        raise bad
    for item in items:
        if isinstance(item, str) and item:
            continue
        if isinstance(item, list) and item and all(isinstance(t, int) for t in item):
            continue
        raise bad
    return items


class EmbeddingsDialect(OpenAIDialect):
    name = "openai-embeddings"

    def prepare(self, body: object) -> Prepared:
        if not isinstance(body, dict):
            return super().prepare(body)  # the OpenAI parse-error 400
        model, value = model_and_required(body, "input")
        items = _inputs(value)
        dims = body.get("dimensions")
        if dims is not None and (
            not isinstance(dims, int)
            or isinstance(dims, bool)
            or not 1 <= dims <= full_dimensions(model)
        ):
            raise BadRequest(
                f"Invalid 'dimensions': expected an integer between 1 and "
                f"{full_dimensions(model)}, but got {dims!r} instead.",
                param="dimensions",
                code="invalid_value",
            )
        fmt = body.get("encoding_format", "float")
        if fmt not in ("float", "base64"):
            raise BadRequest(
                f"Invalid value for 'encoding_format': {fmt!r}. Supported values are: "
                "'float' and 'base64'.",
                param="encoding_format",
                code="invalid_value",
            )
        texts = [item for item in items if isinstance(item, str)]
        tokens = [len(item) if isinstance(item, list) else self.memo.count(item) for item in items]
        return Prepared(
            model=model,
            stream=False,
            include_usage=True,
            max_tokens=None,
            last_user_text="\n".join(texts),
            seed=b"",
            body={**body, "input": items},
            prompt=tokens,
        )

    def prompt_usage(self, prep: Prepared, caches: Caches) -> PromptUsage:
        tokens: list[int] = prep.prompt
        return PromptUsage(total=sum(tokens))

    def response(self, prep: Prepared, answer: Answer, usage: PromptUsage) -> bytes:
        dims = prep.body.get("dimensions")
        as_base64 = prep.body.get("encoding_format") == "base64"
        data: list[JSONObj] = []
        for i, item in enumerate(prep.body["input"]):
            vector = embed(prep.model, item, dims)
            value: Any = vector
            if as_base64:
                packed = struct.pack(f"<{len(vector)}f", *vector)
                value = base64.b64encode(packed).decode()
            data.append({"object": "embedding", "index": i, "embedding": value})
        return orjson.dumps(
            {
                "object": "list",
                "data": data,
                "model": prep.model,
                "usage": {"prompt_tokens": usage.total, "total_tokens": usage.total},
            }
        )

    def stream_events(self, prep: Prepared, answer: Answer, usage: PromptUsage) -> StreamParts:
        raise NotImplementedError("embeddings do not stream")  # prepare() sets stream=False
