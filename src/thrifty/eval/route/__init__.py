"""Replay evaluation of routing strategies and cascades (``thrifty eval route``).

See docs/eval-route.md.  Modules: ``records`` (the JSONL format), ``datasets`` (adapters for
the shared RouterBench and RouteLLM data), ``table`` (arrays and the label-free query view),
``strategies`` / ``routers`` / ``cascades`` (what is evaluated), ``evaluate``, ``metrics``,
``report``, ``plot`` and ``command``.
"""
