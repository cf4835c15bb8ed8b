"""The history stage: ``[levers.history]`` (and ``[tasks.TASK.history]``), off by default.

A request whose conversation is past its policy's limit is sent with its older turns
dropped (``last_n``, ``budget``) or replaced by a summary kept as a system-side note
(``summary``); the cut points advance in steps (see :mod:`.cuts`) so the prefix the
provider caches stays identical across many turns.  The step books the tokens removed,
net of the note's tokens and of the cache a moved cut loses (:mod:`.booking`); each summary
call is a ``Call(lever="history")``.  ``x-thrifty-history`` says what was done; a malformed
conversation is sent unchanged with ``x-thrifty-history-warning``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from thrifty.config import HistorySettings
from thrifty.dialects.view import Turn
from thrifty.lever_warnings import call_warned
from thrifty.levers.fewer_tokens.history.booking import NEW_MESSAGES, book, cut_facts
from thrifty.levers.fewer_tokens.history.cuts import (
    MessageFacts,
    budget_cuts,
    cut_points,
    last_n_cut,
    problems,
)
from thrifty.levers.fewer_tokens.history.facts import FactsReader, read_turn
from thrifty.levers.fewer_tokens.history.summary import (
    NOTE_PREFIX,
    Summarised,
    SummaryMemo,
    prefix_digests,
    summarise,
)
from thrifty.tokens import EAGER_ENCODING, TokenCounter
from thrifty.types import (
    Call,
    ChatRequest,
    ChatResponse,
    Handler,
    Stage,
    attach_lever_calls,
)

if TYPE_CHECKING:
    from thrifty.pipeline import Parts

HEADER = "history"
WARNING_HEADER = "history-warning"
_SYSTEM_ROLES = ("system", "developer")


def with_note(request: ChatRequest, note: str) -> ChatRequest:
    """``request`` with ``note`` after its system prompt: a system message after the app's
    own (OpenAI), a text block after the system prompt's (Anthropic)."""
    body = request.body
    if request.dialect == "anthropic":
        system = body.get("system")
        block = {"type": "text", "text": note}
        if isinstance(system, list):
            new_system: Any = [*system, block]
        elif isinstance(system, str) and system:
            new_system = [{"type": "text", "text": system}, block]
        else:
            new_system = note
        return dataclasses.replace(request, body={**body, "system": new_system})
    messages = body["messages"]
    head = 0
    while head < len(messages) and _role(messages[head]) in _SYSTEM_ROLES:
        head += 1
    note_message = {"role": "system", "content": note}
    new_messages = [*messages[:head], note_message, *messages[head:]]
    return dataclasses.replace(request, body={**body, "messages": new_messages})


def _role(message: Any) -> Any:
    return message.get("role") if isinstance(message, dict) else None


def _split_system(request: ChatRequest, messages: list[Any]) -> tuple[int, bool]:
    """(how many leading OpenAI system/developer messages, whether another one comes
    later: it would move if the conversation were rewritten)."""
    if request.dialect != "openai":
        return 0, False
    head = 0
    while head < len(messages) and _role(messages[head]) in _SYSTEM_ROLES:
        head += 1
    inside = any(_role(m) in _SYSTEM_ROLES for m in messages[head:])
    return head, inside


class HistoryStage:
    """The stage for one settings map (task -> settings, ``None``: any other task)."""

    def __init__(
        self,
        settings: Mapping[str | None, HistorySettings | None],
        send: Handler | None = None,
        counter: TokenCounter | None = None,
    ) -> None:
        self._settings = settings
        self._default = settings.get(None)
        self._send = send
        self._counter = counter if counter is not None else TokenCounter()
        limit = max((s.max_summaries for s in settings.values() if s is not None), default=1)
        self.memo = SummaryMemo(limit)
        self._reader = FactsReader(self._counter)

    def __call__(self, inner: Handler) -> Handler:
        async def handle(request: ChatRequest) -> ChatResponse:
            chosen = self._settings.get(request.task, self._default)
            if chosen is None or request.api != "chat":
                return await inner(request)
            return await self._trim(request, chosen, inner)

        return handle

    async def _trim(
        self, request: ChatRequest, chosen: HistorySettings, inner: Handler
    ) -> ChatResponse:
        messages = request.body.get("messages")
        if not isinstance(messages, list):
            return await inner(request)
        head, inside = _split_system(request, messages)
        if inside:
            return await _warned(inner, request, ["a system message inside the conversation"])
        conversation = messages[head:]
        await self._counter.load_for(request.model)
        read = self._reader.read(request, conversation)
        if read is None:
            return await _warned(inner, request, ["a message is not JSON"])
        facts, wires = read
        found = problems(facts, chosen.budget_tokens)
        if found:
            return await _warned(inner, request, found)
        points = cut_points(facts)
        calls: list[Call] = []
        note: str | None = None
        cut, cuts = _cuts(chosen, points, facts)
        if cut and chosen.policy == "summary":
            summarised = await self._summarise(request, chosen, wires, cuts)
            calls = [c for r in summarised.responses if (c := _lever_call(r)) is not None]
            if summarised.text is None:
                warning = summarised.error or "no summary"
                response = await _paid(inner, request, calls, warning)
                return response
            note = NOTE_PREFIX + summarised.text
        if cut == 0:
            response = await inner(request)
            response.headers[HEADER] = f"{chosen.policy}: kept all {len(facts)} turns"
            return response
        kept = [*messages[:head], *conversation[cut:]]
        sent = dataclasses.replace(request, body={**request.body, "messages": kept})
        removed = sum(f.tokens for f in facts[:cut])
        if note is not None:
            sent = with_note(sent, note)
            removed -= self._counter.count_messages(request.model, [{"content": note}]).tokens
        detail = f"{chosen.policy}: dropped {cut} of {len(facts)} turns"
        detail += ", summarised" if note is not None else ""
        previous = facts[: len(facts) - NEW_MESSAGES]
        previous_cut, _ = _cuts(chosen, [p for p in points if p < len(previous)], previous)
        response = await _paid(inner, sent, calls)
        response.headers[HEADER] = detail
        book(response, cut_facts(facts, cut, previous_cut, removed), detail)
        return response

    async def _summarise(
        self,
        request: ChatRequest,
        chosen: HistorySettings,
        wires: Sequence[bytes],
        cuts: Sequence[int],
    ) -> Summarised:
        assert self._send is not None and chosen.summary_model is not None
        conversation = request.body["messages"][len(request.body["messages"]) - len(wires) :]

        def turns(begin: int, end: int) -> list[Turn]:
            return [read_turn(request, m) for m in conversation[begin:end]]

        return await summarise(
            self._send,
            self.memo,
            tenant=request.tenant,
            model=chosen.summary_model,
            dialect=request.dialect,
            turns=turns,
            cuts=cuts,
            digests=prefix_digests(wires[: cuts[-1]]),
            max_tokens=chosen.summary_max_tokens,
        )


async def _warned(inner: Handler, request: ChatRequest, found: list[str]) -> ChatResponse:
    shown = "; ".join(found[:3]) + (f" (+{len(found) - 3} more)" if len(found) > 3 else "")
    return await call_warned(inner, request, WARNING_HEADER, f"sent unchanged: {shown}")


async def _paid(
    inner: Handler, request: ChatRequest, calls: list[Call], warning: str | None = None
) -> ChatResponse:
    """``inner(request)`` after the summary ``calls`` were paid for: they are booked with
    its answer, or with its failure (never lost), and so is ``warning``."""
    try:
        if warning is None:
            response = await inner(request)
        else:
            response = await call_warned(inner, request, WARNING_HEADER, warning)
    except BaseException as exc:
        attach_lever_calls(exc, calls)
        raise
    response.lever_calls.extend(calls)
    return response


def _cuts(
    chosen: HistorySettings, points: Sequence[int], facts: Sequence[MessageFacts]
) -> tuple[int, tuple[int, ...]]:
    """The cut in force and every cut the policy made on the way (``last_n``: just one)."""
    if chosen.policy == "last_n":
        cut = last_n_cut(points, len(facts), chosen.max_turns, chosen.step_turns)
        return cut, (cut,)
    tokens = [f.tokens for f in facts]
    scan = budget_cuts(points, tokens, chosen.budget_tokens, chosen.low_water)
    return scan.cut, scan.cuts


def _lever_call(response: ChatResponse) -> Call | None:
    call = response.answer_call()
    return None if call is None else dataclasses.replace(call, lever="history")


def history_stage(
    settings: Mapping[str | None, HistorySettings | None],
    send: Handler | None = None,
    counter: TokenCounter | None = None,
) -> Stage:
    """``settings`` maps a task (``None``: any other task) to its history settings
    (``None``: off for that task); ``send`` makes the summary calls."""
    return HistoryStage(settings, send, counter)


async def build(parts: Parts) -> Stage | None:
    settings = parts.settings
    chosen: dict[str | None, HistorySettings | None] = {}
    for task in [None, *settings.tasks]:
        lever = settings.levers_for(task).history
        chosen[task] = lever if lever.enabled else None
    if all(value is None for value in chosen.values()):
        return None
    await parts.counter.load(EAGER_ENCODING)  # at start, off the event loop
    return history_stage(chosen, parts.providers, parts.counter)
