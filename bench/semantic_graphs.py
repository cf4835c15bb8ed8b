"""Rewrites of the shipped embedding model's graph, for bench/semantic_embedding.py (needs
the ``onnx`` package, which is not a dependency).

The shipped model is all-MiniLM-L6-v2 with weight-only int8: every projection is
``MatMul(x, Cast(q) * scale)`` with ``q`` int8 and one scale per output column, which
onnxruntime folds into float32 weights when it loads the model.  Each rewrite below keeps
``q`` and the scales exactly and changes only how the product is computed:

* ``float_weights``: the int8 weights turned into float32 weights offline (what the
  session's constant folding does at load: the same run, to check that claim);
* ``dynamic_int8``: ``DynamicQuantizeMatMul`` on the same int8 weights, the activations
  quantised to 8 bits per tensor at run time (integer matrix products);
* ``blockwise_int8``: ``MatMulNBits`` with 8-bit weights (the same ``q``, one scale per
  column repeated per block), activations quantised per block of ``block`` values
  (onnxruntime's accuracy level 4).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["blockwise_int8", "dynamic_int8", "float_weights"]

# (x's name, int8 weights, column scales, the MatMul's output) -> the nodes and initialisers
Replace = Callable[[str, Any, Any, str], tuple[list[Any], list[Any]]]


def _rewrite(model: str, out: Path, replace: Replace) -> str:
    import onnx
    from onnx import numpy_helper

    graph_model = onnx.load(model)
    graph = graph_model.graph
    stored = {i.name: i for i in graph.initializer}
    made_by = {output: node for node in graph.node for output in node.output}
    nodes: list[Any] = []
    added: list[Any] = []
    for node in graph.node:
        scaled = made_by.get(node.input[1]) if node.op_type == "MatMul" else None
        cast = made_by.get(scaled.input[0]) if scaled and scaled.op_type == "Mul" else None
        if cast is None or cast.op_type != "Cast" or cast.input[0] not in stored:
            nodes.append(node)
            continue
        weights = numpy_helper.to_array(stored[cast.input[0]])
        scales = numpy_helper.to_array(stored[scaled.input[1]]).astype(np.float32).reshape(-1)
        new_nodes, new_inits = replace(node.input[0], weights, scales, node.output[0])
        nodes += new_nodes
        added += new_inits
    outputs = {v.name for v in graph.output}
    while True:  # drop the Cast/Mul pairs nothing reads any more
        read = {name for node in nodes for name in node.input} | outputs
        kept = [node for node in nodes if any(o in read for o in node.output)]
        if len(kept) == len(nodes):
            break
        nodes = kept
    read = {name for node in nodes for name in node.input}
    initialisers = [i for i in graph.initializer if i.name in read] + added
    graph.ClearField("node")
    graph.node.extend(nodes)
    graph.ClearField("initializer")
    graph.initializer.extend(initialisers)
    graph_model.opset_import.append(onnx.helper.make_opsetid("com.microsoft", 1))
    onnx.save(graph_model, str(out))
    return str(out)


def float_weights(model: str, out: Path) -> str:
    from onnx import helper, numpy_helper

    def replace(x: str, q: Any, scales: Any, output: str) -> tuple[list[Any], list[Any]]:
        weights = (q.astype(np.float32) * scales[None, :]).astype(np.float32)
        name = f"{output}_float_weights"
        node = helper.make_node("MatMul", [x, name], [output])
        return [node], [numpy_helper.from_array(weights, name)]

    return _rewrite(model, out, replace)


def dynamic_int8(model: str, out: Path) -> str:
    from onnx import helper, numpy_helper

    def replace(x: str, q: Any, scales: Any, output: str) -> tuple[list[Any], list[Any]]:
        names = [f"{output}_{part}" for part in ("q", "scale", "zero")]
        node = helper.make_node(
            "DynamicQuantizeMatMul", [x, *names], [output], domain="com.microsoft"
        )
        values = [q, scales, np.zeros(scales.shape, np.int8)]
        return [node], [numpy_helper.from_array(v, n) for v, n in zip(values, names, strict=True)]

    return _rewrite(model, out, replace)


def blockwise_int8(model: str, out: Path, block: int = 32) -> str:
    from onnx import helper, numpy_helper

    def replace(x: str, q: Any, scales: Any, output: str) -> tuple[list[Any], list[Any]]:
        rows, columns = q.shape
        blocks = rows // block
        packed = (q.astype(np.int16) + 128).astype(np.uint8).T.reshape(columns, blocks, block)
        per_block = np.repeat(scales[:, None], blocks, axis=1).reshape(-1)
        names = [f"{output}_packed", f"{output}_scales"]
        node = helper.make_node(
            "MatMulNBits",
            [x, *names],
            [output],
            domain="com.microsoft",
            K=rows,
            N=columns,
            bits=8,
            block_size=block,
            accuracy_level=4,
        )
        values = [packed, per_block.astype(np.float32)]
        return [node], [numpy_helper.from_array(v, n) for v, n in zip(values, names, strict=True)]

    return _rewrite(model, out, replace)
