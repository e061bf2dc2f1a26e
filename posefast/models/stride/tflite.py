"""Output stride rewrite of a TF Lite PoseNet: the flatbuffer's Conv2D and
DepthwiseConv2D options (stride and dilation factors), and the tensor shapes that follow.

The model is read and written with the TF Lite schema's object API (ai-edge-litert's
``schema_py_generated``, the same the tests build models with); everything else in the
file (weights, quantisation, metadata) is carried over as it is. Intermediate and
output tensor shapes are recomputed for the model's own input size, so that a runtime
reading the output shapes before running sees the new grid.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..tflite_schema import tflite_schema
from .plan import Layer, StridePlan, plan_stride


def _schema() -> Any:
    return tflite_schema("rewriting a TF Lite model")


def _load(path: Path) -> tuple[Any, Any]:
    s = _schema()
    data = path.read_bytes()
    if len(data) < 8 or data[4:8] != b"TFL3":
        raise ValueError(f"{str(path)!r} is not a TF Lite model (no 'TFL3' flatbuffer identifier)")
    try:
        model = s.ModelT.InitFromObj(s.Model.GetRootAsModel(data, 0))
    except Exception as exc:  # a damaged flatbuffer raises whatever the reader hits
        raise ValueError(f"{str(path)!r} is not a readable TF Lite model: "
                         f"{type(exc).__name__}: {exc}") from None
    if not model.subgraphs:
        raise ValueError(f"{str(path)!r} has no graph")
    return s, model


def _opcodes(s: Any, model: Any) -> list[int]:
    return [max(c.builtinCode or 0, c.deprecatedBuiltinCode or 0) for c in model.operatorCodes]


def _convolutions(s: Any, model: Any) -> list[tuple[Any, Layer]]:
    """(operator, Layer) of every Conv2D / DepthwiseConv2D, in execution order."""
    graph = model.subgraphs[0]
    codes = _opcodes(s, model)
    found = []
    for op in graph.operators:
        code = codes[op.opcodeIndex]
        if code not in (s.BuiltinOperator.CONV_2D, s.BuiltinOperator.DEPTHWISE_CONV_2D):
            continue
        o = op.builtinOptions
        weights = graph.tensors[op.inputs[1]].shape  # OHWI / 1HWO
        out = graph.tensors[op.outputs[0]]
        name = out.name.decode() if isinstance(out.name, bytes) else str(out.name or "")
        stride = o.strideH if o.strideH == o.strideW else (o.strideH, o.strideW)
        dilation = (o.dilationHFactor if o.dilationHFactor == o.dilationWFactor
                    else (o.dilationHFactor, o.dilationWFactor))
        found.append((op, Layer(name, code == s.BuiltinOperator.DEPTHWISE_CONV_2D,
                                (int(weights[1]), int(weights[2])), stride, dilation)))
    return found


def tflite_plan(path: str | os.PathLike, stride: int) -> StridePlan:
    """The stride plan for the TF Lite model at ``path`` (see ``plan.plan_stride``)."""
    s, model = _load(Path(path))
    return plan_stride([layer for _, layer in _convolutions(s, model)], stride, str(path))


def tflite_stride(path: str | os.PathLike) -> int:
    """The output stride of the TF Lite MobileNet v1 PoseNet at ``path``."""
    from .plan import recognise

    s, model = _load(Path(path))
    return recognise([layer for _, layer in _convolutions(s, model)], str(path))


def _spatial(size: int, kernel: int, stride: int, dilation: int, same: bool) -> int:
    if same:
        return -(-size // stride)
    return -(-(size - (kernel - 1) * dilation) // stride)


def _reshape(s: Any, model: Any) -> None:
    """Recompute every operator output's height and width from the graph input's, in
    execution order: convolutions by their padding rule, other operators (Concat,
    Quantize, Logistic, ...) keep their first 4-D input's."""
    graph = model.subgraphs[0]
    codes = _opcodes(s, model)
    convs = (s.BuiltinOperator.CONV_2D, s.BuiltinOperator.DEPTHWISE_CONV_2D)
    for op in graph.operators:
        out = graph.tensors[op.outputs[0]]
        if out.shape is None or len(out.shape) != 4:
            continue
        src = graph.tensors[op.inputs[0]]
        if src.shape is None or len(src.shape) != 4:
            continue
        h, w = int(src.shape[1]), int(src.shape[2])
        if codes[op.opcodeIndex] in convs:
            o = op.builtinOptions
            kernel = graph.tensors[op.inputs[1]].shape
            same = o.padding == s.Padding.SAME
            h = _spatial(h, int(kernel[1]), o.strideH, o.dilationHFactor, same)
            w = _spatial(w, int(kernel[2]), o.strideW, o.dilationWFactor, same)
        shape = [int(v) for v in out.shape]
        shape[1], shape[2] = h, w
        out.shape = shape
        if out.shapeSignature is not None and len(out.shapeSignature) == 4:
            sig = [int(v) for v in out.shapeSignature]
            sig[1] = -1 if sig[1] == -1 else h
            sig[2] = -1 if sig[2] == -1 else w
            out.shapeSignature = sig


def rewrite_tflite(source: str | os.PathLike, target: str | os.PathLike,
                   stride: int) -> StridePlan:
    """Write the TF Lite model ``source`` rewritten for output ``stride`` to ``target``.

    At the model's own stride the bytes are copied unchanged. Raises ValueError
    (UnsupportedModelError, UnreachableStrideError) naming the model and the reason.
    """
    import flatbuffers

    source, target = Path(source), Path(target)
    s, model = _load(source)
    convs = _convolutions(s, model)
    plan = plan_stride([layer for _, layer in convs], stride, str(source))
    if plan.unchanged:
        target.write_bytes(source.read_bytes())
        return plan
    for (op, _), layer in zip(convs, plan.layers):
        o = op.builtinOptions
        o.strideH = o.strideW = layer.stride
        o.dilationHFactor = o.dilationWFactor = layer.dilation
    _reshape(s, model)
    builder = flatbuffers.Builder(source.stat().st_size + 4096)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    target.write_bytes(bytes(builder.Output()))
    return plan


__all__ = ["rewrite_tflite", "tflite_plan", "tflite_stride"]
