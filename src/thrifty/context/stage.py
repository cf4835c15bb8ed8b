"""The context stage (``[levers.context]``, on by default; it acts only on requests that
carry the field): a chat request with a ``thrifty_context`` object gets the documents
:func:`~thrifty.context.select_context` keeps, as one text block put first in its last user
message; the field itself never reaches the provider.

    "thrifty_context": {
        "documents": ["text", {"id": "a1", "text": "...", "metadata": {"lang": "en"}}],
        "query": "optional: the last user message's text by default",
        "budget_tokens": 1500,           # optional: [levers.context] budget_tokens
        "where": {"lang": "en"}          # optional metadata filter
    }

The step books the tokens of the documents left out (``TokenChange(input_tokens=-n)``):
the baseline is the app sending every document it gave.  ``x-thrifty-context`` says how
many were kept.  A malformed field is a 400 naming what is wrong.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from html import escape
from typing import TYPE_CHECKING, Any

from thrifty.config import ContextSettings
from thrifty.context.documents import Document, as_document
from thrifty.context.select import Selection, select_context
from thrifty.errors import BadRequest
from thrifty.tokens import TokenCounter
from thrifty.types import ChatRequest, ChatResponse, Handler, Stage, Step, TokenChange

if TYPE_CHECKING:
    from thrifty.levers.fewer_calls.semantic.embedder import Embedder
    from thrifty.pipeline import Parts

FIELD = "thrifty_context"
HEADER = "context"
_KEYS = frozenset({"documents", "query", "budget_tokens", "where"})


@dataclasses.dataclass(frozen=True, slots=True)
class ContextAsk:
    """The ``thrifty_context`` field, checked."""

    documents: list[Document]
    query: str | None
    budget_tokens: int | None
    where: Mapping[str, Any] | None


def parse_field(value: Any, max_documents: int) -> ContextAsk:
    """The field as a :class:`ContextAsk`; :class:`BadRequest` names what is wrong."""
    if not isinstance(value, dict):
        raise BadRequest(f"{FIELD} must be an object")
    unknown = sorted(set(value) - _KEYS)
    if unknown:
        raise BadRequest(f"{FIELD}: unknown keys {unknown}")
    documents = value.get("documents")
    if not isinstance(documents, list):
        raise BadRequest(f"{FIELD}.documents must be a list")
    if len(documents) > max_documents:
        raise BadRequest(f"{FIELD}.documents: at most {max_documents} documents")
    try:
        docs = [as_document(d, i) for i, d in enumerate(documents)]
    except ValueError as exc:
        raise BadRequest(f"{FIELD}.documents: {exc}") from None
    query = value.get("query")
    if query is not None and not isinstance(query, str):
        raise BadRequest(f"{FIELD}.query must be a string")
    budget = value.get("budget_tokens")
    if budget is not None and (
        not isinstance(budget, int) or isinstance(budget, bool) or budget <= 0
    ):
        raise BadRequest(f"{FIELD}.budget_tokens must be a positive integer")
    where = value.get("where")
    if where is not None and not isinstance(where, dict):
        raise BadRequest(f"{FIELD}.where must be an object")
    return ContextAsk(docs, query, budget, where)


def render(documents: Sequence[Document]) -> str:
    """The kept documents as one text block."""
    parts = ["<documents>"]
    for doc in documents:
        ident = f' id="{escape(doc.id)}"' if doc.id is not None else ""
        parts.append(f"<document{ident}>\n{doc.text}\n</document>")
    parts.append("</documents>")
    return "\n".join(parts)


def _last_user(messages: Any) -> dict[str, Any]:
    last = messages[-1] if isinstance(messages, list) and messages else None
    if not isinstance(last, dict) or last.get("role") != "user":
        raise BadRequest(f"{FIELD} needs the last message to be a user message")
    if not isinstance(last.get("content"), str | list):
        raise BadRequest(f"{FIELD}: the last user message has no content")
    return last


def _query_of(message: dict[str, Any]) -> str:
    content = message["content"]
    if isinstance(content, str):
        return content
    texts = [b.get("text") for b in content if isinstance(b, dict) and b.get("type") == "text"]
    return "\n".join(t for t in texts if isinstance(t, str))


def with_documents(request: ChatRequest, block: str | None) -> ChatRequest:
    """``request`` without the field, and ``block`` (if any) first in its last user
    message (a string content gets it as a prefix paragraph, a list a text part)."""
    body = {k: v for k, v in request.body.items() if k != FIELD}
    if block is not None:
        messages = list(body["messages"])
        last = dict(messages[-1])
        content = last["content"]
        if isinstance(content, str):
            last["content"] = f"{block}\n\n{content}"
        else:
            last["content"] = [{"type": "text", "text": block}, *content]
        messages[-1] = last
        body["messages"] = messages
    return dataclasses.replace(request, body=body)


class ContextStage:
    def __init__(
        self,
        settings: Mapping[str | None, ContextSettings | None],
        counter: TokenCounter | None = None,
        embedder: Embedder | None = None,
    ) -> None:
        self._settings = settings
        self._default = settings.get(None)
        self._counter = counter if counter is not None else TokenCounter()
        self._embedder = embedder

    def __call__(self, inner: Handler) -> Handler:
        async def handle(request: ChatRequest) -> ChatResponse:
            if request.api != "chat" or FIELD not in request.body:
                return await inner(request)
            chosen = self._settings.get(request.task, self._default)
            if chosen is None:
                raise BadRequest(f"context selection is off for this task: remove {FIELD}")
            return await self._select(request, chosen, inner)

        return handle

    async def _select(
        self, request: ChatRequest, chosen: ContextSettings, inner: Handler
    ) -> ChatResponse:
        ask = parse_field(request.body[FIELD], chosen.max_documents)
        await self._counter.load_for(request.model)
        last = _last_user(request.body.get("messages"))
        selection = select_context(
            ask.query if ask.query is not None else _query_of(last),
            ask.documents,
            budget_tokens=ask.budget_tokens or chosen.budget_tokens,
            model=request.model,
            where=ask.where,
            embedder=self._embedder if chosen.embeddings else None,
            lexical_weight=chosen.lexical_weight,
            duplicate_threshold=chosen.duplicate_threshold,
            min_tokens=chosen.min_tokens,
            counter=self._counter,
        )
        block = render(selection.documents) if selection.kept else None
        response = await inner(with_documents(request, block))
        response.headers[HEADER] = summary(selection, len(ask.documents))
        left_out = selection.left_out_tokens
        if response.served is not None and left_out:
            change = TokenChange(input_tokens=-left_out)
            response.steps.append(Step("context", response.headers[HEADER], tokens=change))
        return response


def summary(selection: Selection, given: int) -> str:
    kept = len(selection.kept)
    if selection.untouched:
        return f"kept all {kept} of {given} documents (under min_tokens)"
    unchecked = f", {selection.unchecked} not checked for duplicates" if selection.unchecked else ""
    return f"kept {kept} of {given} documents, {selection.tokens} tokens{unchecked}"


async def build(parts: Parts) -> Stage | None:
    settings = parts.settings
    chosen: dict[str | None, ContextSettings | None] = {}
    for task in [None, *settings.tasks]:
        lever = settings.levers_for(task).context
        chosen[task] = lever if lever.enabled else None
    if all(value is None for value in chosen.values()):
        return None
    embedder = None
    if any(s is not None and s.embeddings for s in chosen.values()):
        from thrifty.levers.fewer_calls.semantic.embedder import MiniLMEmbedder

        embedder = MiniLMEmbedder()
    # No encoding is loaded at start: the stage is on by default and acts only on requests
    # that carry the field, so a gateway that never sees one does not pay ~3 s and ~170 MB
    # for it; the first such request loads its encoding off the event loop (load_for).
    return ContextStage(chosen, counter=parts.counter, embedder=embedder)
