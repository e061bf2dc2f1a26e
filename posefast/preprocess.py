"""Resizing an image to the network input, and mapping keypoints back.

Two ways to fit an image of any size into the network's fixed input:

- ``stretch``: resize to exactly the input size, changing the aspect ratio (what
  Coral's PoseNet examples do; uses every input pixel);
- ``letterbox``: resize keeping the aspect ratio so the image just fits, centred,
  and pad the rest with black.

Coordinates are pixel centres: pixel (i, j) of an image covers [i-0.5, i+0.5], the
convention PoseNet's grid uses (cell c sits on input pixel c * stride) and the one
Pillow's resampling follows. Keypoints decoded in network-input pixels are mapped
to the original image by :class:`Transform`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from PIL import Image

from .backend import InputSpec
from .pose import Pose

ResizeMode = Literal["stretch", "letterbox"]
RESIZE_MODES: tuple[str, ...] = ("stretch", "letterbox")


@dataclass(frozen=True)
class Transform:
    """Maps network-input pixels to original-image pixels.

    x_original = (x_input - pad_x + 0.5) * scale_x - 0.5, likewise for y, where
    ``pad_*`` is the letterbox border in input pixels and ``scale_*`` is original
    size / resized size.
    """

    scale_x: float
    scale_y: float
    pad_x: float = 0.0
    pad_y: float = 0.0

    def apply(self, xy: np.ndarray) -> np.ndarray:
        """Map an (..., 2) array of input (x, y) pixels to original pixels."""
        xy = np.asarray(xy, dtype=np.float64)
        out = np.empty_like(xy)
        out[..., 0] = (xy[..., 0] - self.pad_x + 0.5) * self.scale_x - 0.5
        out[..., 1] = (xy[..., 1] - self.pad_y + 0.5) * self.scale_y - 0.5
        return out

    def inverse(self, xy: np.ndarray) -> np.ndarray:
        """Map original (x, y) pixels to network-input pixels."""
        xy = np.asarray(xy, dtype=np.float64)
        out = np.empty_like(xy)
        out[..., 0] = (xy[..., 0] + 0.5) / self.scale_x - 0.5 + self.pad_x
        out[..., 1] = (xy[..., 1] + 0.5) / self.scale_y - 0.5 + self.pad_y
        return out

    def pose(self, pose: Pose) -> Pose:
        """``pose`` with its keypoints in original-image pixels."""
        return pose.transformed(self.scale_x, self.scale_y,
                                (0.5 - self.pad_x) * self.scale_x - 0.5,
                                (0.5 - self.pad_y) * self.scale_y - 0.5)


@dataclass(frozen=True)
class Fit:
    """Where an image lands in the network input: resized size and top-left offset (pixels)."""

    width: int
    height: int
    left: int
    top: int


def fit(src_width: int, src_height: int, dst_width: int, dst_height: int,
        mode: ResizeMode) -> Fit:
    """The resized size and placement of a src image in a dst input (all pixels)."""
    if mode == "stretch":
        return Fit(dst_width, dst_height, 0, 0)
    if mode == "letterbox":
        ratio = min(dst_width / src_width, dst_height / src_height)
        w = min(dst_width, max(1, round(src_width * ratio)))
        h = min(dst_height, max(1, round(src_height * ratio)))
        return Fit(w, h, (dst_width - w) // 2, (dst_height - h) // 2)
    raise ValueError(f"resize must be one of {RESIZE_MODES}, got {mode!r}")


def transform_for(src_width: int, src_height: int, placement: Fit) -> Transform:
    """The Transform from network-input pixels back to a src_width x src_height image."""
    return Transform(src_width / placement.width, src_height / placement.height,
                     placement.left, placement.top)


def target_size(src_width: int, src_height: int, spec: InputSpec,
                mode: ResizeMode) -> tuple[int, int]:
    """(width, height) the image will be resized to: what a draft decode must reach."""
    f = fit(src_width, src_height, spec.width, spec.height, mode)
    return f.width, f.height


def to_input(image: Image.Image, src_width: int, src_height: int, spec: InputSpec,
             mode: ResizeMode) -> tuple[np.ndarray, Transform]:
    """Resize and normalise one RGB image for the network.

    Args:
        image: the RGB image, possibly decoded at reduced scale.
        src_width, src_height: the ORIGINAL size in pixels (what keypoints map back to).
        spec: the backend's input size, dtype and normalisation.
        mode: ``"stretch"`` or ``"letterbox"``.

    Returns:
        (array of shape (spec.height, spec.width, 3) in spec.dtype, Transform back
        to original pixels).
    """
    placement = fit(src_width, src_height, spec.width, spec.height, mode)
    resized = image
    if image.size != (placement.width, placement.height):
        # Bilinear with Pillow's antialiasing filter support: cheap, and no aliasing
        # when shrinking a large photo.
        resized = image.resize((placement.width, placement.height), Image.Resampling.BILINEAR)
    pixels = np.asarray(resized, dtype=np.uint8)
    if mode == "letterbox":
        canvas = np.zeros((spec.height, spec.width, 3), dtype=np.uint8)
        canvas[placement.top:placement.top + placement.height,
               placement.left:placement.left + placement.width] = pixels
        pixels = canvas
    return normalise(pixels, spec), transform_for(src_width, src_height, placement)


def normalise(pixels: np.ndarray, spec: InputSpec) -> np.ndarray:
    """uint8 RGB pixels p as the network wants them: ``p * spec.scale + spec.offset`` in spec.dtype."""
    dtype = np.dtype(spec.dtype)
    if dtype == np.uint8 and spec.scale == 1.0 and spec.offset == 0.0:
        return pixels
    values = pixels.astype(np.float32) * np.float32(spec.scale) + np.float32(spec.offset)
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        values = np.clip(np.rint(values), info.min, info.max)
    return values.astype(dtype, copy=False)
