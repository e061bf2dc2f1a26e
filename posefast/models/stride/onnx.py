"""Output stride rewrite of an ONNX PoseNet (as ``posefast convert`` / tflite2onnx make
it): the ``strides`` and ``dilations`` of its Conv nodes, and their padding.

ONNX Runtime refuses dilation with ``auto_pad=SAME_*``, so a dilated convolution gets
explicit pads equal to its dilation (3x3 kernel, stride 1: TF's 'same' at every input
size). A convolution whose stride changes pads by ``auto_pad=SAME_UPPER``, TF's rule
at any size. Output grid sizes become symbolic and the ``posefast.output_stride``
metadata says the new stride.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .plan import Layer, StridePlan, plan_stride

INSTALL_HINT = 'pip install "posefast[convert]" (onnx)'
META_STRIDE = "posefast.output_stride"  # as posefast.models.convert writes it


def _onnx() -> Any:
    try:
        import onnx
    except ImportError as exc:
        raise ImportError(f"rewriting an ONNX model needs the onnx package: {INSTALL_HINT}") from exc
    return onnx


def _load(path: Path) -> tuple[Any, Any]:
    onnx = _onnx()
    try:
        model = onnx.load(str(path))
    except Exception as exc:  # protobuf's DecodeError and friends
        raise ValueError(f"{str(path)!r} is not a readable ONNX model: "
                         f"{type(exc).__name__}: {exc}") from None
    if not model.graph.node:
        raise ValueError(f"{str(path)!r} is not an ONNX model with a graph")
    return onnx, model


def _attrs(onnx: Any, node: Any) -> dict[str, Any]:
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _kernel(model: Any, node: Any, attrs: dict[str, Any]) -> tuple[int, int]:
    if attrs.get("kernel_shape"):
        return tuple(int(v) for v in attrs["kernel_shape"])  # type: ignore[return-value]
    for init in model.graph.initializer:  # the weights: (out, in/group, kh, kw)
        if init.name == node.input[1] and len(init.dims) == 4:
            return int(init.dims[2]), int(init.dims[3])
    return (0, 0)


def _first(values: Any, default: int) -> Any:
    values = list(values) if values else [default, default]
    return values[0] if len(set(values)) == 1 else tuple(values)


def _convolutions(onnx: Any, model: Any) -> list[tuple[Any, Layer]]:
    found = []
    for node in model.graph.node:  # ONNX keeps nodes in execution (topological) order
        if node.op_type != "Conv":
            continue
        a = _attrs(onnx, node)
        found.append((node, Layer(node.name or node.output[0], int(a.get("group", 1)) > 1,
                                  _kernel(model, node, a), _first(a.get("strides"), 1),
                                  _first(a.get("dilations"), 1))))
    return found


def onnx_plan(path: str | os.PathLike, stride: int) -> StridePlan:
    """The stride plan for the ONNX model at ``path`` (see ``plan.plan_stride``)."""
    onnx, model = _load(Path(path))
    return plan_stride([layer for _, layer in _convolutions(onnx, model)], stride, str(path))


def _set(onnx: Any, node: Any, **values: Any) -> None:
    for attr in [a for a in node.attribute if a.name in values]:
        node.attribute.remove(attr)
    for name, value in values.items():
        if value is not None:
            node.attribute.append(onnx.helper.make_attribute(name, value))


def rewrite_onnx(source: str | os.PathLike, target: str | os.PathLike,
                 stride: int) -> StridePlan:
    """Write the ONNX model ``source`` rewritten for output ``stride`` to ``target``.

    At the model's own stride the bytes are copied unchanged. Raises ValueError
    (UnsupportedModelError, UnreachableStrideError) naming the model and the reason.
    """
    source, target = Path(source), Path(target)
    onnx, model = _load(source)
    convs = _convolutions(onnx, model)
    plan = plan_stride([layer for _, layer in convs], stride, str(source))
    if plan.unchanged:
        target.write_bytes(source.read_bytes())
        return plan
    for (node, old), new in zip(convs, plan.layers):
        if (old.stride, old.dilation) == (new.stride, new.dilation):
            continue
        k = new.kernel
        if new.stride == 1:
            pads = [new.dilation * (k[0] - 1) // 2, new.dilation * (k[1] - 1) // 2] * 2
            _set(onnx, node, strides=[1, 1], dilations=[new.dilation] * 2, pads=pads,
                 auto_pad=None)
        else:  # stride 2 is never dilated in a MobileNet; TF 'same' at any size
            _set(onnx, node, strides=[new.stride] * 2, dilations=[new.dilation] * 2,
                 pads=None, auto_pad="SAME_UPPER")
    for output in model.graph.output:
        dims = output.type.tensor_type.shape.dim
        if len(dims) == 4:
            spatial = (2, 3) if dims[1].dim_value in (17, 34, 32, 64) else (1, 2)
            for i, label in zip(spatial, ("grid_height", "grid_width")):
                dims[i].dim_param = label  # replaces a stale fixed value
    del model.graph.value_info[:]
    for entry in [e for e in model.metadata_props if e.key == META_STRIDE]:
        model.metadata_props.remove(entry)
    entry = model.metadata_props.add()
    entry.key, entry.value = META_STRIDE, str(stride)
    onnx.checker.check_model(model)
    onnx.save(model, str(target))
    return plan


__all__ = ["onnx_plan", "rewrite_onnx"]
