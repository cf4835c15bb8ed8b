"""The router file: a fitted prompt router as plain JSON (no pickled code), checked on load.

::

    {"format": "thrifty-learned-router", "version": 1,
     "features": "tfidf" | "minilm",        # what the prompt becomes before the classifier
     "models": ["small", "medium", "large"],  # every model of the training records
     "candidates": [0, 2],                 # models it may pick, cheapest first (indices)
     "strongest": 2,                       # the fallback when no candidate is adequate
     "thresholds": {"0.95": 0.71, ...},    # quality target -> threshold, chosen on train
     "weights": [[...], ...],              # [features][candidates] logistic weights
     "intercepts": [...],                  # [candidates]
     "tfidf": {"vocabulary": {"term": 0, ...}, "idf": [...], "ngram_range": [1, 2]},
     "tasks": {"summarise": 0, ...},       # optional, tfidf only: x-thrifty-task -> column;
                                           # its weights rows follow the vocabulary's
     "embedder": "all-MiniLM-L6-v2-onnx-int8",   # minilm only
     "trained_on": {"rows": 1019, "source": "...", ...}}   # for people; not read

A quality target is a share of the strongest model's train quality; its threshold is the
one that met it at the lowest cost on out-of-fold train predictions (``thrifty eval
route``'s method).  Every size is bounded, every number must be finite: a damaged or hostile
file is refused with a :class:`RouterFileError` naming the file and the field.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import orjson

__all__ = ["FORMAT", "RouterFile", "RouterFileError", "load_router", "save_router"]

FORMAT = "thrifty-learned-router"
VERSION = 1
MAX_FILE_BYTES = 64 * 2**20
MAX_MODELS = 64
MAX_NAME = 256
MAX_FEATURES = 500_000
MAX_NGRAM = 3
MAX_TASKS = 10_000
Features = Literal["tfidf", "minilm"]


class RouterFileError(ValueError):
    """A router file that is not a valid router (the message names the problem)."""


@dataclass(frozen=True)
class RouterFile:
    features: Features
    models: tuple[str, ...]
    candidates: tuple[int, ...]
    strongest: int
    thresholds: Mapping[float, float]  # quality target share -> threshold
    weights: list[list[float]]  # [features][candidates]
    intercepts: tuple[float, ...]
    vocabulary: Mapping[str, int] = field(default_factory=dict)  # tfidf only
    idf: tuple[float, ...] = ()  # tfidf only
    ngram_range: tuple[int, int] = (1, 2)  # tfidf only
    tasks: Mapping[str, int] = field(default_factory=dict)  # tfidf only: task -> column
    embedder: str | None = None  # minilm only: the model id the weights were fitted on
    trained_on: Mapping[str, Any] = field(default_factory=dict)

    def threshold_for(self, target: float) -> float:
        """The threshold of the smallest listed target at or above ``target`` (never a
        laxer one); above every listed target: the strictest."""
        listed = sorted(self.thresholds)
        chosen = next((t for t in listed if t >= target - 1e-12), listed[-1])
        return self.thresholds[chosen]

    def to_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "format": FORMAT,
            "version": VERSION,
            "features": self.features,
            "models": list(self.models),
            "candidates": list(self.candidates),
            "strongest": self.strongest,
            "thresholds": {f"{k:.4g}": v for k, v in sorted(self.thresholds.items())},
            "weights": self.weights,
            "intercepts": list(self.intercepts),
            "trained_on": dict(self.trained_on),
        }
        if self.features == "tfidf":
            document["tfidf"] = {
                "vocabulary": dict(self.vocabulary),
                "idf": list(self.idf),
                "ngram_range": list(self.ngram_range),
            }
            if self.tasks:
                document["tasks"] = dict(self.tasks)
        else:
            document["embedder"] = self.embedder
        return document


def save_router(router: RouterFile, path: Path) -> None:
    """Write ``router`` to ``path`` (checked first: what is saved loads again)."""
    encoded = orjson.dumps(router.to_json())
    parse_router(orjson.loads(encoded), str(path))
    path.write_bytes(encoded)


def load_router(path: Path) -> RouterFile:
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise RouterFileError(f"{path}: larger than {MAX_FILE_BYTES} bytes")
        document = orjson.loads(path.read_bytes())
    except OSError as exc:
        raise RouterFileError(f"{path}: cannot read the router file ({exc.strerror})") from None
    except orjson.JSONDecodeError as exc:
        raise RouterFileError(f"{path}: not JSON ({exc})") from None
    return parse_router(document, str(path))


def _fail(source: str, message: str) -> RouterFileError:
    return RouterFileError(f"{source}: {message}")


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _numbers(value: object, length: int, what: str, source: str) -> tuple[float, ...]:
    if not isinstance(value, list) or len(value) != length:
        raise _fail(source, f"{what} must be a list of {length} numbers")
    numbers = tuple(_number(v) for v in value)
    if any(n is None for n in numbers):
        raise _fail(source, f"{what} must hold finite numbers only")
    return numbers  # type: ignore[return-value]


def _index(value: object, models: int, what: str, source: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < models:
        raise _fail(source, f"{what} must be a model index below {models}")
    return value


def _models(document: Mapping[str, Any], source: str) -> tuple[str, ...]:
    models = document.get("models")
    if (
        not isinstance(models, list)
        or not 2 <= len(models) <= MAX_MODELS
        or not all(isinstance(m, str) and 0 < len(m) <= MAX_NAME for m in models)
        or len(set(models)) != len(models)
    ):
        raise _fail(source, f"models must be 2 to {MAX_MODELS} distinct names")
    return tuple(models)


def _thresholds(raw: object, source: str) -> dict[float, float]:
    if not isinstance(raw, dict) or not raw or len(raw) > 1000:
        raise _fail(source, "thresholds must map quality targets to thresholds")
    thresholds: dict[float, float] = {}
    for key, value in raw.items():
        try:
            target = float(key)
        except ValueError:
            raise _fail(source, f"threshold target {key!r} is not a number") from None
        threshold = _number(value)
        if not 0 < target <= 1 or threshold is None:
            raise _fail(source, f"threshold {key!r}: the target must be in (0, 1], finite")
        thresholds[target] = threshold
    return thresholds


def _tasks(raw: object, source: str) -> dict[str, int]:
    """The optional task columns: distinct names of at most MAX_NAME chars, columns 0..k-1."""
    if raw is None:
        return {}
    if not isinstance(raw, dict) or not 0 < len(raw) <= MAX_TASKS:
        raise _fail(source, f"tasks must map 1 to {MAX_TASKS} task names to columns")
    for name, column in raw.items():
        if not isinstance(name, str) or not 0 < len(name) <= MAX_NAME:
            raise _fail(source, f"a task name must be 1 to {MAX_NAME} characters")
        if isinstance(column, bool) or not isinstance(column, int):
            raise _fail(source, "tasks must map task names to column numbers")
    if set(raw.values()) != set(range(len(raw))):
        raise _fail(source, "tasks must use each column once")
    return dict(raw)


def _tfidf(raw: object, rows: int, source: str) -> tuple[dict[str, int], tuple[float, ...], Any]:
    if not isinstance(raw, dict):
        raise _fail(source, "a tfidf router needs its tfidf table")
    vocabulary = raw.get("vocabulary")
    if not isinstance(vocabulary, dict) or len(vocabulary) != rows:
        raise _fail(source, f"tfidf.vocabulary must map {rows} terms to columns")
    columns = set()
    for term, column in vocabulary.items():
        if not isinstance(term, str) or isinstance(column, bool) or not isinstance(column, int):
            raise _fail(source, "tfidf.vocabulary must map terms to column numbers")
        columns.add(column)
    if columns != set(range(rows)):
        raise _fail(source, "tfidf.vocabulary must use each column once")
    idf = _numbers(raw.get("idf"), rows, "tfidf.idf", source)
    if any(v <= 0 for v in idf):
        raise _fail(source, "tfidf.idf must be positive")
    ngram = raw.get("ngram_range")
    if (
        not isinstance(ngram, list)
        or len(ngram) != 2
        or not all(isinstance(n, int) and not isinstance(n, bool) for n in ngram)
        or not 1 <= ngram[0] <= ngram[1] <= MAX_NGRAM
    ):
        raise _fail(source, f"tfidf.ngram_range must be [low, high] within 1..{MAX_NGRAM}")
    return vocabulary, idf, (ngram[0], ngram[1])


def parse_router(document: object, source: str) -> RouterFile:
    """A :class:`RouterFile` from its decoded JSON (raises :class:`RouterFileError`)."""
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise _fail(source, f"not a router file (format must be {FORMAT!r})")
    if document.get("version") != VERSION:
        raise _fail(source, f"router file version {document.get('version')!r}; {VERSION} known")
    features = document.get("features")
    if features not in ("tfidf", "minilm"):
        raise _fail(source, "features must be 'tfidf' or 'minilm'")
    models = _models(document, source)
    raw_candidates = document.get("candidates")
    if not isinstance(raw_candidates, list) or not 1 <= len(raw_candidates) <= len(models):
        raise _fail(source, "candidates must list 1 or more model indices")
    candidates = tuple(_index(c, len(models), "a candidate", source) for c in raw_candidates)
    if len(set(candidates)) != len(candidates):
        raise _fail(source, "candidates must be distinct")
    strongest = _index(document.get("strongest"), len(models), "strongest", source)
    weights = document.get("weights")
    if not isinstance(weights, list) or not 1 <= len(weights) <= MAX_FEATURES:
        raise _fail(source, f"weights must be 1 to {MAX_FEATURES} rows")
    rows = [list(_numbers(row, len(candidates), "a weights row", source)) for row in weights]
    intercepts = _numbers(document.get("intercepts"), len(candidates), "intercepts", source)
    trained_on = document.get("trained_on", {})
    if not isinstance(trained_on, dict):
        raise _fail(source, "trained_on must be an object")
    common: dict[str, Any] = {
        "models": models,
        "candidates": candidates,
        "strongest": strongest,
        "thresholds": _thresholds(document.get("thresholds"), source),
        "weights": rows,
        "intercepts": intercepts,
        "trained_on": trained_on,
    }
    tasks = _tasks(document.get("tasks"), source)
    if features == "tfidf":
        if len(tasks) >= len(rows):
            raise _fail(source, "weights must have a row per term and then per task")
        table = document.get("tfidf")
        vocabulary, idf, ngram = _tfidf(table, len(rows) - len(tasks), source)
        return RouterFile(
            "tfidf", vocabulary=vocabulary, idf=idf, ngram_range=ngram, tasks=tasks, **common
        )
    if tasks:
        raise _fail(source, "only a tfidf router reads tasks")
    embedder = document.get("embedder")
    if not isinstance(embedder, str) or not 0 < len(embedder) <= MAX_NAME:
        raise _fail(source, "a minilm router names its embedder")
    return RouterFile("minilm", embedder=embedder, **common)
