"""Rewriting a PoseNet model file for another output stride (8, 16 or 32), one module
per format: ``tflite`` (the flatbuffer's convolution options) and ``onnx`` (Conv
attributes), both following ``plan`` (which layers change, and how)."""
from __future__ import annotations

import os
from pathlib import Path

from .plan import (STRIDES, Layer, StridePlan, UnreachableStrideError, UnsupportedModelError,
                   plan_stride, recognise)

#: Model file suffixes the rewrite handles.
FORMATS = (".tflite", ".onnx")


def _format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise UnsupportedModelError(f"{str(path)!r}: the output stride can be rewritten in "
                                    f"{' and '.join(FORMATS)} models, not {suffix or 'this file'}")
    return suffix


def rewrite_stride(source: str | os.PathLike, target: str | os.PathLike,
                   stride: int) -> StridePlan:
    """Write ``source`` rewritten for output ``stride`` to ``target`` (same format)."""
    source = Path(source)
    if _format(source) == ".tflite":
        from .tflite import rewrite_tflite
        return rewrite_tflite(source, target, stride)
    from .onnx import rewrite_onnx
    return rewrite_onnx(source, target, stride)


def model_stride(source: str | os.PathLike) -> int:
    """The output stride of the MobileNet v1 PoseNet ``source`` (read from its layers)."""
    source = Path(source)
    if _format(source) == ".tflite":
        from .tflite import tflite_stride
        return tflite_stride(source)
    from .onnx import onnx_plan
    return onnx_plan(source, 16).model_stride


__all__ = ["FORMATS", "Layer", "STRIDES", "StridePlan", "UnreachableStrideError",
           "UnsupportedModelError", "model_stride", "plan_stride", "recognise", "rewrite_stride"]
