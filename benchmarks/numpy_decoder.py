"""A plain NumPy PoseNet multi-pose decoder: the "naive loop" baseline of the benchmarks.

Written the way people port PoseNet's JavaScript decoder to Python (dequantise
the whole tensors, sigmoid everything, a Python loop over candidates and a heap
over keypoints), so that the benchmark compares posefast with what a user would
otherwise write. It is not used by posefast itself.
"""
from __future__ import annotations

import heapq

import numpy as np

SKELETON = ((0, 1), (1, 3), (0, 2), (2, 4), (0, 5), (5, 7), (7, 9), (5, 11), (11, 13),
            (13, 15), (0, 6), (6, 8), (8, 10), (6, 12), (12, 14), (14, 16))
K = 17


def _neighbours():
    nb = [[] for _ in range(K)]
    for e, (p, c) in enumerate(SKELETON):
        nb[p].append((c, e, True))   # forward displacement, parent -> child
        nb[c].append((p, e, False))  # backward displacement, child -> parent
    return nb


NEIGHBOURS = _neighbours()


def decode_multi(heat, offs, fwd, bwd, stride, max_detections=10, score_threshold=0.5,
                 nms_radius=20.0, refine_steps=5):
    """heat (H, W, 17) logits, offs (H, W, 34), fwd/bwd (H, W, 32) float pixels.

    Returns [(score, keypoints (17, 3) float32 [x, y, score] in input pixels)], best first.
    """
    H, W, _ = heat.shape
    scores = 1.0 / (1.0 + np.exp(-heat))
    padded = np.pad(scores, ((1, 1), (1, 1), (0, 0)), constant_values=-1.0)
    local_max = np.max(np.stack([padded[dy:dy + H, dx:dx + W]
                                 for dy in range(3) for dx in range(3)]), axis=0)
    cand = np.argwhere((scores >= score_threshold) & (scores >= local_max))
    cand_scores = scores[cand[:, 0], cand[:, 1], cand[:, 2]]
    order = np.argsort(-cand_scores, kind="stable")
    sq_nms = nms_radius * nms_radius
    poses = []

    def offset_at(y, x, k):
        return np.array([offs[y, x, k], offs[y, x, K + k]])

    def cell(pos):
        return (int(np.clip(round(pos[0] / stride), 0, H - 1)),
                int(np.clip(round(pos[1] / stride), 0, W - 1)))

    for i in order:
        y, x, k = cand[i]
        root = np.array([y * stride, x * stride], dtype=np.float64) + offset_at(y, x, k)
        if any(np.sum((p[k, :2] - root) ** 2) <= sq_nms for _, p in poses):
            continue
        kp = np.zeros((K, 3))  # y, x, score while decoding
        done = [False] * K
        kp[k] = (root[0], root[1], cand_scores[i])
        done[k] = True
        heap = [(-cand_scores[i], k)]
        while heap:
            _, src = heapq.heappop(heap)
            for dst, e, forward in NEIGHBOURS[src]:
                if done[dst]:
                    continue
                sy, sx = cell(kp[src, :2])
                disp = fwd if forward else bwd
                pos = kp[src, :2] + np.array([disp[sy, sx, e], disp[sy, sx, 16 + e]])
                for _ in range(refine_steps):
                    cy, cx = cell(pos)
                    pos = np.array([cy * stride, cx * stride], dtype=np.float64) + offset_at(cy, cx, dst)
                cy, cx = cell(pos)
                kp[dst] = (pos[0], pos[1], scores[cy, cx, dst])
                done[dst] = True
                heapq.heappush(heap, (-kp[dst, 2], dst))
        # soft keypoint NMS against the poses already kept
        total = 0.0
        for j in range(K):
            if not any(np.sum((p[j, :2] - kp[j, :2]) ** 2) <= sq_nms for _, p in poses):
                total += kp[j, 2]
        score = total / K
        if score >= score_threshold:
            poses.append((score, kp))
        if len(poses) >= max_detections:
            break
    out = []
    for score, kp in sorted(poses, key=lambda p: -p[0]):
        xy = np.empty((K, 3), dtype=np.float32)
        xy[:, 0] = np.clip(kp[:, 1], 0, (W - 1) * stride)
        xy[:, 1] = np.clip(kp[:, 0], 0, (H - 1) * stride)
        xy[:, 2] = kp[:, 2]
        out.append((score, xy))
    return out
