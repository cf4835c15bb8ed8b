"""Output control: cap the answer's length per task, add stop sequences, flag truncation.

``[levers.output] enabled = true`` (or per task under ``[tasks.TASK.output]``):

* ``max_output_tokens = N`` lowers the request's output limit to ``N`` when the app asked
  for more or for no limit.  What the cap saves cannot be known (nobody saw the longer
  answer), so the step states no token change and claims no saving.
* ``stop_sequences = [...]`` are added to the app's own (OpenAI takes four at most: the
  app's come first).  Reasoning models that refuse ``stop`` (OpenAI o1/o3/o4, gpt-5) get
  none added.
* An answer cut by its length limit (OpenAI ``finish_reason: "length"``, Anthropic
  ``stop_reason: "max_tokens"``) gets an ``x-thrifty-truncated: true`` header (a streamed
  one cannot: its headers left before its end) and a step that the ledger keeps, so
  ``thrifty report`` counts truncated answers per task and a cap that is too tight shows.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from thrifty.config import Settings
from thrifty.dialects.view import RequestView
from thrifty.ledger.figures import TRUNCATED_MARK
from thrifty.streams import observe
from thrifty.types import ChatRequest, ChatResponse, Handler, Stage, Step, StreamEvent

if TYPE_CHECKING:
    from thrifty.pipeline import Parts

OPENAI_MAX_STOPS = 4
NO_STOP_MODELS = ("o1", "o3", "o4", "gpt-5")  # OpenAI models that reject `stop`
TRUNCATED_HEADER = "truncated"
_CUT: dict[str, frozenset[str]] = {
    "openai": frozenset({"length"}),
    "anthropic": frozenset({"max_tokens", "model_context_window_exceeded"}),
}
# What a streamed event that ends an answer by its limit holds, before it is parsed.
_CUT_BYTES: dict[str, tuple[bytes, ...]] = {
    "openai": (b'"length"',),
    "anthropic": (b'"max_tokens"', b'"model_context_window_exceeded"'),
}


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
            response = await inner(sent)
            response.steps.extend(Step(lever="output", detail=d) for d in did)
            _watch(response, sent)
            return response

        return handle

    return wrap


def _apply(rule: OutputRule, request: ChatRequest) -> tuple[ChatRequest, list[str]]:
    did: list[str] = []
    view = RequestView.of(request)
    cap = rule.max_output_tokens
    asked = view.max_output_tokens
    if cap is not None and (asked is None or asked > cap):
        request = view.with_max_output_tokens(cap)
        did.append(f"max output tokens {asked or 'unset'} -> {cap}")
        view = RequestView.of(request)
    if rule.stop_sequences and not request.model.startswith(NO_STOP_MODELS):
        own = list(view.sampling.get("stop") or ())
        added = [s for s in rule.stop_sequences if s not in own]
        if request.dialect == "openai":
            added = added[: max(0, OPENAI_MAX_STOPS - len(own))]
        if added:
            request = view.with_stop([*own, *added])
            did.append(f"stop sequences added: {len(added)}")
    return request, did


def cut_short(dialect: str, body: Any) -> bool:
    """Whether a complete answer ``body`` was cut by its length limit."""
    if not isinstance(body, dict):
        return False
    reasons = _CUT[dialect]
    if dialect == "anthropic":
        return body.get("stop_reason") in reasons
    choices = body.get("choices")
    if not isinstance(choices, list):
        return False
    return any(isinstance(c, dict) and c.get("finish_reason") in reasons for c in choices)


def _truncated_step(request: ChatRequest) -> Step:
    limit = RequestView.of(request).max_output_tokens
    at = f"{limit} tokens" if limit else "the model's own limit"
    return Step(lever="output", detail=f"{TRUNCATED_MARK} at {at}")


def _watch(response: ChatResponse, sent: ChatRequest) -> None:
    if response.stream is None:
        if cut_short(response.dialect, response.body):
            response.headers[TRUNCATED_HEADER] = "true"
            response.steps.append(_truncated_step(sent))
        return
    watch = _CutWatch(response.stream, response.dialect)
    response.stream = watch

    async def on_complete() -> None:
        if watch.cut:
            response.steps.append(_truncated_step(sent))

    async def on_abort(exc: BaseException | None, handed_on: bool) -> None:
        return None

    observe(response, on_complete=on_complete, on_abort=on_abort)


class _CutWatch:
    """A stream passed through batch by batch, noting an event that ends the answer by its
    limit (a byte search first; only a matching event is parsed)."""

    __slots__ = ("_it", "_markers", "_upstream", "cut", "dialect")

    def __init__(self, upstream: AsyncIterator[Sequence[StreamEvent]], dialect: str) -> None:
        self._upstream = upstream
        self._it = upstream.__aiter__()
        self._markers = _CUT_BYTES[dialect]
        self.dialect = dialect
        self.cut = False

    def __aiter__(self) -> _CutWatch:
        return self

    async def __anext__(self) -> Sequence[StreamEvent]:
        batch = await self._it.__anext__()
        if not self.cut:
            for event in batch:
                if any(m in event.raw for m in self._markers) and self._ends_cut(event):
                    self.cut = True
        return batch

    def _ends_cut(self, event: StreamEvent) -> bool:
        try:
            data = event.data
        except ValueError:
            return False
        if data is None:
            return False
        if self.dialect == "anthropic":
            delta = data.get("delta")
            return isinstance(delta, dict) and delta.get("stop_reason") in _CUT["anthropic"]
        return cut_short("openai", data)

    async def aclose(self) -> None:
        close = getattr(self._upstream, "aclose", None)
        if close is not None:
            await close()


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
