"""The stream contract: how a pipeline stage observes, shares or replaces a stream.

``ChatResponse.stream`` yields batches of :class:`~thrifty.types.StreamEvent`.  A stage
never iterates it itself; it uses one of these (docs/architecture.md, "Stream contract"):

* :func:`observe` (or :func:`observed`): run ``on_complete`` before the final batch is
  handed on, or ``on_abort`` exactly once if the stream ends any other way; the upstream is
  always closed.
* :class:`StreamTee`: one upstream, many consumers, each with its own response.
* :func:`replay`: a stored complete answer as a response (streamed or not) in the app's
  dialect.
"""

from thrifty.streams._guarded import GuardedStream
from thrifty.streams.observe import OnAbort, OnComplete, observe, observed
from thrifty.streams.replay import anthropic_events, openai_events, replay
from thrifty.streams.tee import StreamTee, TeeClosed

__all__ = [
    "GuardedStream",
    "OnAbort",
    "OnComplete",
    "StreamTee",
    "TeeClosed",
    "anthropic_events",
    "observe",
    "observed",
    "openai_events",
    "replay",
]
