"""A local upstream that speaks the OpenAI chat completions and Anthropic Messages wire
formats (JSON and SSE), with deterministic answers, provider-accurate usage and prompt
caching, and fault injection.  Used as default upstream, in tests and in benchmarks.

Routes: ``POST /v1/chat/completions``, ``/v1/responses``, ``/v1/embeddings`` and
``/v1/completions`` (OpenAI; legacy completions default to ``max_tokens`` 16, as OpenAI's do),
``POST /v1/messages`` and ``/v1/messages/count_tokens`` (Anthropic), ``GET /v1/models``
(Anthropic list shape when an ``anthropic-version`` header is sent), ``GET /health``; the
Responses API's stored responses, ``GET|DELETE /v1/responses/{id}``, ``.../cancel``,
``.../input_items`` and ``POST /v1/responses/input_tokens``
(:mod:`thrifty.sim.stored_responses`); the
Batch APIs, OpenAI ``/v1/files`` + ``/v1/batches`` and Anthropic ``/v1/messages/batches``
(:mod:`thrifty.sim.batch_jobs`, docs/batch.md); admin:
``GET|POST|DELETE /_sim/faults``, ``GET|DELETE /_sim/stats``, ``DELETE /_sim/cache``.

Answers: OpenAI ``n`` gives n distinct choices (usage counts them all).  Offered function
tools are called when forced (``required``/a named function; Anthropic ``any``/``tool``) or,
with ``auto``, when the last user message names a tool or says "tool" (never right after a
tool result); arguments and JSON answers (``response_format``, ``text.format``, Anthropic
``output_config.format``/``output_format``) are the minimal instance of the JSON schema
(:mod:`thrifty.sim.output`).  Embeddings are hash-seeded unit vectors (``dimensions`` takes
the renormalised prefix).

Request bodies get the providers' 400s (status, type, param, code, message), among them
the rules on stop fields and on tool results answering the calls right before them
(:mod:`thrifty.sim.message_rules`).

Per request: API key ``sim-bad-key`` -> 401; header ``x-sim-fault: 429|500|503|529|slow|cut|
timeout`` or the prompt marker ``[[sim:fault=...]]`` in the last user message; header
``x-sim-latency-ms`` or marker ``[[sim:latency=MS]]``; marker ``[[sim:echo]]`` echoes the
user's text.  A message in the LLM judge's form (``<answer_a>``/``<answer_b>``)
is answered ``SAME`` (the two answers use the same words) or ``DIFFERENT``, a test double
(:func:`thrifty.sim.tokens.judge_verdict`).

Billing facts: a request's ``service_tier`` is echoed as the tier the response reports
(OpenAI: the top-level ``service_tier``, ``"auto"`` -> ``"default"``; Anthropic:
``usage.service_tier``, ``"standard"`` unless the request names ``"priority"`` or
``"batch"``).  Web search: an Anthropic request offering the ``web_search_*`` server tool
gets one search (``server_tool_use`` and ``web_search_tool_result`` blocks before the
text, ``usage.server_tool_use.web_search_requests: 1``); an OpenAI search model
(``gpt-4o-search-preview``, ``gpt-5-search-api``...) answers with a ``url_citation``
annotation, and ``web_search_options`` on any other model is a 400.  The ``cut`` fault
sends the head of a stream and half its deltas (no usage, no end) or half a JSON body,
then drops the connection.  In-process (``httpx.ASGITransport``) use works for everything
but ``cut`` and ``timeout``, which need a real socket (:class:`SimServer`).
"""

from thrifty.sim.app import create_app, sim_state
from thrifty.sim.config import SimConfig
from thrifty.sim.server import SimServer, run, serve
from thrifty.sim.state import SimState
from thrifty.sim.tokens import count_tokens

__all__ = [
    "SimConfig",
    "SimServer",
    "SimState",
    "count_tokens",
    "create_app",
    "run",
    "serve",
    "sim_state",
]
