"""A dialect-neutral read view of a :class:`~thrifty.types.ChatRequest`, and the edits
levers need, written back in the request's own dialect.

Levers (cache, compression, history trimming, output caps, routing) read a request through
:class:`RequestView` instead of handling OpenAI chat completions and Anthropic messages
bodies themselves::

    view = RequestView.of(request)
    view.system, view.messages, view.tools, view.max_output_tokens, view.sampling
    key = view.cache_key()
    shorter = view.with_messages(view.messages[-4:])   # a new ChatRequest, same dialect

Reading is cheap and lazy: ``of`` only stores the request; each field is computed on first
access, straight from the body's own objects (a text part's ``text`` *is* the body's
string).  Nothing is copied and nothing is mutated.  Edits return a new ``ChatRequest``
(:func:`dataclasses.replace`) with a new top-level body dict; nested objects the edit does
not touch are shared, never modified.  An edit that changes nothing returns the original
request itself.

The view never raises on an odd body: whatever cannot be read as text, a tool call or a
tool result is kept as an ``"other"`` part holding the wire value (``raw``), so it is still
written back and still counted in the cache key.  See docs/architecture.md, "Request view",
for exactly what goes into :meth:`RequestView.cache_key`.
"""

from thrifty.dialects.view.cache_key import CACHE_KEY_VERSION, NOT_IN_CACHE_KEY
from thrifty.dialects.view.request import RequestView
from thrifty.dialects.view.turns import (
    Part,
    PartKind,  # noqa: F401  (importable as before, not in __all__)
    Tool,
    Turn,
    text_part,
    tool_call_part,
    tool_result_part,
)

__all__ = [
    "CACHE_KEY_VERSION",
    "NOT_IN_CACHE_KEY",
    "Part",
    "RequestView",
    "Tool",
    "Turn",
    "text_part",
    "tool_call_part",
    "tool_result_part",
]
