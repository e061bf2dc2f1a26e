"""A plain NumPy implementation of the decoding algorithm of posefast.decode, written
from the issue's description with straightforward loops, to check the Cython core.

It dequantises and transposes whole tensors to float64 HWC first (the core does not),
and works in grid cells like the core so that results agree to float rounding.
"""
from __future__ import annotations

import math

import numpy as np

from posefast import Quantized
from posefast.skeleton import SKELETON


def as_hwc(t, layout="hwc"):
    """A tensor (ndarray or Quantized; optional leading batch of 1) as float64 (H, W, C)."""
    if isinstance(t, Quantized):
        arr = (np.asarray(t.array).astype(np.float64) - t.zero_point) * t.scale
    else:
        arr = np.asarray(t).astype(np.float64)
    if arr.ndim == 4:
        arr = arr[0]
    if layout == "chw":
        arr = arr.transpose(1, 2, 0)
    return arr


def clamp(v, hi):
    if not v > 0.0:  # NaN too
        return 0.0
    return min(v, hi)


def sample(t, y, x, c):
    """Bilinear sample; a corner of weight 0 does not count (0 * NaN would be NaN)."""
    h, w = t.shape[:2]
    y0, x0 = int(math.floor(y)), int(math.floor(x))
    y1, x1 = min(y0 + 1, h - 1), min(x0 + 1, w - 1)
    wy, wx = y - y0, x - x0
    top = (1 - wx) * t[y0, x0, c] + (wx * t[y0, x1, c] if wx else 0.0)
    bottom = (1 - wx) * t[y1, x0, c] + (wx * t[y1, x1, c] if wx else 0.0)
    return (1 - wy) * top + (wy * bottom if wy else 0.0)


def sigmoid(v):
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-v))


def near(a, b, stride, radius):
    dy, dx = (a[0] - b[0]) * stride, (a[1] - b[1]) * stride
    return dy * dy + dx * dx <= radius * radius


def single_pose(heatmaps, offsets, stride, layout="hwc"):
    """(score, keypoints 17x3 x/y/score) of the single-pose decoder."""
    hm, off = as_hwc(heatmaps, layout), as_hwc(offsets, layout)
    h, w, _ = hm.shape
    kps = np.zeros((17, 3))
    for k in range(17):
        ch = np.where(np.isnan(hm[:, :, k]), -np.inf, hm[:, :, k])
        y, x = np.unravel_index(int(np.argmax(ch)), (h, w))  # first maximum
        kps[k, 0] = clamp(x * stride + off[y, x, 17 + k], (w - 1) * stride)
        kps[k, 1] = clamp(y * stride + off[y, x, k], (h - 1) * stride)
        s = sigmoid(hm[y, x, k])
        kps[k, 2] = 0.0 if np.isnan(s) else s
    return kps[:, 2].sum() / 17, kps


def multiple_poses(heatmaps, offsets, fwd, bwd, stride, max_detections=10,
                   score_threshold=0.5, nms_radius=20.0, refine_steps=5, layout="hwc"):
    """[(score, keypoints 17x3 x/y/score)] of the multi-pose decoder, best first."""
    hm, off = as_hwc(heatmaps, layout), as_hwc(offsets, layout)
    dfwd, dbwd = as_hwc(fwd, layout), as_hwc(bwd, layout)
    h, w, _ = hm.shape
    if score_threshold <= 0:
        lthr = -np.inf
    elif score_threshold >= 1:
        lthr = np.inf
    else:
        lthr = math.log(score_threshold / (1 - score_threshold))

    # 1. candidates
    cands = []
    for y in range(h):
        for x in range(w):
            for k in range(17):
                v = hm[y, x, k]
                if not v >= lthr:
                    continue
                nb = hm[max(y - 1, 0):y + 2, max(x - 1, 0):x + 2, k]
                if np.any(nb > v):
                    continue
                cands.append((-v, (y * w + x) * 17 + k, y, x, k))
    cands.sort()

    # 2.-3. pose walks
    poses = []  # (score, ys, xs, kp scores)
    for _, _, y, x, k in cands:
        if len(poses) >= max_detections:
            break
        ry = clamp(y + off[y, x, k] / stride, h - 1)
        rx = clamp(x + off[y, x, 17 + k] / stride, w - 1)
        if any(near((ry, rx), (p[1][k], p[2][k]), stride, nms_radius) for p in poses):
            continue
        ys, xs, logits = [0.0] * 17, [0.0] * 17, [0.0] * 17
        ys[k], xs[k], logits[k] = ry, rx, sample(hm, ry, rx, k)
        queued, decoded = {k}, set()
        while queued:
            s = min(queued, key=lambda j: (-(-np.inf if np.isnan(logits[j]) else logits[j]), j))
            queued.remove(s)
            decoded.add(s)
            for e, (parent, child) in enumerate(SKELETON):
                if parent == s:
                    t, disp = child, dfwd
                elif child == s:
                    t, disp = parent, dbwd
                else:
                    continue
                if t in decoded or t in queued:
                    continue
                ty = clamp(ys[s] + sample(disp, ys[s], xs[s], e) / stride, h - 1)
                tx = clamp(xs[s] + sample(disp, ys[s], xs[s], 16 + e) / stride, w - 1)
                for _ in range(refine_steps):
                    oy, ox = sample(off, ty, tx, t), sample(off, ty, tx, 17 + t)
                    ty, tx = clamp(ty + oy / stride, h - 1), clamp(tx + ox / stride, w - 1)
                ys[t], xs[t], logits[t] = ty, tx, sample(hm, ty, tx, t)
                queued.add(t)
        # a NaN logit scores 0, as in single_pose
        scores = [0.0 if math.isnan(s_) else s_ for s_ in (float(sigmoid(v)) for v in logits)]
        total = 0.0
        for s_ in scores:
            total += s_
        score = total / 17
        if score >= score_threshold:
            poses.append((score, ys, xs, scores))

    # 4. soft keypoint NMS
    order = sorted(range(len(poses)), key=lambda i: -poses[i][0])  # stable
    results = []
    for a, i in enumerate(order):
        _, ys, xs, scores = poses[i]
        total = 0.0
        for k in range(17):
            if not any(near((ys[k], xs[k]), (poses[j][1][k], poses[j][2][k]), stride, nms_radius)
                       for j in order[:a]):
                total += scores[k]
        final = total / 17
        if final >= score_threshold:
            kps = np.stack([np.array(xs) * stride, np.array(ys) * stride, scores], axis=1)
            results.append((final, kps))
    results.sort(key=lambda r: -r[0])  # stable
    return results
