"""A tiny float TF Lite model in the layout of the TF Lite starter PoseNet, built here.

The starter model (float input in [-1, 1], four float outputs: heatmaps, offsets,
displacement_fwd, displacement_bwd, stride 32 at 257x257) is not among the shared
models, so this builds one of the same layout with ai-edge-litert's flatbuffer schema:
each output is a 1x1 convolution of the input at stride 16 ('valid' padding), whose
result a test can compute with NumPy.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

STRIDE = 16
#: (name, channels), in the starter model's output order (not the decoder's)
OUTPUTS = (("MobilenetV1/offset_2/BiasAdd", 34), ("MobilenetV1/displacement_bwd_2/BiasAdd", 32),
           ("MobilenetV1/heatmap_2/BiasAdd", 17), ("MobilenetV1/displacement_fwd_2/BiasAdd", 32))


def weights(channels: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(channels, 1, 1, 3)).astype(np.float32),
            rng.normal(size=channels).astype(np.float32))


def expected(batch: np.ndarray) -> dict[str, np.ndarray]:
    """What the model computes for a float batch (N, H, W, 3): name -> (N, h, w, C)."""
    sampled = batch[:, ::STRIDE, ::STRIDE, :]
    return {name: np.einsum("nyxk,ck->nyxc", sampled, w[:, 0, 0, :]) + b
            for i, (name, channels) in enumerate(OUTPUTS) for w, b in [weights(channels, i)]}


def add_tensor(tensors: list, buffers: list, name: str, shape: list[int],
               data: np.ndarray | None = None) -> int:
    """Append a float32 tensor (with ``data`` in a buffer of its own, if given) to a
    graph's ``tensors`` and the model's ``buffers``; returns its index."""
    from ai_edge_litert import schema_py_generated as s

    tensor = s.TensorT()
    tensor.shape, tensor.type, tensor.name, tensor.buffer = shape, s.TensorType.FLOAT32, name, 0
    if data is not None:
        buffer = s.BufferT()
        buffer.data = np.frombuffer(data.tobytes(), np.uint8)
        buffers.append(buffer)
        tensor.buffer = len(buffers) - 1
    tensors.append(tensor)
    return len(tensors) - 1


def write_model(path: Path, height: int = 33, width: int = 33) -> Path:
    import flatbuffers
    from ai_edge_litert import schema_py_generated as s

    tensors = [s.TensorT()]
    tensors[0].shape, tensors[0].type, tensors[0].buffer, tensors[0].name = (
        [1, height, width, 3], s.TensorType.FLOAT32, 0, "image")
    buffers = [s.BufferT()]
    operators = []
    grid = ((height - 1) // STRIDE + 1, (width - 1) // STRIDE + 1)
    outputs = []
    for i, (name, channels) in enumerate(OUTPUTS):
        w, b = weights(channels, i)
        ids = [add_tensor(tensors, buffers, tensor_name, shape, data)
               for tensor_name, shape, data in ((f"{name}/weights", list(w.shape), w),
                                                (f"{name}/bias", [channels], b),
                                                (name, [1, *grid, channels], None))]
        options = s.Conv2DOptionsT()
        options.padding, options.strideW, options.strideH = s.Padding.VALID, STRIDE, STRIDE
        op = s.OperatorT()
        op.opcodeIndex, op.inputs, op.outputs = 0, [0, ids[0], ids[1]], [ids[2]]
        op.builtinOptionsType, op.builtinOptions = s.BuiltinOptions.Conv2DOptions, options
        operators.append(op)
        outputs.append(ids[2])
    code = s.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = s.BuiltinOperator.CONV_2D
    code.version = 1
    graph = s.SubGraphT()
    graph.tensors, graph.inputs, graph.outputs, graph.operators = tensors, [0], outputs, operators
    graph.name = "main"
    model = s.ModelT()
    model.version, model.operatorCodes, model.subgraphs, model.buffers = 3, [code], [graph], buffers
    model.description = "posefast test: the starter PoseNet's layout"
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    path.write_bytes(builder.Output())
    return path
