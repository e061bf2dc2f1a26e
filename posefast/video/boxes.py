"""Boxes around poses: ``[x, y, width, height]`` in pixels, x right and y down.

``x, y`` is the top-left corner; a box around keypoints spans the keypoints'
extreme coordinates (a single keypoint gives a box of size 0).
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

#: Keypoints scoring at least this much bound a pose's box (as for drawing).
BOX_MIN_SCORE = 0.3


def keypoint_box(keypoints: np.ndarray, min_score: float = BOX_MIN_SCORE) -> list[float]:
    """The box ``[x, y, w, h]`` (pixels) around the keypoints scoring ``>= min_score``.

    ``keypoints`` is a (K, 3) array of x, y, score. When no keypoint reaches
    ``min_score`` the box bounds all of them, so that every pose has a box; keypoints
    with a non-finite coordinate are left out, and a pose without any finite one
    gets ``[0, 0, 0, 0]``.
    """
    kp = np.asarray(keypoints, dtype=np.float64)
    if kp.ndim != 2 or kp.shape[1] != 3:
        raise ValueError(f"keypoints must have shape (K, 3), got {kp.shape}")
    # One pose's 17 keypoints in plain Python: the main process of a job makes a box
    # for every pose of every record, and keypoint_boxes' dozen NumPy calls took
    # 0.15 ms a pose there. The same values as keypoint_boxes (a NaN score counts as
    # below min_score there too).
    finite = [(x, y, s) for x, y, s in kp.tolist() if math.isfinite(x) and math.isfinite(y)]
    chosen = [(x, y) for x, y, s in finite if s >= min_score] or [(x, y) for x, y, _ in finite]
    if not chosen:
        return [0.0, 0.0, 0.0, 0.0]
    xs, ys = [x for x, _ in chosen], [y for _, y in chosen]
    x0, y0 = min(xs), min(ys)
    return [x0, y0, max(xs) - x0, max(ys) - y0]


def keypoint_boxes(keypoints: np.ndarray, min_score: float = BOX_MIN_SCORE) -> np.ndarray:
    """:func:`keypoint_box` of each pose of an (N, K, 3) array at once: (N, 4)."""
    kp = np.asarray(keypoints, dtype=np.float64)
    if kp.ndim != 3 or kp.shape[2] != 3:
        raise ValueError(f"keypoints must have shape (N, K, 3), got {kp.shape}")
    x, y = kp[..., 0], kp[..., 1]
    finite = np.isfinite(x) & np.isfinite(y)
    chosen = finite & (kp[..., 2] >= min_score)
    none = ~chosen.any(axis=1)
    chosen[none] = finite[none]
    x0 = np.where(chosen, x, np.inf).min(axis=1, initial=np.inf)
    x1 = np.where(chosen, x, -np.inf).max(axis=1, initial=-np.inf)
    y0 = np.where(chosen, y, np.inf).min(axis=1, initial=np.inf)
    y1 = np.where(chosen, y, -np.inf).max(axis=1, initial=-np.inf)
    out = np.stack([x0, y0, x1 - x0, y1 - y0], axis=-1)
    out[~chosen.any(axis=1)] = 0.0
    return out


def box_iou(a: Sequence[float], b: Sequence[float]) -> float:
    """Intersection over union of two ``[x, y, w, h]`` boxes (0 when both are empty)."""
    ax0, ay0, aw, ah = (float(v) for v in a)
    bx0, by0, bw, bh = (float(v) for v in b)
    iw = min(ax0 + aw, bx0 + bw) - max(ax0, bx0)
    ih = min(ay0 + ah, by0 + bh) - max(ay0, by0)
    inter = max(0.0, iw) * max(0.0, ih)
    union = aw * ah + bw * bh - inter
    return inter / union if union > 0 else 0.0


def iou_matrix(boxes_a: np.ndarray, boxes_b: np.ndarray) -> np.ndarray:
    """IoU of every box of ``boxes_a`` (N, 4) with every box of ``boxes_b`` (M, 4): (N, M)."""
    a = np.asarray(boxes_a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(boxes_b, dtype=np.float64).reshape(-1, 4)
    ax1, ay1 = a[:, 0] + a[:, 2], a[:, 1] + a[:, 3]
    bx1, by1 = b[:, 0] + b[:, 2], b[:, 1] + b[:, 3]
    iw = np.minimum(ax1[:, None], bx1[None, :]) - np.maximum(a[:, 0][:, None], b[:, 0][None, :])
    ih = np.minimum(ay1[:, None], by1[None, :]) - np.maximum(a[:, 1][:, None], b[:, 1][None, :])
    inter = np.clip(iw, 0, None) * np.clip(ih, 0, None)
    union = (a[:, 2] * a[:, 3])[:, None] + (b[:, 2] * b[:, 3])[None, :] - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)
    return out
