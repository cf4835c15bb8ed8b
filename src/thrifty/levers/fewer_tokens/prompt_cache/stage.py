"""The prompt-cache planner stage (docs/levers/fewer-tokens.md, "Prompt caching").

On by task (``[levers.prompt_cache] enabled = true`` or ``[tasks.T.prompt_cache]``), for
chat requests in either dialect:

* Anthropic: breakpoints and lifetimes (:mod:`.anthropic`); a request whose app placed its
  own ``cache_control`` passes untouched (header ``x-thrifty-prompt-cache: app``).
* OpenAI: a byte-stable prefix and ``prompt_cache_key`` (:mod:`.openai`).
* Both: a (task, model) whose stable prefix (tools + system) differed on each of the last
  ``unstable_window`` requests is flagged: ``x-thrifty-prompt-cache: unstable-prefix`` and
  a step in the ledger's ``detail``.  A body the planner cannot read passes untouched
  (``x-thrifty-prompt-cache: skipped-unreadable``), and so does a malformed conversation,
  by the rule compression uses (:func:`thrifty.levers.fewer_tokens.compress.wire.problem`:
  a tool result without its call, an empty user or system message, an oversized message):
  ``x-thrifty-prompt-cache: skipped-malformed`` and ``x-thrifty-prompt-cache-warning`` say
  why.  Nothing is "fixed" silently.

What it saved is booked as a token change on the answering call, from the usage the
provider reported: on Anthropic every cache read and write (the app asked for none), on
OpenAI the cache reads past the first byte the planner changed.  The Accountant prices the
reads' discount and the writes' premium (a write never read is a negative saving).

The time of a request is its ``received_at``.  The stage sits innermost, after routing:
caches are per model, and it must see the prompt as it will be sent.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from thrifty.ledger.query import UNSTABLE_PREFIX_MARK
from thrifty.lever_warnings import call_warned
from thrifty.levers.fewer_tokens.compress.wire import problem as malformed
from thrifty.levers.fewer_tokens.prompt_cache.anthropic import (
    AnthropicPlanner,
    app_placed_breakpoints,
    minimum_cacheable_tokens,
    readable,
)
from thrifty.levers.fewer_tokens.prompt_cache.openai import OpenAIPlanner
from thrifty.levers.fewer_tokens.prompt_cache.prefix import PrefixChurn, ToolForms
from thrifty.levers.fewer_tokens.prompt_cache.reuse import ReuseTracker, TtlPolicy
from thrifty.levers.fewer_tokens.prompt_cache.volatile import VolatileSplits
from thrifty.streams import observe
from thrifty.tokens import EAGER_ENCODING, ENCODINGS, TokenCounter
from thrifty.tokens.encodings import bundled_file
from thrifty.types import (
    JSON,
    ChatRequest,
    ChatResponse,
    Handler,
    Stage,
    Step,
    TokenChange,
    Usage,
)

if TYPE_CHECKING:
    from thrifty.config import PromptCacheSettings
    from thrifty.pipeline import Parts

HEADER = "prompt-cache"
WARNING_HEADER = "prompt-cache-warning"
MAX_TOOL_SETS = 1_000
MAX_CHURN_GROUPS = 1_000

Booking = Callable[[Usage], TokenChange | None]


def _anthropic_change(usage: Usage) -> TokenChange | None:
    if not (usage.cache_read_tokens or usage.cache_write_tokens):
        return None
    return TokenChange(
        cache_read_tokens=usage.cache_read_tokens,
        cache_write_5m_tokens=usage.cache_write_5m_tokens,
        cache_write_1h_tokens=usage.cache_write_1h_tokens,
    )


def _openai_change(unchanged_tokens: int) -> Booking:
    def change(usage: Usage) -> TokenChange | None:
        gained = usage.cache_read_tokens - unchanged_tokens
        return TokenChange(cache_read_tokens=gained) if gained > 0 else None

    return change


def _book(response: ChatResponse, step: Step, booking: Booking | None) -> None:
    """Append ``step``; once the usage is final, state the token change it caused."""
    response.steps.append(step)
    if booking is None:
        return

    def settle() -> None:
        if response.usage_reported:
            step.tokens = booking(response.usage)

    if response.stream is None:
        settle()
        return

    async def on_complete() -> None:
        settle()

    async def on_abort(exc: BaseException | None, handed_on: bool) -> None:
        settle()

    observe(response, on_complete=on_complete, on_abort=on_abort)


class PromptCachePlanner:
    """One per runtime: the trackers and the token counter every task shares."""

    def __init__(
        self, settings: Mapping[str | None, PromptCacheSettings], counter: TokenCounter
    ) -> None:
        self._settings = dict(settings)
        self._default = self._settings[None]
        self._counter = counter
        defaults = self._default
        tools = ToolForms(MAX_TOOL_SETS)
        splits = VolatileSplits()
        self._anthropic = AnthropicPlanner(
            ReuseTracker(defaults.max_prefixes), tools, counter, splits
        )
        self._openai = OpenAIPlanner(tools, counter, splits)
        self._churn = {
            s.unstable_window: PrefixChurn(s.unstable_window, MAX_CHURN_GROUPS)
            for s in self._settings.values()
        }

    def settings_for(self, task: str | None) -> PromptCacheSettings:
        return self._settings.get(task, self._default)

    async def handle(self, inner: Handler, request: ChatRequest) -> ChatResponse:
        lever = self.settings_for(request.task)
        if not lever.enabled or request.api != "chat":
            return await inner(request)
        await self._counter.load_for(request.model)
        body = request.body
        notes: list[str] = []
        booking: Booking | None = None
        anthropic = request.dialect == "anthropic"
        if anthropic and app_placed_breakpoints(body):
            return _with_header(await inner(request), "app")
        if not (readable(body) if anthropic else _openai_readable(body)):
            return _with_header(await inner(request), "skipped-unreadable")
        if (why := malformed(request)) is not None:
            return _with_header(
                await call_warned(inner, request, WARNING_HEADER, _malformed_warning(why)),
                "skipped-malformed",
            )
        if anthropic:
            policy = TtlPolicy(lever.first_sight, lever.min_uses_for_1h, lever.allow_1h)
            minimum = lever.min_tokens or minimum_cacheable_tokens(request.model)
            plan = self._anthropic.plan(
                body, request.model, request.received_at, policy, minimum, lever.move_volatile_lines
            )
            new_body, stable_key = plan.body, plan.stable_key
            notes += [f"{name} {ttl}" for name, ttl in plan.breakpoints]
            if plan.breakpoints:
                booking = _anthropic_change
            moved, reordered = plan.moved_volatile, plan.reordered_tools
        else:
            oplan = self._openai.plan(
                body,
                request.model,
                move_volatile=lever.move_volatile_lines,
                set_key=lever.prompt_cache_key,
            )
            new_body, stable_key = oplan.body, oplan.stable_key
            if oplan.cache_key_set:
                notes.append("prompt_cache_key")
            if oplan.unchanged_tokens is not None:
                booking = _openai_change(oplan.unchanged_tokens)
            moved, reordered = oplan.moved_volatile, oplan.reordered_tools
        if moved:
            notes.append("date moved after the stable prompt")
        if reordered:
            notes.append("tools in their first-seen order")
        churn = self._churn[lever.unstable_window]
        if churn.unstable((request.task, request.model), stable_key):
            notes.append(UNSTABLE_PREFIX_MARK)
        sent = request if new_body is body else dataclasses.replace(request, body=new_body)
        response = await inner(sent)
        if not notes:
            return response
        _book(response, Step("prompt_cache", "prompt cache: " + ", ".join(notes)), booking)
        header = UNSTABLE_PREFIX_MARK if UNSTABLE_PREFIX_MARK in notes else "planned"
        return _with_header(response, header)


def _openai_readable(body: JSON) -> bool:
    """A body the OpenAI planner may edit: its messages a list of objects."""
    messages = body.get("messages")
    return isinstance(messages, list) and all(isinstance(m, dict) for m in messages)


def _with_header(response: ChatResponse, value: str) -> ChatResponse:
    response.headers[HEADER] = value
    return response


def _malformed_warning(why: str) -> str:
    return f"malformed conversation, passed through unchanged: {why}"


def prompt_cache_stage(planner: PromptCachePlanner) -> Stage:
    def wrap(inner: Handler) -> Handler:
        async def handle(request: ChatRequest) -> ChatResponse:
            return await planner.handle(inner, request)

        return handle

    return wrap


async def build(parts: Parts) -> Stage | None:
    settings = parts.settings
    per_task = {task: settings.levers_for(task).prompt_cache for task in [None, *settings.tasks]}
    if not any(lever.enabled for lever in per_task.values()):
        return None
    counter = parts.counter
    for name in ENCODINGS:  # a missing install fails at start, not on a request
        bundled_file(name)
    # o200k_base counts every model but gpt-4 and gpt-3.5 (Claude and unknown models
    # included): loaded now, off the event loop (seconds and ~150 MB, once per process);
    # cl100k_base only if a request needs it (PromptCachePlanner.handle).
    await counter.load(EAGER_ENCODING)
    return prompt_cache_stage(PromptCachePlanner(per_task, counter))
