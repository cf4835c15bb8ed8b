"""What a semantic lookup compares: the last user message, within its partition.

Everything else about a request must match exactly for a cached answer to be served: the
system prompt, every earlier turn, the tools, the sampling parameters, the model, the API,
the tenant and the task.  They are hashed together (the request's canonical form, as the
exact cache's key is made, with the last message left out) into the partition key; only the
last user message's text is embedded and compared, and only against entries of the same
partition.  One tenant's entries are never candidates for another's request.
"""

from __future__ import annotations

from dataclasses import dataclass

from thrifty.dialects.view import RequestView
from thrifty.dialects.view.cache_key import _digest
from thrifty.types import ChatRequest

__all__ = ["Lookup", "lookup_of"]

PARTITION_VERSION = 1
MAX_QUERY_CHARS = 4000  # longer last messages are not cached semantically


@dataclass(frozen=True, slots=True)
class Lookup:
    partition: str  # hex SHA-256 of everything but the last user message
    query: str  # the last user message's text


def lookup_of(request: ChatRequest) -> Lookup | None:
    """The partition and the query text of ``request``, or ``None`` when it cannot be
    served semantically: not a chat call, several choices (``n`` > 1), or a last message
    that is not a user's plain text (tool results, images) or is too long."""
    if request.api != "chat":
        return None
    body = request.body
    if body.get("n") not in (None, 1):
        return None
    view = RequestView.of(request)
    turns = view.messages
    if not turns:
        return None
    last = turns[-1]
    if last.role != "user" or not last.parts or any(p.kind != "text" for p in last.parts):
        return None
    query = last.text.strip()
    if not query or len(query) > MAX_QUERY_CHARS:
        return None
    canonical = view.canonical()
    messages = canonical.get("messages")
    if not isinstance(messages, list) or not messages:
        return None
    canonical["messages"] = [*messages[:-1], "<the compared query>"]
    key = {
        "v": PARTITION_VERSION,
        "request": canonical,
        "api": request.api,
        "tenant": request.tenant,
        "task": request.task,
    }
    return Lookup(partition=_digest(key), query=query)
