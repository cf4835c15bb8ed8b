"""Output control: cap the answer's length per task, add stop sequences, flag truncation.

``[levers.output] enabled = true`` (or per task under ``[tasks.TASK.output]``):

* ``max_output_tokens = N`` lowers the request's output limit to ``N`` when the app asked
  for more or for no limit.  What the cap saves cannot be known (nobody saw the longer
  answer), so the step states no token change and claims no saving.
* ``stop_sequences = [...]`` are added to the app's own (OpenAI takes four at most: the
  app's come first).  Reasoning models that refuse ``stop`` (OpenAI o1/o3/o4, gpt-5) get
  none added.
* A request whose own stop field the provider would refuse (not a list of strings) is
  sent as the app wrote it, neither capped nor given stops: the step and the
  ``x-thrifty-output-warning`` header say so.
* An answer cut by its length limit gets a step that says at which limit
  (``output: truncated at 50 tokens``), so a cap that is too tight shows in the row's
  detail.  Whether it was cut is not this lever's finding: the provider reads it from the
  upstream's answer (``ChatResponse.truncated``, see :mod:`thrifty.providers.finish`), and
  the ledger's ``truncated`` column, ``thrifty report``'s count per task and the gateway's
  ``x-thrifty-truncated`` header come from that fact whether this lever is on or not.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from thrifty.config import Settings
from thrifty.dialects._common import stop_strings
from thrifty.dialects.view import RequestView
from thrifty.ledger.figures import TRUNCATED_MARK
from thrifty.lever_warnings import call_warned
from thrifty.streams import observe
from thrifty.types import ChatRequest, ChatResponse, Handler, Stage, Step

if TYPE_CHECKING:
    from thrifty.pipeline import Parts

OPENAI_MAX_STOPS = 4
NO_STOP_MODELS = ("o1", "o3", "o4", "gpt-5")  # OpenAI models that reject `stop`
WARNING_HEADER = "output-warning"
UNREADABLE_STOP = "sent unchanged: the app's stop sequences are not a list of strings"


@dataclass(frozen=True, slots=True)
class OutputRule:
    """What the lever does for one task."""

    max_output_tokens: int | None = None
    stop_sequences: tuple[str, ...] = ()


def output_stage(rules: Mapping[str | None, OutputRule | None]) -> Stage:
    """``rules`` maps a task (``None``: any other task) to its rule (``None``: the lever is
    off for that task)."""
    default = rules.get(None)

    def wrap(inner: Handler) -> Handler:
        async def handle(request: ChatRequest) -> ChatResponse:
            rule = rules.get(request.task, default)
            if rule is None or request.api != "chat":  # it reads and writes chat bodies only
                return await inner(request)
            sent, did = _apply(rule, request)
            if UNREADABLE_STOP in did:
                response = await call_warned(inner, sent, WARNING_HEADER, UNREADABLE_STOP)
            else:
                response = await inner(sent)
            response.steps.extend(Step(lever="output", detail=d) for d in did)
            _watch(response, sent)
            return response

        return handle

    return wrap


def _apply(rule: OutputRule, request: ChatRequest) -> tuple[ChatRequest, list[str]]:
    did: list[str] = []
    own = _own_stops(request)
    if own is None:  # the provider will refuse it: sent as the app wrote it
        return request, [UNREADABLE_STOP]
    view = RequestView.of(request)
    cap = rule.max_output_tokens
    asked = view.max_output_tokens
    if cap is not None and (asked is None or asked > cap):
        request = view.with_max_output_tokens(cap)
        did.append(f"max output tokens {asked or 'unset'} -> {cap}")
        view = RequestView.of(request)
    if rule.stop_sequences and not request.model.startswith(NO_STOP_MODELS):
        added = [s for s in rule.stop_sequences if s not in own]
        if request.dialect == "openai":
            added = added[: max(0, OPENAI_MAX_STOPS - len(own))]
        if added:
            request = view.with_stop([*own, *added])
            did.append(f"stop sequences added: {len(added)}")
    return request, did


def _own_stops(request: ChatRequest) -> list[str] | None:
    """The app's own stop sequences, or ``None`` when they are not what the provider takes
    (OpenAI ``stop``: a string or a list of strings; Anthropic ``stop_sequences``: a list
    of strings).  Such a request is not "fixed": no stop is added, so the provider's error
    reaches the app as it would without thrifty."""
    openai = request.dialect == "openai"
    own = request.body.get("stop" if openai else "stop_sequences")
    return stop_strings(own, one_string_allowed=openai)


def _truncated_step(request: ChatRequest) -> Step:
    limit = RequestView.of(request).max_output_tokens
    at = f"{limit} tokens" if limit else "the model's own limit"
    return Step(lever="output", detail=f"{TRUNCATED_MARK} at {at}")


def _watch(response: ChatResponse, sent: ChatRequest) -> None:
    """Say at which limit the answer was cut, once the provider knows it was (a stream's
    final events say so: the step is added when it completes)."""
    if response.stream is None:
        if response.truncated:
            response.steps.append(_truncated_step(sent))
        return

    async def on_complete() -> None:
        if response.truncated:
            response.steps.append(_truncated_step(sent))

    async def on_abort(exc: BaseException | None, handed_on: bool) -> None:
        return None

    observe(response, on_complete=on_complete, on_abort=on_abort)


def rules_of(settings: Settings) -> dict[str | None, OutputRule | None]:
    """Each task's rule from the settings (``None``: the lever is off for it)."""
    rules: dict[str | None, OutputRule | None] = {}
    for task in [None, *settings.tasks]:
        lever = settings.levers_for(task).output
        rules[task] = (
            OutputRule(lever.max_output_tokens, lever.stop_sequences) if lever.enabled else None
        )
    return rules


async def build(parts: Parts) -> Stage | None:
    rules = rules_of(parts.settings)
    if all(rule is None for rule in rules.values()):
        return None
    return output_stage(rules)
