"""A float32 copy of a quantised TF Lite model, for a converter that cannot read its
quantisation.

tflite2onnx converts uint8 models quantised per tensor (as TOCO wrote Coral's
component models), not the int8 models TF Lite's MLIR converter writes, whose weights
are quantised per output channel (Coral's test-data decoder models). Those become float
here: every quantised constant is dequantised (``real = (q - zero_point) * scale``,
per channel along the tensor's quantised dimension), every quantised tensor becomes
float32, and the QUANTIZE / DEQUANTIZE operators, identities in float, are dropped. The
float graph computes what the quantised one approximates, without its rounding and
without the clipping of each tensor's range, except where that clipping is the layer's
activation: a convolution whose output range starts at 0 without a fused activation
(TOCO leaves ReLU6 to the range) gets ReLU6 or ReLU fused. The graph's input and
output names stay.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from .tflite_schema import tflite_schema

#: TF Lite tensor types holding quantised values, as NumPy dtypes.
_QUANTISED = {"UINT8": np.uint8, "INT8": np.int8, "INT16": np.int16, "INT32": np.int32}


def input_quantisation(path: str | os.PathLike) -> tuple[float, int] | None:
    """(scale, zero point) of the quantised input of the TF Lite model ``path``, or None."""
    s = tflite_schema()
    graph = s.Model.GetRootAsModel(Path(path).read_bytes(), 0).Subgraphs(0)
    quant = graph.Tensors(graph.Inputs(0)).Quantization()
    if quant is None or quant.ScaleLength() != 1:
        return None
    return float(quant.Scale(0)), int(quant.ZeroPoint(0)) if quant.ZeroPointLength() else 0


def per_channel_tensor(path: str | os.PathLike) -> str:
    """The name of a tensor of the TF Lite model ``path`` quantised per channel, or ""."""
    s = tflite_schema()
    graph = s.Model.GetRootAsModel(Path(path).read_bytes(), 0).Subgraphs(0)
    for i in range(graph.TensorsLength()):
        quant = graph.Tensors(i).Quantization()
        if quant is not None and quant.ScaleLength() > 1:
            return (graph.Tensors(i).Name() or b"?").decode("utf-8", "replace")
    return ""


def dequantize_tflite(source: str | os.PathLike, target: str | os.PathLike) -> None:
    """Write the float32 copy of the quantised TF Lite model ``source`` to ``target``."""
    import flatbuffers

    s = tflite_schema()
    data = Path(source).read_bytes()
    model = s.ModelT.InitFromObj(s.Model.GetRootAsModel(data, 0))
    types = {v: k for k, v in vars(s.TensorType).items() if not k.startswith("_")}
    graph = model.subgraphs[0]
    _fuse_range_activations(s, model, graph, types)
    for tensor in graph.tensors:
        quant = tensor.quantization
        kind = types.get(tensor.type)
        if quant is None or quant.scale is None or len(quant.scale) == 0 or kind not in _QUANTISED:
            continue
        buffer = model.buffers[tensor.buffer] if tensor.buffer else None
        if buffer is not None and buffer.data is not None and len(buffer.data):
            values = np.frombuffer(np.asarray(buffer.data, np.uint8).tobytes(),
                                   _QUANTISED[kind]).reshape(tensor.shape)
            shape = [1] * values.ndim
            if len(quant.scale) > 1:
                shape[quant.quantizedDimension] = len(quant.scale)
            scale = np.asarray(quant.scale, np.float64).reshape(shape)
            zero = np.asarray(quant.zeroPoint if quant.zeroPoint is not None else [0],
                              np.float64)
            zero = zero.reshape(shape if zero.size > 1 else [1] * values.ndim)
            real = ((values.astype(np.float64) - zero) * scale).astype(np.float32)
            fresh = s.BufferT()  # a buffer of its own: another tensor may share the old
            fresh.data = np.frombuffer(real.tobytes(), np.uint8)
            model.buffers.append(fresh)
            tensor.buffer = len(model.buffers) - 1
        tensor.type = s.TensorType.FLOAT32
        tensor.quantization = None
    _drop_identities(s, model, graph)
    builder = flatbuffers.Builder(len(data) * 2 + 1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    Path(target).write_bytes(builder.Output())


def _fuse_range_activations(s: Any, model: Any, graph: Any, types: dict) -> None:
    codes = [max(c.builtinCode or 0, c.deprecatedBuiltinCode or 0) for c in model.operatorCodes]
    convolutions = {s.BuiltinOperator.CONV_2D, s.BuiltinOperator.DEPTHWISE_CONV_2D}
    for op in graph.operators:
        options = op.builtinOptions
        if codes[op.opcodeIndex] not in convolutions or options is None or \
                options.fusedActivationFunction != s.ActivationFunctionType.NONE:
            continue
        out = graph.tensors[op.outputs[0]]
        quant, kind = out.quantization, types.get(out.type)
        if quant is None or quant.scale is None or len(quant.scale) != 1 or \
                kind not in ("UINT8", "INT8"):
            continue
        info = np.iinfo(_QUANTISED[kind])
        zero = int(quant.zeroPoint[0]) if quant.zeroPoint is not None else 0
        low, high = ((v - zero) * float(quant.scale[0]) for v in (info.min, info.max))
        if abs(low) < 1e-6:
            options.fusedActivationFunction = (s.ActivationFunctionType.RELU6
                                               if abs(high - 6.0) < 0.05
                                               else s.ActivationFunctionType.RELU)


def _drop_identities(s: Any, model: Any, graph: Any) -> None:
    """Remove QUANTIZE and DEQUANTIZE (float in, float out now), keeping the names of
    the graph's inputs and outputs."""
    identity = {s.BuiltinOperator.QUANTIZE, s.BuiltinOperator.DEQUANTIZE}
    codes = [max(c.builtinCode or 0, c.deprecatedBuiltinCode or 0) for c in model.operatorCodes]
    for op in [o for o in graph.operators if codes[o.opcodeIndex] in identity]:
        source, result = int(op.inputs[0]), int(op.outputs[0])
        graph.operators.remove(op)
        producer = next((o for o in graph.operators if source in list(o.outputs)), None)
        users = [o for o in graph.operators if source in list(o.inputs)]
        if producer is not None and not users and source not in list(graph.outputs):
            # the producer writes the result tensor itself: a graph output keeps its name
            producer.outputs = [result if t == source else t for t in producer.outputs]
        else:  # the result's readers read the source (a graph input keeps its name)
            for o in graph.operators:
                o.inputs = [source if t == result else t for t in o.inputs]
            graph.outputs = [source if t == result else t for t in graph.outputs]


__all__ = ["dequantize_tflite", "input_quantisation", "per_channel_tensor"]
