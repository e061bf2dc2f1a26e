"""Hostile inputs that once crashed or silently misdecoded (issue 12), each in a child
process where a crash is possible, so that it fails its test instead of the run."""
from __future__ import annotations

import sys

import numpy as np
import pytest

import posefast
from posefast import Quantized

import reference
from child import run_in_child

# A grid 2^31 + 64 cells tall, read in place from 2 GB of untouched zero pages (a few
# MB resident): every keypoint's plane is the same 1-cell-wide column (channel stride
# 0), whose only high value lies beyond row 2^31.
TALL_GRID = """
import numpy as np, posefast
from numpy.lib.stride_tricks import as_strided
from posefast import Quantized
H = 2**31 + 64
PEAK = 2**31 + 17
buf = np.zeros(H, np.uint8)
buf[PEAK] = 200
hm = Quantized(as_strided(buf, (17, H, 1), (0, 1, 1), writeable=False), 0.1, 128)
# offsets read along the same rows (row stride 1 byte): a stray 32-bit row index
# lands 2 GB before the buffer
obuf = np.zeros(H + 34, np.uint8)
off = Quantized(as_strided(obuf, (34, H, 1), (1, 1, 1), writeable=False), 0.5, 0)
mid = Quantized(as_strided(obuf, (32, H, 1), (1, 1, 1), writeable=False), 0.5, 0)
"""


@pytest.mark.skipif(sys.maxsize < 2**40, reason="needs a 64-bit address space")
def test_a_grid_taller_than_2_31_cells_is_refused_by_multi_and_decoded_by_single():
    out = run_in_child(TALL_GRID + """
try:
    posefast.decode_multiple_poses(hm, off, mid, mid, 16, 1, 0.5, layout="chw")
except ValueError as e:
    print("refused:", e)
pose = posefast.decode_single_pose(hm, off, 16, layout="chw")
kp = pose.keypoints
assert np.all(kp[:, 1] == np.float32(PEAK * 16.0)), kp[:, 1]
assert np.all(kp[:, 0] == 0.0)
s = 1 / (1 + np.exp(-(200 - 128) * 0.1))
assert abs(pose.score - s) < 1e-6, pose.score
print("single ok")
""", timeout=600)
    assert "refused: heatmaps: a grid of 2147483712x1 cells is too large" in out
    assert "single ok" in out


def synthetic_pose(dtype=np.float32, h=7, w=8, cell=(3, 3)):
    """Every keypoint peaks at one cell (logit 5), all offsets and displacements 0: the
    single pose sits exactly on that cell, where a bilinear sample gives its
    neighbours weight 0."""
    hm = np.full((h, w, 17), -6.0)
    hm[cell] = 5.0
    off = np.zeros((h, w, 34))
    mid = np.zeros((h, w, 64))
    return [a.astype(dtype) for a in (hm, off, mid)]


NEIGHBOURS = [(0, 1), (1, 0), (1, 1), (0, -1), (-1, 0), (-1, -1)]


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("tensor", ["heatmaps", "offsets", "displacements"])
def test_a_non_finite_neighbour_does_not_delete_the_pose(dtype, bad, tensor):
    hm, off, mid = synthetic_pose(dtype)
    clean = posefast.decode_multiple_poses(hm, off, mid[..., :32], mid[..., 32:], 16, 5, 0.5)
    assert len(clean) == 1
    for dy, dx in NEIGHBOURS:
        t = {"heatmaps": hm, "offsets": off, "displacements": mid}[tensor].copy()
        t[3 + dy, 3 + dx] = bad  # every channel of the neighbouring cell
        args = {"heatmaps": hm, "offsets": off, "displacements": mid}
        args[tensor] = t
        h2, o2, m2 = args["heatmaps"], args["offsets"], args["displacements"]
        multi = posefast.decode_multiple_poses(h2, o2, m2[..., :32], m2[..., 32:], 16, 5, 0.5)
        single = posefast.decode_single_pose(h2, o2, 16)
        assert len(multi) == 1, (dy, dx)
        # both decoders agree...
        np.testing.assert_array_equal(multi[0].keypoints, single.keypoints)
        assert multi[0].score == pytest.approx(single.score, abs=1e-7)
        if tensor == "heatmaps" and bad == np.inf:
            # ...on the stronger neighbour, certain (score 1)
            assert multi[0].score == 1.0
            np.testing.assert_array_equal(multi[0].keypoints[:, :2],
                                          np.tile([(3 + dx) * 16, (3 + dy) * 16], (17, 1)))
        else:
            # ...on the clean input's pose
            np.testing.assert_array_equal(multi[0].keypoints, clean[0].keypoints)
            assert multi[0].score == pytest.approx(1 / (1 + np.exp(-5.0)), abs=1e-6)


def test_a_nan_weighed_into_a_keypoint_scores_it_zero_not_the_whole_pose():
    # the keypoints sit half-way between cells, so the NaN has weight 1/4: that
    # keypoint's score is lost (0, as single-pose scores a NaN logit), the pose is not
    hm, off, mid = synthetic_pose(np.float64)
    off[...] = 8.0  # half a cell (stride 16) down and right, from every cell
    hm[3:5, 3:5, :] = 5.0
    hm[4, 4, 7] = np.nan
    poses = posefast.decode_multiple_poses(hm, off, mid[..., :32], mid[..., 32:], 16, 5, 0.5,
                                           refine_steps=0)
    ref = reference.multiple_poses(hm, off, mid[..., :32], mid[..., 32:], 16, 5, 0.5,
                                   refine_steps=0)
    assert len(poses) == len(ref) == 1
    assert poses[0].keypoints[7, 2] == 0.0
    assert poses[0].score == pytest.approx(16 / 17 / (1 + np.exp(-5.0)), abs=1e-6)
    assert poses[0].score == pytest.approx(ref[0][0], abs=1e-7)


@pytest.mark.parametrize("zp", [np.float32(2.5), np.float64(2.5), 2.5, np.float16(0.5),
                                float("nan"), float("inf"), True, "3", None, 2**31, -2**31 - 1])
def test_a_zero_point_that_is_not_a_32_bit_integer_is_refused(zp):
    hm, off, mid = synthetic_pose()
    q = Quantized(np.zeros((7, 8, 17), np.uint8), 0.1, zp)
    with pytest.raises(ValueError, match=r"heatmaps: Quantized\.zero_point"):
        posefast.decode_multiple_poses(q, off, mid[..., :32], mid[..., 32:], 16)
    with pytest.raises(ValueError, match=r"heatmaps: Quantized\.zero_point"):
        posefast.decode_single_pose(q, off, 16)


@pytest.mark.parametrize("zp", [np.float32(3.0), 3.0, np.int64(3), np.uint8(3), 3])
def test_integral_zero_points_of_any_type_decode_alike(zp):
    rng = np.random.default_rng(0)
    arr = rng.integers(0, 256, (7, 8, 17), dtype=np.uint8)
    hm, off, mid = synthetic_pose()
    want = posefast.decode_multiple_poses(Quantized(arr, 0.1, 3), off, mid[..., :32],
                                          mid[..., 32:], 16, 5, 0.1)
    got = posefast.decode_multiple_poses(Quantized(arr, 0.1, zp), off, mid[..., :32],
                                         mid[..., 32:], 16, 5, 0.1)
    assert [p.score for p in got] == [p.score for p in want]


@pytest.mark.parametrize("stride", [10**40, 2**16 + 1, np.int64(2**40)])
def test_a_huge_output_stride_is_refused(stride):
    hm, off, mid = synthetic_pose()
    with pytest.raises(ValueError, match=r"output_stride must be an integer in \[1, 65536\]"):
        posefast.decode_multiple_poses(hm, off, mid[..., :32], mid[..., 32:], stride)
    with pytest.raises(ValueError, match=r"output_stride must be an integer in \[1, 65536\]"):
        posefast.decode_single_pose(hm, off, stride)


def test_the_largest_output_stride_gives_finite_coordinates():
    hm, off, mid = synthetic_pose()
    poses = posefast.decode_multiple_poses(hm, off, mid[..., :32], mid[..., 32:], 2**16)
    assert np.all(np.isfinite(poses[0].keypoints))
    assert poses[0].keypoints[0, 0] == 3 * 2**16


@pytest.mark.parametrize("threshold", [0.0, 0.5, 0.2, 0.01, 0.9999, 1e-300])
@pytest.mark.parametrize("layout", ["hwc", "hwc-padded-cells", "chw"])
def test_float16_keys_pass_the_threshold_as_their_float32_values_do(threshold, layout):
    # float16 heatmaps are scanned by comparing the keys' bits as ordered integers; every
    # half is exactly a float32, so the same tensors as float32 (scanned by comparing
    # floats) must give the same poses bit for bit, whatever the keys: -0 and +0 at a
    # logit threshold of 0 (score 0.5), subnormals, infinities, NaN, the largest halves
    rng = np.random.default_rng(int(threshold * 1e4) + len(layout))
    h, w = 9, 13
    specials = np.array([0.0, -0.0, 6e-8, -6e-8, 1e-5, -1e-5, np.inf, -np.inf, np.nan,
                         65504.0, -65504.0, 0.5, -0.5, 2.0, 9.2, 9.21], np.float16)
    hm = rng.normal(-1.0, 4.0, (h, w, 17)).astype(np.float16)
    pick = rng.random(hm.shape) < 0.3
    hm[pick] = rng.choice(specials, pick.sum())
    off = rng.normal(0.0, 10.0, (h, w, 34)).astype(np.float16)
    mid = rng.normal(0.0, 20.0, (h, w, 64)).astype(np.float16)
    if layout == "hwc-padded-cells":
        hm = np.concatenate([hm, hm[..., :4]], axis=-1)[..., :17]
    half = [hm, off, mid[..., :32], mid[..., 32:]]
    if layout == "chw":
        half = [np.ascontiguousarray(np.moveaxis(t, -1, 0)) for t in half]
    single = [t.astype(np.float32) for t in half]
    args = dict(max_detections=50, score_threshold=threshold, nms_radius=0.0,
                layout="chw" if layout == "chw" else "hwc")
    a = posefast.decode_multiple_poses(*half, 16, **args)
    b = posefast.decode_multiple_poses(*single, 16, **args)
    assert len(a) == len(b)
    for p, q in zip(a, b):
        assert p.score == q.score and np.array_equal(p.keypoints, q.keypoints)


@pytest.mark.parametrize("key, found", [(-0.0, True), (0.0, True), (-6e-8, False), (6e-8, True)])
def test_float16_keys_at_a_zero_logit_threshold(key, found):
    # score_threshold 0.5 is a logit threshold of 0: -0 passes it (-0 >= 0), the
    # negative half nearest zero does not. Every key equal: every cell is a root, and
    # each pose scores sigmoid(key), 0.5 or just above or below it.
    h, w = 4, 5
    hm = np.full((h, w, 17), key, np.float16)
    zeros = [np.zeros((h, w, c), np.float16) for c in (34, 32, 32)]
    half = posefast.decode_multiple_poses(hm, *zeros, 16, max_detections=100,
                                          score_threshold=0.5, nms_radius=0.0)
    single = posefast.decode_multiple_poses(hm.astype(np.float32),
                                            *(z.astype(np.float32) for z in zeros), 16,
                                            max_detections=100, score_threshold=0.5,
                                            nms_radius=0.0)
    assert (len(half) > 0) == found
    assert len(half) == len(single)
    for p, q in zip(half, single):
        assert p.score == q.score and np.array_equal(p.keypoints, q.keypoints)
