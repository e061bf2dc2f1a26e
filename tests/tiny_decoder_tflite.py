"""Tiny float TF Lite models that end in a custom operator, built here.

``write_model`` makes a ResNet-like PoseNet: a 7x7 convolution at stride 32 ('valid'
padding, no depthwise convolution: a ResNet's stem as the stride rewrite sees it), then
three 1x1 convolutions giving heatmaps (17 channels), short offsets (34) and mid
offsets (64), fed to a custom operator (``PosenetDecoderOp`` with a FlexBuffer map of
options, or any other name). ``expected`` computes its three tensors with NumPy.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from tiny_tflite import add_tensor

STRIDE = 32
KERNEL = 7
STEM = 8  # channels of the stem
HEADS = (("heatmaps", 17), ("short_offsets", 34), ("mid_offsets", 64))
DEFAULT_OPTIONS = {"max_detections": 5, "score_threshold": 0.3, "stride": STRIDE,
                   "nms_radius": 15.0}


def _weights(shape: tuple[int, ...], seed: int) -> np.ndarray:
    return (np.random.default_rng(seed).normal(size=shape) * 0.2).astype(np.float32)


def _layers() -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(name, OHWI weights, bias) of the stem, then the heads."""
    layers = [("resnet_v1_50/conv1", _weights((STEM, KERNEL, KERNEL, 3), 0),
               _weights((STEM,), 1))]
    for i, (name, channels) in enumerate(HEADS):
        layers.append((name, _weights((channels, 1, 1, STEM), 10 + i), _weights((channels,), 20 + i)))
    return layers


def grid(height: int, width: int) -> tuple[int, int]:
    return (height - KERNEL) // STRIDE + 1, (width - KERNEL) // STRIDE + 1


def expected(batch: np.ndarray) -> list[np.ndarray]:
    """The heatmaps, short offsets and mid offsets for a float batch (N, H, W, 3)."""
    stem_name, w, b = _layers()[0]
    gh, gw = grid(batch.shape[1], batch.shape[2])
    stem = np.empty((batch.shape[0], gh, gw, STEM), np.float64)
    for y in range(gh):
        for x in range(gw):
            patch = batch[:, y * STRIDE:y * STRIDE + KERNEL, x * STRIDE:x * STRIDE + KERNEL, :]
            stem[:, y, x] = np.einsum("nhwk,chwk->nc", patch, w) + b
    return [np.einsum("nyxk,ck->nyxc", stem, hw[:, 0, 0, :]) + hb for _, hw, hb in _layers()[1:]]


def write_model(path: Path, height: int = 231, width: int = 327, op: str = "PosenetDecoderOp",
                options: dict | None = DEFAULT_OPTIONS) -> Path:
    import flatbuffers
    from ai_edge_litert import schema_py_generated as s
    from flatbuffers import flexbuffers

    tensors, buffers = [], [s.BufferT()]

    def tensor(name: str, shape: list[int], data: np.ndarray | None = None) -> int:
        return add_tensor(tensors, buffers, name, shape, data)

    image = tensor("image", [1, height, width, 3])
    gh, gw = grid(height, width)
    operators, heads, stem = [], [], image
    for i, (name, w, b) in enumerate(_layers()):
        source = image if i == 0 else stem
        out = tensor(name, [1, gh, gw, w.shape[0]])
        options_t = s.Conv2DOptionsT()
        options_t.padding = s.Padding.VALID
        options_t.strideH = options_t.strideW = STRIDE if i == 0 else 1
        o = s.OperatorT()
        o.opcodeIndex = 0
        o.inputs = [source, tensor(name + "/weights", list(w.shape), w),
                    tensor(name + "/bias", [w.shape[0]], b)]
        o.outputs = [out]
        o.builtinOptionsType, o.builtinOptions = s.BuiltinOptions.Conv2DOptions, options_t
        operators.append(o)
        if i == 0:
            stem = out
        else:
            heads.append(out)
    poses = [tensor(f"poses:{i}", []) for i in range(4)]
    custom = s.OperatorT()
    custom.opcodeIndex, custom.inputs, custom.outputs = 1, heads, poses
    if options is not None:
        custom.customOptions = np.frombuffer(flexbuffers.Dumps(options), np.uint8)
    custom.customOptionsFormat = s.CustomOptionsFormat.FLEXBUFFERS
    operators.append(custom)
    conv, custom_code = s.OperatorCodeT(), s.OperatorCodeT()
    conv.builtinCode = conv.deprecatedBuiltinCode = s.BuiltinOperator.CONV_2D
    custom_code.builtinCode = custom_code.deprecatedBuiltinCode = s.BuiltinOperator.CUSTOM
    custom_code.customCode = op
    conv.version = custom_code.version = 1
    graph = s.SubGraphT()
    graph.tensors, graph.inputs, graph.outputs, graph.operators = tensors, [image], poses, operators
    model = s.ModelT()
    model.version, model.operatorCodes, model.subgraphs, model.buffers = (
        3, [conv, custom_code], [graph], buffers)
    model.description = f"posefast test: a ResNet-like PoseNet ending in {op}"
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    path.write_bytes(builder.Output())
    return path
