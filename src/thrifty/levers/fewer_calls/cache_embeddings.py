"""Embeddings in the exact cache: memoized per input, always (an embedding is
deterministic: the same model, input and parameters give the same vector).

A request of five inputs of which three are stored sends only the other two upstream, as one
call, and answers with all five in the order asked; the ledger books the three as tokens the
cache removed from the call (``TokenChange``), priced on the requested model.  A request
whose inputs are all stored makes no call (``Step(avoided=...)``).  The answer's usage is the
whole request's, as if every input had been embedded, like a chat hit's.

Each input's key hashes the model, the tenant, every parameter but ``input`` and ``user``
(``dimensions``, ``encoding_format``...) and the input itself (a string, or a list of token
ids).  Its entry keeps the vector as the provider wrote it and the input's token count: the
provider reports one total per call, so a call of several inputs has its total shared out by
input length (token lists are counted exactly; one input gets the exact total).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, TypeGuard

import orjson

from thrifty.types import JSON, ChatRequest, ChatResponse, Usage

KEY_VERSION = 1
Item = str | list[int]


class NotEmbeddings(ValueError):
    """A body or an entry that is not what this module reads."""


def items_of(body: JSON) -> tuple[list[Item], bool] | None:
    """The inputs of an embeddings request and whether ``input`` was one item (a string
    or one token list); ``None`` for a shape this cache does not handle."""
    value = body.get("input")
    if isinstance(value, str):
        return [value], True
    if isinstance(value, list) and value and all(_is_token(t) for t in value):
        return [value], True
    if isinstance(value, list) and value and all(_is_item(v) for v in value):
        return list(value), False
    return None


def _is_token(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_item(value: Any) -> bool:
    if isinstance(value, str):
        return bool(value)
    return isinstance(value, list) and bool(value) and all(_is_token(t) for t in value)


def item_keys(request: ChatRequest, items: list[Item]) -> list[str]:
    params = {k: v for k, v in request.body.items() if k not in ("input", "user", "model")}
    prefix = orjson.dumps(
        [KEY_VERSION, "embeddings", request.model, request.tenant, params],
        option=orjson.OPT_SORT_KEYS,
    )
    return [hashlib.sha256(prefix + orjson.dumps(item)).hexdigest() for item in items]


@dataclass(frozen=True, slots=True)
class StoredVector:
    embedding: list[float] | str  # floats, or base64 as the provider wrote it
    tokens: int
    model: str

    def encode(self) -> bytes:
        return orjson.dumps(
            {
                "v": KEY_VERSION,
                "embedding": self.embedding,
                "tokens": self.tokens,
                "model": self.model,
            }
        )

    @classmethod
    def decode(cls, raw: bytes) -> StoredVector:
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise NotEmbeddings("not JSON") from None
        if not isinstance(data, dict) or data.get("v") != KEY_VERSION:
            raise NotEmbeddings("not a stored embedding")
        embedding, tokens, model = data.get("embedding"), data.get("tokens"), data.get("model")
        if not _is_vector(embedding) or not isinstance(tokens, int) or isinstance(tokens, bool):
            raise NotEmbeddings("no vector or token count")
        if tokens < 0 or not isinstance(model, str):
            raise NotEmbeddings("no token count or model")
        return cls(embedding, tokens, model)


_NUMBERS = frozenset({int, float})  # exact types: a JSON true/false is no number here


def _is_vector(value: Any) -> TypeGuard[list[float] | str]:
    if isinstance(value, str):
        return bool(value)
    # set(map(type, ...)) runs in C: a Python loop over 400,000 floats took ~60 ms.
    return isinstance(value, list) and bool(value) and set(map(type, value)) <= _NUMBERS


def with_items(request: ChatRequest, items: list[Item], single: bool) -> ChatRequest:
    """``request`` asking for ``items`` only (the same request when nothing changes)."""
    from dataclasses import replace

    value: Any = items[0] if single else items
    if request.body.get("input") is value:
        return request
    return replace(request, body={**request.body, "input": value})


def vectors_of(response: ChatResponse, items: list[Item]) -> list[StoredVector]:
    """The entries of ``items`` from the upstream's answer (``NotEmbeddings`` if it does
    not answer each of them exactly once)."""
    body = response.parsed_body()
    if body is None or not response.usage_reported or response.usage_estimated:
        raise NotEmbeddings("no whole answer with usage")
    data = body.get("data")
    if not isinstance(data, list) or len(data) != len(items):
        raise NotEmbeddings("not one vector per input")
    by_index: dict[int, Any] = {}
    for entry in data:
        index = entry.get("index") if isinstance(entry, dict) else None
        if not isinstance(index, int) or index in by_index or not 0 <= index < len(items):
            raise NotEmbeddings("bad index")
        if not _is_vector(entry.get("embedding")):
            raise NotEmbeddings("bad vector")
        by_index[index] = entry["embedding"]
    shares = share_out(response.usage.input_tokens, items)
    model = response.model
    return [StoredVector(by_index[i], shares[i], model) for i in range(len(items))]


def share_out(total: int, items: list[Item]) -> list[int]:
    """``total`` tokens shared out over ``items`` by length (token lists by their length),
    largest remainders first, so the shares sum to ``total`` exactly."""
    weights = [len(item) if isinstance(item, list) else max(1, len(item)) for item in items]
    whole = sum(weights)
    exact = [total * w / whole for w in weights]
    shares = [int(x) for x in exact]
    left = total - sum(shares)
    for i in sorted(range(len(items)), key=lambda i: shares[i] - exact[i])[:left]:
        shares[i] += 1
    return shares


def answer_body(vectors: list[StoredVector], model: str) -> JSON:
    """The embeddings answer from one vector per input, in order."""
    total = sum(v.tokens for v in vectors)
    return {
        "object": "list",
        "data": [
            {"object": "embedding", "index": i, "embedding": v.embedding}
            for i, v in enumerate(vectors)
        ],
        "model": model,
        "usage": {"prompt_tokens": total, "total_tokens": total},
    }


def stored_usage(vectors: list[StoredVector]) -> Usage:
    return Usage(input_tokens=sum(v.tokens for v in vectors))
