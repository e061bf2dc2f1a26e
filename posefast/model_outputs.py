"""Recognising a PoseNet's output tensors, for every backend.

A runtime lists its output tensors (name, shape, quantisation); ``find_posenet_outputs``
works out which is which by channel count and name -- 17 heatmaps, 34 short offsets,
and either 32 + 32 displacements (forward, backward) or one 64-channel mid-offsets
tensor -- in HWC or CHW layout. The resulting ``PoseNetOutputs`` turns the arrays a
run produced into ``ModelOutputs``, wrapping quantised tensors in ``Quantized``
(never dequantised) and splitting a 64-channel tensor into two views (no copy).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal, Sequence

import numpy as np

from .backend import ModelOutputs, Tensor
from .quantized import Quantized
from .skeleton import NUM_EDGES, NUM_KEYPOINTS

Layout = Literal["hwc", "chw"]

#: PoseNet's output strides; the TF/TF Lite models use 8, 16 or 32.
KNOWN_STRIDES = (8, 16, 32)


@dataclass(frozen=True)
class TensorInfo:
    """One output tensor as a runtime describes it.

    ``shape`` is the batched 4-D shape; a dimension the runtime leaves open (dynamic)
    is ``None``. ``quantization`` is (scale, zero_point) for a quantised integer
    tensor, ``None`` for a float one.
    """

    name: str
    shape: tuple[int | None, ...]
    quantization: tuple[float, int] | None = None

    def channels(self, layout: Layout) -> int | None:
        if len(self.shape) != 4:
            return None
        return self.shape[-1] if layout == "hwc" else self.shape[1]


# role -> (channel count, name fragments that mark it, lower case)
_ROLES: dict[str, tuple[int, tuple[str, ...]]] = {
    "heatmaps": (NUM_KEYPOINTS, ("heatmap",)),
    "offsets": (2 * NUM_KEYPOINTS, ("short_offset", "offset")),
    "displacements_fwd": (2 * NUM_EDGES, ("displacement_fwd", "fwd")),
    "displacements_bwd": (2 * NUM_EDGES, ("displacement_bwd", "bwd")),
    "mid_offsets": (4 * NUM_EDGES, ("mid_offset", "displacement")),
}
# Two tensors share 32 channels, so these two can only be told apart by name.
_NAME_REQUIRED = {"displacements_fwd", "displacements_bwd"}


def _describe(tensors: Sequence[TensorInfo]) -> str:
    return ", ".join(f"{t.name!r} {tuple(t.shape)}" for t in tensors) or "none"


def _pick(role: str, tensors: Sequence[TensorInfo], layout: Layout, taken: set[int],
          model: str) -> int | None:
    """Index of the tensor playing ``role``, or None when there is none."""
    channels, fragments = _ROLES[role]
    candidates = [i for i, t in enumerate(tensors)
                  if i not in taken and t.channels(layout) == channels]
    for fragment in fragments:  # most specific fragment first
        named = [i for i in candidates if fragment in tensors[i].name.lower()]
        if len(named) == 1:
            return named[0]
        if len(named) > 1:
            raise ValueError(
                f"{model}: several {channels}-channel outputs could be the {role} "
                f"({_describe([tensors[i] for i in named])})")
    if len(candidates) == 1 and role not in _NAME_REQUIRED:
        return candidates[0]
    return None


def detect_layout(tensors: Sequence[TensorInfo], prefer: Layout = "hwc") -> Layout:
    """The layout in which some output has 17 channels (``prefer`` when both fit)."""
    fits = [layout for layout in (prefer, "chw" if prefer == "hwc" else "hwc")
            if any(t.channels(layout) == NUM_KEYPOINTS for t in tensors)]
    return fits[0] if fits else prefer


def find_posenet_outputs(tensors: Sequence[TensorInfo], *, layout: Layout | None = None,
                         model: str = "model",
                         input_hw: tuple[int, int] | None = None) -> "PoseNetOutputs":
    """Recognise a PoseNet among a model's ``tensors`` (in the runtime's output order).

    ``layout`` is "hwc" (N, H, W, C) or "chw" (N, C, H, W); None detects it from the
    channel counts (preferring HWC). ``model`` names the file in error messages.
    ``input_hw``: the (height, width) the tensor shapes were reported for, which fixes
    the model's output stride (else it is derived from each run's sizes).
    Raises ValueError naming the tensor that is missing when this is not a PoseNet.
    """
    if layout is None:
        layout = detect_layout(tensors)
    elif layout not in ("hwc", "chw"):
        raise ValueError(f"layout must be 'hwc' or 'chw', got {layout!r}")
    taken: set[int] = set()
    found: dict[str, int] = {}

    def need(role: str) -> int:
        index = _pick(role, tensors, layout, taken, model)
        if index is None:
            channels, fragments = _ROLES[role]
            raise ValueError(
                f"{model} is not a PoseNet: no {role} output ({channels} channels in "
                f"{layout.upper()} layout, name containing {fragments[0]!r}); "
                f"its outputs are {_describe(tensors)}")
        taken.add(index)
        found[role] = index
        return index

    need("heatmaps")
    need("offsets")
    mid = _pick("mid_offsets", tensors, layout, taken, model)
    if mid is not None:
        taken.add(mid)
        found["mid_offsets"] = mid
    else:
        try:
            need("displacements_fwd")
            need("displacements_bwd")
        except ValueError as exc:
            raise ValueError(f"{exc} (nor a 64-channel mid_offsets output)") from None
    result = PoseNetOutputs(layout=layout, names=tuple(t.name for t in tensors),
                            quantization=tuple(t.quantization for t in tensors), **found)
    grids = {result.grid_of(tensors[i].shape) for i in found.values()}
    grids.discard(None)
    if len(grids) > 1:
        raise ValueError(f"{model}: the PoseNet outputs have different grid sizes "
                         f"({_describe([tensors[i] for i in found.values()])})")
    if input_hw is not None and grids and None not in input_hw:
        result = replace(result, stride=output_stride(input_hw, grids.pop()))
    return result


def _fits(stride: int, size: int, cells: int) -> bool:
    return (size - 1) // stride + 1 == cells or -(-size // stride) == cells


def output_stride(input_hw: tuple[int, int], grid_hw: tuple[int, int],
                  expected: int | None = None) -> int:
    """The output stride (input pixels per output cell) of a ``grid_hw`` grid for ``input_hw``.

    PoseNet's grid has ``(in - 1) / stride + 1`` cells (481 -> 31 at stride 16,
    257 -> 9 at stride 32); a model with 'same' padding on other sizes has
    ``ceil(in / stride)`` cells. Both dimensions must agree on one stride. Tiny inputs
    fit several strides: ``expected`` (the model's stride, found at its own input size)
    decides, and a grid that does not fit it is an error.
    """
    (ih, iw), (gh, gw) = input_hw, grid_hw
    if min(ih, iw, gh, gw) < 1:
        raise ValueError(f"input size {ih}x{iw} and grid {gh}x{gw} must be positive")
    if expected is not None:
        if _fits(expected, ih, gh) and _fits(expected, iw, gw):
            return expected
        raise ValueError(f"an output grid of {gh}x{gw} cells does not fit input {ih}x{iw} "
                         f"at the model's output stride {expected}")
    if gh > 1 and gw > 1 and (ih - 1) % (gh - 1) == 0 and (iw - 1) % (gw - 1) == 0:
        stride = (ih - 1) // (gh - 1)
        if stride == (iw - 1) // (gw - 1):
            return stride
    for stride in KNOWN_STRIDES:
        if -(-ih // stride) == gh and -(-iw // stride) == gw:
            return stride
    raise ValueError(f"cannot derive an output stride from input {ih}x{iw} pixels "
                     f"and output grid {gh}x{gw} cells")


@dataclass(frozen=True)
class PoseNetOutputs:
    """Where a model's PoseNet tensors are among its outputs (indices in output order)."""

    layout: Layout
    names: tuple[str, ...]
    quantization: tuple[tuple[float, int] | None, ...]
    heatmaps: int
    offsets: int
    mid_offsets: int | None = None
    displacements_fwd: int | None = None
    displacements_bwd: int | None = None
    #: The model's output stride where known (from its own input size), else derived per run.
    stride: int | None = None

    def grid_of(self, shape: Sequence[int | None]) -> tuple[int, int] | None:
        """(height, width) in cells of a tensor of this layout, None when dynamic."""
        h, w = (shape[1], shape[2]) if self.layout == "hwc" else (shape[2], shape[3])
        return None if h is None or w is None else (int(h), int(w))

    def _tensor(self, arrays: Sequence[np.ndarray], index: int) -> Tensor:
        array = arrays[index]
        quant = self.quantization[index]
        if quant is not None and array.dtype in (np.uint8, np.int8):
            return Quantized(array, float(quant[0]), int(quant[1]))
        return array

    def build(self, arrays: Sequence[np.ndarray], input_hw: tuple[int, int],
              extra: dict | None = None) -> ModelOutputs:
        """ModelOutputs from one run's ``arrays`` (the runtime's output order) for an
        input of ``input_hw`` (height, width) pixels. Checks the tensors agree on a grid."""
        used = [i for i in (self.heatmaps, self.offsets, self.mid_offsets,
                            self.displacements_fwd, self.displacements_bwd) if i is not None]
        grids = {(arrays[i].shape[0],) + self.grid_of(arrays[i].shape) for i in used}
        if len(grids) != 1:
            raise RuntimeError("the runtime returned PoseNet outputs of different sizes: "
                               + ", ".join(f"{self.names[i]} {arrays[i].shape}" for i in used))
        _, gh, gw = grids.pop()
        if self.mid_offsets is not None:
            mid = self._tensor(arrays, self.mid_offsets)
            fwd, bwd = _split_mid(mid, self.layout)
        else:
            fwd = self._tensor(arrays, self.displacements_fwd)
            bwd = self._tensor(arrays, self.displacements_bwd)
        return ModelOutputs(
            heatmaps=self._tensor(arrays, self.heatmaps),
            offsets=self._tensor(arrays, self.offsets),
            displacements_fwd=fwd,
            displacements_bwd=bwd,
            output_stride=output_stride(input_hw, (gh, gw), self.stride),
            layout=self.layout,
            extra=dict(extra or {}),
        )


def _split_mid(mid: Tensor, layout: Layout) -> tuple[Tensor, Tensor]:
    """Forward and backward halves of the 64 mid-offset channels, as views (no copy)."""
    half = 2 * NUM_EDGES
    array = mid.array if isinstance(mid, Quantized) else mid
    if layout == "hwc":
        fwd, bwd = array[..., :half], array[..., half:]
    else:
        fwd, bwd = array[:, :half], array[:, half:]
    if isinstance(mid, Quantized):
        return mid._replace(array=fwd), mid._replace(array=bwd)
    return fwd, bwd
