"""Public decoding API: PoseNet outputs -> poses.

Input conventions (``layout="hwc"``; ``layout="chw"`` puts channels first, as ONNX
models emit them):

- heatmaps (H, W, 17): keypoint logits, before the sigmoid;
- offsets (H, W, 34): short-range offsets in pixels, channels [dy x17, dx x17];
- displacements_fwd / displacements_bwd (H, W, 32): mid-range displacements in
  pixels, channels [dy x16, dx x16]; forward channel i points from parent to child of
  ``SKELETON[i]``, backward channel i from child to parent.

A leading batch dimension of 1 is accepted. Each tensor is a float16/float32/float64
ndarray with any strides (views such as ``mid[..., :32]`` are read in place) or a
``Quantized`` uint8/int8 tensor, whose integers are read directly (its zero point a
32-bit integer of any numeric type, its scale a finite number > 0). ``output_stride``
is an integer in [1, 65536]. Results are :class:`~posefast.Pose` objects in pixels of
the network input, x before y. Multi-pose decoding handles grids of up to 2^31 - 1
rows and columns (its walk keeps cell indices in 32 bits) and refuses larger ones with
``ValueError``; single-pose decoding has no such limit.

Multi-pose decoding (``decode_multiple_poses``), in grid cells with every position
clamped to [0, H-1] x [0, W-1] and tensors sampled bilinearly:

Bilinear samples give a corner of weight 0 no say (0 * NaN would be NaN), so a
position on a cell reads exactly that cell's value whatever its neighbours hold, and
a keypoint whose sampled logit is NaN scores 0, as in single-pose decoding, rather
than taking its pose with it.

1. candidates: cells whose logit is >= logit(score_threshold) and no smaller than any
   logit of the same keypoint in the 3x3 neighbourhood (a NaN neighbour does not
   count), highest logit first; equal logits in row-major (y, x, keypoint) order;
2. a candidate within ``nms_radius`` pixels of the same keypoint of an already
   accepted pose is skipped; otherwise a pose grows from it: best-scoring queued
   keypoint first (NaN as -inf, equal logits: lower keypoint id), each neighbour at
   parent + displacement (sampled at the parent), then ``refine_steps`` times
   + its short offset (sampled at the current position);
3. the pose score is the mean keypoint sigmoid; poses >= score_threshold are kept,
   at most ``max_detections``;
4. soft keypoint NMS in order of pose score (ties: acceptance order): the final score
   sums the keypoint scores not within ``nms_radius`` of the same keypoint of a
   higher-scoring pose, / 17. Poses with a final score >= score_threshold are
   returned, best first (ties: pose-score order).

The kernels run without the GIL, so threads decode in parallel; the ``*_batch``
functions decode every frame of (N, H, W, C) / (N, C, H, W) tensors in one call.

Two builds of the kernels exist on x86-64: the baseline (SSE2, which every x86-64 CPU
has) and one compiled for AVX2 and F16C, loaded where the CPU has both; their results
are the same bit for bit. ``SIMD`` says which one runs ("avx2", "sse2", "neon" or "none");
the environment variable ``POSEFAST_SIMD=baseline``, read at import, keeps the
baseline build.
"""
from __future__ import annotations

import importlib
import os
from types import ModuleType
from typing import TYPE_CHECKING, Literal

from . import _core

if TYPE_CHECKING:
    from ._core import (
        decode_multiple_poses,
        decode_multiple_poses_batch,
        decode_single_pose,
        decode_single_pose_batch,
    )
    from .backend import ModelOutputs
    from .pose import Pose


def _kernels() -> ModuleType:
    """The build of the kernels for this CPU: the AVX2 one where the CPU runs it and it
    was built (not on other architectures, nor with MSVC), the baseline otherwise."""
    if os.environ.get("POSEFAST_SIMD", "").strip().lower() == "baseline":
        return _core
    if not _core.cpu_has_avx2():
        return _core
    try:
        return importlib.import_module("._core_avx2", __package__)
    except ImportError:
        return _core


_KERNELS = _kernels()
if not TYPE_CHECKING:
    decode_single_pose = _KERNELS.decode_single_pose
    decode_single_pose_batch = _KERNELS.decode_single_pose_batch
    decode_multiple_poses = _KERNELS.decode_multiple_poses
    decode_multiple_poses_batch = _KERNELS.decode_multiple_poses_batch
#: The vector instructions of the kernels in use: "avx2", "sse2", "neon" or "none".
SIMD: str = _KERNELS.SIMD

__all__ = [
    "decode_single_pose",
    "decode_multiple_poses",
    "decode_single_pose_batch",
    "decode_multiple_poses_batch",
    "decode_outputs",
    "SIMD",
]


def decode_outputs(
    outputs: "ModelOutputs",
    *,
    mode: Literal["multi", "single"] = "multi",
    max_detections: int = 10,
    score_threshold: float = 0.5,
    nms_radius: float = 20.0,
    refine_steps: int = 5,
) -> "list[list[Pose]]":
    """Decode a batch of model outputs: one list of poses per batch item.

    Keypoints are in pixels of the network input. ``mode="single"`` gives one pose per
    item (the single-pose decoder ignores the other options).
    """
    if mode == "multi":
        return decode_multiple_poses_batch(
            outputs.heatmaps, outputs.offsets, outputs.displacements_fwd,
            outputs.displacements_bwd, outputs.output_stride, max_detections,
            score_threshold, nms_radius, refine_steps, layout=outputs.layout)
    if mode == "single":
        return [[pose] for pose in decode_single_pose_batch(
            outputs.heatmaps, outputs.offsets, outputs.output_stride,
            layout=outputs.layout)]
    raise ValueError(f"mode must be 'multi' or 'single', got {mode!r}")
